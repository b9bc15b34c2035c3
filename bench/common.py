"""What the suites share: a scratch database per run, the result rows and the one table
``python -m bench`` prints (the gunicorn on loopback is in ``bench.server``).

Databases: every suite works in a database of its own, cloned from ``bench_template`` (a
migrated, otherwise empty database kept between runs so the ~2 minute migration is paid once,
and migrated again each run in case the code gained migrations). The clone is dropped when
the suite ends, also after an error or Ctrl-C.

Nothing here imports Django at module level: the table and percentile functions are used by
``python -m bench`` and the smoke test without a database.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import operator
import os
import platform
import re
import signal
import statistics
import sys
import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "bench.settings"
TEMPLATE = "bench_template"
PR_SET_PDEATHSIG = 1


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C does (``finally`` blocks drop databases, stop servers)."""

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def die_with_parent() -> None:
    """``preexec_fn`` for our child processes: if we are killed outright (SIGKILL), the child
    gets SIGTERM instead of running on unattended."""
    # Not Linux (no libc.so.6): then only a SIGKILL of the parent leaves the child running.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_main(main) -> None:
    """A suite's entry point: Ctrl-C ends it with status 130 after its cleanup, no traceback."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"\n{Path(sys.argv[0]).stem}: interrupted; cleaned up.", file=sys.stderr)
        sys.exit(130)


def setup_django() -> None:
    """Setup for a suite's own process: the bench settings, and SIGTERM handled."""
    exit_on_sigterm()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    import django  # noqa: PLC0415 - Django is set up when the bench runs

    django.setup()


# --- results and the table ----------------------------------------------------------------

# A row's target: "ratio >= 0.5" (ours / baseline) or "ours < 50" (in the row's unit).
_TARGET = re.compile(r"(ratio|ours) (>=|<=|<|>) (\d+(?:\.\d+)?)")
_COMPARE = {">=": operator.ge, "<=": operator.le, "<": operator.lt, ">": operator.gt}


@dataclass(frozen=True)
class Result:
    """One row of the table: our figure, the baseline's, measured in the same run, and what
    the row should reach (``target``, see ``_TARGET``; empty for a row that only informs)."""

    suite: str
    metric: str
    ours: float
    baseline: float
    unit: str
    baseline_name: str
    higher_is_better: bool = True
    target: str = ""

    def __post_init__(self):
        if self.target and not _TARGET.fullmatch(self.target):
            raise ValueError(f"a target reads 'ratio >= 0.5' or 'ours < 50', not {self.target!r}")

    @property
    def ratio(self) -> float:
        return ratio(self.ours, self.baseline)

    @property
    def met(self) -> bool | None:
        """Whether this run reached the target; None without one."""
        if not self.target:
            return None
        subject, op, value = _TARGET.fullmatch(self.target).groups()
        figure = self.ratio if subject == "ratio" else self.ours
        return not math.isnan(figure) and _COMPARE[op](figure, float(value))

    def to_json(self) -> dict:
        """The row with its ratio (null when there is no baseline) and ``met``."""
        measured = self.ratio
        row = asdict(self)
        return {
            "suite": self.suite,
            "metric": self.metric,
            "ours": self.ours,
            "baseline": self.baseline,
            "ratio": None if math.isnan(measured) else measured,
            "target": self.target,
            "met": self.met,
            **row,
        }


def ratio(ours: float, baseline: float) -> float:
    """ours / baseline; NaN when the baseline is zero (nothing to compare against)."""
    if not baseline:
        return math.nan
    return ours / baseline


