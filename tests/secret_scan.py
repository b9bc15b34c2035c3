"""Card numbers, API keys and webhook secrets must never be stored or logged.

At the end of a pytest session this scan reads what the session really wrote:

* every statement the test database executed that modifies data (``log_statement = 'mod'``,
  switched on for the test database only) and every error the server logged for it, from the
  PostgreSQL server's own log. Most tests roll their transaction back, so the rows they wrote
  are gone at the end; the server log still has each INSERT and UPDATE with its values (the
  psycopg backend binds parameters on the client, so the statement text carries them);
* the Python log of the session (every record at INFO and above, ``artifacts/test-logs/``);
* what is committed in the test database at the end: every text, varchar, json and jsonb
  column (and arrays of them) of every table.

What counts as a finding:

* a card number: a run of 13 to 19 digits that passes the Luhn check, written plainly or in
  the groups people type (4-4-4-4[-1..3] or Amex/Diners 4-6-4/5, one kind of separator, space
  or dash). Contexts that cannot be a card are excluded (see ``_not_a_card``);
* one of our API keys in the clear (``bk_<8 hex>_<token>``; only the prefix and a SHA-256 of
  the key are meant to be stored);
* a Stripe secret or restricted key (``sk_test_``/``sk_live_``/``rk_test_``/``rk_live_``) or
  a webhook signing secret (``whsec_``).

Findings are reported with their exact place and the value masked, and fail the session.
"""

import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import DatabaseError, transaction

from core.redaction import luhn_valid  # noqa: F401 - other apps' tests import it from here
from tests.secret_patterns import PREFILTER_SQL, Finding, context_of, find, find_in_bytes, scan_file

# --- the PostgreSQL server log ------------------------------------------------------------

_TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Za-z0-9+:-]+)?"
_PREFIX_ESCAPES = {
    "m": _TIMESTAMP,
    "t": _TIMESTAMP,
    "s": _TIMESTAMP,
    "n": r"\d+(?:\.\d+)?",
    "p": r"\d+",
    "l": r"\d+",
    "x": r"\d+",
    "Q": r"-?\d+",
    "c": r"[0-9a-f]+\.[0-9a-f]+",
    "v": r"[0-9/-]*",
    "e": r"[0-9A-Z]{5}",
    "d": r"(?P<db>[^ ]*?)",
    "u": r"[^ ]*?",
    "h": r"[^ ]*?",
    "r": r"[^ ]*?",
    "a": r".*?",
    "i": r".*?",
    "b": r".*?",
    "%": "%",
}
_LEVELS = (
    r"(?P<level>DEBUG\d|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|QUERY"
    r"|CONTEXT|STATEMENT|LOCATION):  "
)


def prefix_pattern(log_line_prefix: str) -> re.Pattern | None:
    """A regex for one log entry's first line under ``log_line_prefix``, with the database
    name as group ``db``; None when the prefix does not name the database (%d)."""
    if "%d" not in log_line_prefix:
        return None
    parts, optional = [], 0
    tokens = re.split(r"(%-?\d*[a-zA-Z%])", log_line_prefix)
    for token in tokens:
        if not token:
            continue
        if token.startswith("%") and len(token) > 1:
            letter = token[-1]
            if letter == "q":  # non-session processes stop here: the rest is optional
                parts.append("(?:")
                optional += 1
                continue
            parts.append(r"\s*" + _PREFIX_ESCAPES.get(letter, r"[^ ]*?") + r"\s*")
        else:
            parts.append(re.escape(token))
    parts.append(")?" * optional)
    return re.compile("".join(parts) + _LEVELS)


def _line_at(data: bytes, start: int) -> str:
    end = data.find(b"\n", start)
    return data[start : end if end != -1 else len(data)].decode("utf-8", errors="replace")


def scan_server_log(
    data: bytes, *, pattern: re.Pattern, database: str, source: str, first_line: int = 1
) -> list[Finding]:
    """Findings in the entries of ``database`` in a chunk of the server log.

    Only the entries around a hit are parsed: an entry starts at a line with the prefix, and
    the lines after it without one (a statement's own newlines, which PostgreSQL writes as
    newline + tab) are part of it.
    """
    findings, counted_to, line = [], 0, first_line
    for offset, hit, context in find_in_bytes(data):
        start = data.rfind(b"\n", 0, offset) + 1
        while (entry := pattern.match(_line_at(data, start))) is None and start > 0:
            start = data.rfind(b"\n", 0, start - 1) + 1
        if entry is None or entry.group("db") != database:
            continue
        line += data.count(b"\n", counted_to, start)
        counted_to = start
        findings.append(Finding(hit.kind, f"{source}:{line}", hit.masked, context))
    return findings


@dataclass
class ServerLog:
    """Where the server writes its log and how far it had got when the session started."""

    path: Path
    shown_as: str
    pattern: re.Pattern
    start: int = 0
    first_line: int = 1

    def mark(self) -> None:
        """Remember the end of the log as it is now, and its line number."""
        lines = 0
        with open(self.path, "rb") as handle:
            while block := handle.read(16 << 20):
                lines += block.count(b"\n")
                self.start += len(block)
        self.first_line = lines + 1

    def scan(self, *, database: str, chunk_bytes: int = 32 << 20) -> tuple[list[Finding], int]:
        """Findings in the entries written since ``mark()``; also the number of bytes read."""
        findings, read, line = [], 0, self.first_line
        with open(self.path, "rb") as handle:
            if handle.seek(0, os.SEEK_END) < self.start:
                raise OSError("it was truncated or rotated during the session")
            handle.seek(self.start)
            carry = b""
            while True:
                block = handle.read(chunk_bytes)
                data = carry + block
                if not block:
                    cut = len(data)
                else:
                    # Cut before the last entry's first line, so no entry is split.
                    cut = data.rfind(b"\n2", 0, len(data))
                    cut = cut + 1 if cut > 0 else 0
                    if cut == 0:
                        carry = data
                        continue
                findings.extend(
                    scan_server_log(
                        data[:cut],
                        pattern=self.pattern,
                        database=database,
                        source=self.shown_as,
                        first_line=line,
                    )
                )
                line += data.count(b"\n", 0, cut)
                read += cut
                carry = data[cut:]
                if not block:
                    return findings, read


def locate_server_log(connection) -> tuple[ServerLog | None, str]:
    """The server's log file if this process can read it, else None and why not.

    With ``logging_collector`` on, ``pg_current_logfile()`` names the file. Without it (the
    embedded server, Debian's clusters) the postmaster writes to its stderr: on this machine
    that is /proc/<postmaster pid>/fd/2, which also reaches a file deleted since.
    """

    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('log_line_prefix'), pg_current_logfile(), "
                "current_setting('data_directory')"
            )
            prefix, current, data_directory = cursor.fetchone()
    except DatabaseError as exc:
        return None, f"the server's log settings cannot be read ({str(exc).strip()})"
    pattern = prefix_pattern(prefix)
    if pattern is None:
        return None, (
            f"log_line_prefix {prefix!r} does not include %d, so this database's "
            f"lines cannot be told from other databases'"
        )
    data_directory = Path(data_directory)
    if current:
        path = Path(current) if Path(current).is_absolute() else data_directory / current
        if os.access(path, os.R_OK):
            return ServerLog(path, str(path), pattern), ""
        return None, f"the server logs to {path}, which this process cannot read"
    try:
        pid = int((data_directory / "postmaster.pid").read_text().split()[0])
        stderr = Path(f"/proc/{pid}/fd/2")
        target = os.readlink(stderr)
        with open(stderr, "rb"):
            pass
    except (OSError, ValueError, IndexError) as exc:
        return None, (
            f"the server's log is not reachable from this machine "
            f"(data directory {data_directory}: {exc.__class__.__name__}: {exc})"
        )
    if not target.startswith("/") or target.startswith("/dev/"):
        return None, f"the server writes its log to {target}, not to a file"
    return ServerLog(stderr, f"{target} (PostgreSQL server log)", pattern), ""


# --- committed rows -----------------------------------------------------------------------

_TEXT_TYPES = (
    "text",
    "varchar",
    "bpchar",
    "json",
    "jsonb",
    "citext",
    "_text",
    "_varchar",
    "_bpchar",
    "_json",
    "_jsonb",
)


def scan_database(cursor) -> tuple[list[Finding], int]:
    """Findings in every text-like column of every table; also the number of tables read."""
    cursor.execute(
        """
        SELECT c.oid, n.nspname, c.relname,
               array_agg(a.attname::text ORDER BY a.attnum),
               (SELECT a2.attname FROM pg_index i
                  JOIN pg_attribute a2 ON a2.attrelid = i.indrelid AND a2.attnum = i.indkey[0]
                 WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1)
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          JOIN pg_type t ON t.oid = a.atttypid
         WHERE c.relkind IN ('r', 'p') AND t.typname = ANY(%s)
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'
         GROUP BY c.oid, n.nspname, c.relname
         ORDER BY n.nspname, c.relname""",
        [list(_TEXT_TYPES)],
    )
    tables = cursor.fetchall()
    findings = []
    for _oid, schema, table, columns, pk in tables:
        ident = f'"{schema}"."{table}"'
        row_id = f'"{pk}"::text' if pk else "ctid::text"
        values = ", ".join(f'"{column}"::text' for column in columns)
        where = " OR ".join(f'"{column}"::text ~ %s' for column in columns)
        cursor.execute(
            f"SELECT {row_id}, {values} FROM {ident} WHERE {where}",  # noqa: S608
            [PREFILTER_SQL] * len(columns),
        )
        for row in cursor.fetchall():
            for column, value in zip(columns, row[1:], strict=True):
                for hit in find(value or ""):
                    place = f"{schema}.{table}.{column} ({pk or 'ctid'}={row[0]})"
                    findings.append(Finding(hit.kind, place, hit.masked, context_of(value, hit)))
    return findings, len(tables)


# --- the pytest plugin --------------------------------------------------------------------

MAX_SHOWN = 25