def percentile(values, q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between the closest ranks,
    as numpy's default; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    position = (len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def format_number(value: float) -> str:
    """Three significant figures at most, thousands separated; big numbers keep their units."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_ratio(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f}x" if value >= 0.01 else f"{value:.4f}x"


TABLE_HEADERS = ("suite", "metric", "ours", "baseline", "ratio", "target", "met", "baseline is")


def format_target(result: Result) -> str:
    """``>= 0.50x`` for a ratio target, ``< 50 ms`` for one on our figure, ``-`` for none."""
    if not result.target:
        return "-"
    subject, op, value = _TARGET.fullmatch(result.target).groups()
    if subject == "ratio":
        return f"{op} {float(value):.2f}x"
    return f"{op} {float(value):g} {result.unit}"


def format_met(result: Result) -> str:
    return {None: "-", True: "met", False: "NOT met"}[result.met]


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    return [
        (
            r.suite,
            r.metric,
            f"{format_number(r.ours)} {r.unit}",
            f"{format_number(r.baseline)} {r.unit}",
            format_ratio(r.ratio),
            format_target(r),
            format_met(r),
            r.baseline_name,
        )
        for r in results
    ]


def format_table(results: list[Result]) -> str:
    """A Markdown table (readable in a terminal, pasted as is into the README)."""
    rows = [TABLE_HEADERS, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_HEADERS))]
    right = {2, 3, 4, 5}  # numbers line up on the right

    def line(row):
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "| " + " | ".join(cells) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i in right else ("-" * (w + 2)) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def write_results(path: str | None, results: list[Result]) -> None:
    """The rows as a JSON list (``Result.to_json``: suite, metric, ours, baseline, ratio,
    target, met, unit, baseline_name, higher_is_better)."""
    if path:
        Path(path).write_text(json.dumps([r.to_json() for r in results], indent=1))


_RESULT_FIELDS = {f.name for f in fields(Result)}


def read_results(path: Path) -> list[Result]:
    """Rows written by ``write_results`` (the computed ratio and met are read again from the
    figures, not trusted from the file)."""
    return [
        Result(**{k: v for k, v in row.items() if k in _RESULT_FIELDS})
        for row in json.loads(path.read_text())
    ]


def machine_info(postgres_version: str) -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    from django.conf import settings  # noqa: PLC0415 - Django is set up when the bench runs

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{when}; {os.cpu_count()} cores ({cpu}); PostgreSQL {postgres_version}; "
        f"Python {platform.python_version()}; {platform.system()} {platform.release()}; "
        f"cache: {settings.BENCH_CACHE}"
    )


# --- databases ------------------------------------------------------------------------------


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    return cursor.fetchone() is not None


def _use(name: str) -> None:
    from django.db import connection, connections  # noqa: PLC0415 - Django is set up when the bench runs

    connection.close()
    connections["default"].settings_dict["NAME"] = name


def ensure_template() -> None:
    """Create ``bench_template`` if missing and bring it up to the code's migrations (a
    fraction of a second when it is current). A template that records a migration the code no
    longer has (renamed or removed since it was applied), or that cannot be migrated, is a
    stale cache: it is dropped and built again."""
    from django.core.management import call_command  # noqa: PLC0415 - Django is set up when the bench runs
    from django.db import connections  # noqa: PLC0415 - Django is set up when the bench runs

    original = connections["default"].settings_dict["NAME"]
    for attempt in (1, 2):
        _create_template_if_missing()
        _use(TEMPLATE)
        try:
            if attempt == 1 and _template_is_stale():
                raise RuntimeError("it records migrations the code no longer has")
            call_command("migrate", verbosity=0, interactive=False)
            return
        except Exception as exc:
            if attempt == 2:
                raise
            print(f"{TEMPLATE} is stale ({exc}); building it again…", flush=True)
        finally:
            _use(original)
        drop_database(TEMPLATE)


def _create_template_if_missing() -> None:
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    with connection.cursor() as cursor:
        if not _exists(cursor, TEMPLATE):
            print(f"Creating and migrating {TEMPLATE} (once; kept for later runs)…", flush=True)
            cursor.execute(f'CREATE DATABASE "{TEMPLATE}"')


def _template_is_stale() -> bool:
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs
    from django.db.migrations.loader import MigrationLoader  # noqa: PLC0415 - Django is set up when the bench runs

    loader = MigrationLoader(connection)
    return bool(set(loader.applied_migrations) - set(loader.disk_migrations))


def database_url(name: str) -> str:
    """The URL of database ``name`` on the server the settings use (for child processes)."""
    from config.env import env  # noqa: PLC0415 - Django is set up when the bench runs

    base = env.str("DATABASE_URL", default="")
    if not base:
        from config.embedded_db import embedded_database_url  # noqa: PLC0415 - Django is set up when the bench runs

        base = embedded_database_url()
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(name: str) -> None:
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    with connection.cursor() as cursor:
        # FORCE ends connections a killed gunicorn worker may have left behind.
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_database(name: str, *, keep: bool = False):
    """A fresh clone of the migrated template, used by this process's Django connection
    while the block runs; dropped afterwards unless ``keep``. Yields its URL."""
    from django.db import connection, connections  # noqa: PLC0415 - Django is set up when the bench runs

    if not re.fullmatch(r"bench_[a-z0-9_]+", name):
        raise ValueError(f"scratch database names start with bench_: {name!r}")
    from django.core.cache import cache  # noqa: PLC0415 - Django is set up when the bench runs

    ensure_template()
    cache.clear()  # the bench's own cache (bench.settings): nothing from another database
    original = connections["default"].settings_dict["NAME"]
    with connection.cursor() as cursor:
        if _exists(cursor, name):
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    _use(name)
    try:
        yield database_url(name)
    finally:
        _use(original)
        if not keep:
            drop_database(name)


def postgres_version() -> str:
    from django.db import connection  # noqa: PLC0415 - Django is set up when the bench runs

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def bench_queue_messages() -> int:
    """Messages waiting in the bench's own broker folder (see bench.settings)."""
    from django.conf import settings  # noqa: PLC0415 - Django is set up when the bench runs

    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_out"])
    return sum(1 for _ in folder.glob("*.msg"))


def empty_bench_queue() -> None:
    """Delete what the bench queued: no worker ever runs on the bench's broker folder."""
    from django.conf import settings  # noqa: PLC0415 - Django is set up when the bench runs

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    if (
        not settings.CELERY_BROKER_URL.startswith("filesystem://")
        or "bench" not in options["data_folder_out"]
    ):
        raise RuntimeError("empty_bench_queue only empties the bench settings' own folder")
    for key in ("data_folder_out", "processed_folder"):
        for message in Path(options[key]).glob("*.msg"):
            message.unlink(missing_ok=True)


def alternating_medians(fns, repeat: int) -> list[float]:
    """The median seconds of each of ``fns``, timed in ``repeat`` rounds that run each once in
    turn (after one warm-up round), so a change in the machine's load weighs on all alike."""
    for fn in fns:
        fn()  # warm-up
    runs: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, times in zip(fns, runs, strict=True):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return [statistics.median(times) for times in runs]