@dataclass(eq=False)  # pluggy keeps plugins in sets: hashed by identity
class SecretScanPlugin:
    """Registered by the root conftest; its ``django_db_setup`` calls ``watch_database`` once
    the test database exists and ``scan_database`` before it goes away."""

    python_log: Path | None  # None: pytest's logging plugin is off (-p no:logging)
    findings: list[Finding] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    unscanned: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reattached: int = 0
    database: str | None = None
    server_log: ServerLog | None = None

    def watch_database(self, connection) -> None:
        """Log every data-modifying statement of the test database from now on."""

        started = time.monotonic()
        self.database = connection.settings_dict["NAME"]
        self.server_log, why = locate_server_log(connection)
        if self.server_log is None:
            self.unscanned.append(f"statements of {self.database}: {why}")
            return
        with connection.cursor() as cursor:
            try:
                cursor.execute(
                    f"ALTER DATABASE {connection.ops.quote_name(self.database)} "
                    f"SET log_statement = 'mod'"
                )
                cursor.execute("SET log_statement = 'mod'")  # this connection is already open
            except DatabaseError as exc:
                self.server_log = None
                self.unscanned.append(
                    f"statements of {self.database}: statement logging "
                    f"cannot be switched on ({str(exc).strip()})"
                )
                return
        try:
            self.server_log.mark()
        except OSError as exc:
            self.server_log = None
            self.unscanned.append(
                f"statements of {self.database}: the server log cannot be read ({exc})"
            )
        self.seconds += time.monotonic() - started

    def scan_database(self, connection) -> None:
        started = time.monotonic()
        with connection.cursor() as cursor:
            if self.server_log is not None:
                cursor.execute(
                    f"ALTER DATABASE {connection.ops.quote_name(self.database)} RESET log_statement"
                )
                try:
                    findings, read = self.server_log.scan(database=self.database)
                except OSError as exc:
                    self.unscanned.append(
                        f"statements of {self.database}: the server log "
                        f"cannot be read any more ({exc})"
                    )
                else:
                    self.findings += findings
                    self.scanned.append(
                        f"{read / 1e6:.2f} MB of {self.database}'s statements"
                        f" and errors in {self.server_log.shown_as}"
                    )
            findings, tables = scan_database(cursor)
        self.findings += findings
        self.scanned.append(f"committed rows of {tables} tables in {self.database}")
        self.seconds += time.monotonic() - started

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        self._keep_python_log(item.config)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item):
        self._keep_python_log(item.config)

    def _keep_python_log(self, config) -> None:
        """django.setup() run again (get_wsgi_application() does, e.g. in a test module)
        re-applies LOGGING: dictConfig closes every handler and empties the root logger's, so
        pytest's log file would silently stop. Reopen it (appending) and put it back."""
        plugin = config.pluginmanager.get_plugin("logging-plugin")
        handler = getattr(plugin, "log_file_handler", None)
        if self.python_log is None or handler is None:
            return
        root = logging.getLogger()
        if handler.stream is None:
            handler.setStream(open(self.python_log, "a", encoding="utf-8"))  # noqa: SIM115
            self.reattached += 1
        if handler not in root.handlers:
            root.addHandler(handler)
            self.reattached += 1

    @pytest.hookimpl(trylast=True)  # after the session's fixtures (the database) are torn down
    def pytest_sessionfinish(self, session):
        started = time.monotonic()
        if self.python_log is None:
            self.unscanned.append("the Python log: pytest's logging plugin is disabled")
        elif self.python_log.exists():
            self.findings += scan_file(self.python_log)
            again = (
                f" (its handler, dropped by a logging reconfiguration, was put back "
                f"{self.reattached} time(s))"
                if self.reattached
                else ""
            )
            self.scanned.append(f"the Python log {self.python_log}{again}")
        else:
            self.unscanned.append(f"the Python log: {self.python_log} was not written")
        if self.database is None:
            self.scanned.append("no statements or rows: no test used the database")
        self.seconds += time.monotonic() - started
        if self.failed:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @property
    def failed(self) -> bool:
        return bool(self.findings) or (
            bool(self.unscanned) and os.environ.get("REQUIRE_SERVICES") == "1"
        )

    def pytest_terminal_summary(self, terminalreporter):
        write = terminalreporter.write_line
        terminalreporter.section("secret scan", sep="-", red=self.failed, green=not self.failed)
        for item in self.scanned:
            write(f"scanned: {item}")
        for item in self.unscanned:
            write(f"NOT SCANNED: {item}", yellow=True, bold=True)
        if self.unscanned and os.environ.get("REQUIRE_SERVICES") == "1":
            write("FAILED: REQUIRE_SERVICES=1 requires every source to be scanned", red=True)
        if self.findings:
            write(
                f"FAILED: {len(self.findings)} card number(s) or secret(s) stored or logged "
                f"in plaintext:",
                red=True,
                bold=True,
            )
            for finding in self.findings[:MAX_SHOWN]:
                write(f"  {finding}")
            if len(self.findings) > MAX_SHOWN:
                write(f"  ... and {len(self.findings) - MAX_SHOWN} more")
        elif not self.failed:
            write("no card numbers, API keys or Stripe secrets found")
        write(f"scan time: {self.seconds:.1f}s")
