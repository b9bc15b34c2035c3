"""The embedded server's log, ``.data/postgres/log``, rotated by ``make test`` before each run.

The postmaster writes its stderr there (``pg_ctl -l``, a descriptor opened for appending), and
a test session adds 15-20 MB to it: the secret scan switches statement logging on for its test
database (tests/secret_scan.py). Rotation keeps the last ``KEEP_BYTES`` in
``.data/postgres-log.1`` and empties the file in place: the server goes on appending to the
same, now empty, file. (Renaming it would free nothing: the server would write on into the
renamed file.)

A session reads the log at its end from the offset it noted at its start, so the log must not
be emptied while one runs, and several people run tests on one server at once. Each pytest
session holds a shared lock on ``.data/postgres-log.lock`` (the root conftest); rotation takes
it exclusively without waiting and leaves the log alone when a session holds it.

``python -m config.embedded_log`` rotates and says what it did.
"""

import fcntl
import os
import shutil
from pathlib import Path
from typing import IO

from config.paths import DATA_DIR

LOG = DATA_DIR / "postgres" / "log"
PREVIOUS = DATA_DIR / "postgres-log.1"
LOCK = DATA_DIR / "postgres-log.lock"
KEEP_BYTES = 16 << 20


def hold_for_reading(lock: Path = LOCK) -> IO:
    """Take the shared lock that keeps rotation away; it lasts until the returned file is
    closed, at the latest when the process ends."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock, "a")  # noqa: SIM115 (held for the session, closed with the process)
    fcntl.flock(handle, fcntl.LOCK_SH)
    return handle


def rotate(
    *, log: Path = LOG, previous: Path = PREVIOUS, lock: Path = LOCK, keep_bytes: int = KEEP_BYTES
) -> str:
    """Keep the log's last ``keep_bytes`` (from a line start) in ``previous`` and empty the
    log in place, unless a test session holds the lock. Returns what was done."""
    if not log.exists():
        return f"{log} does not exist: nothing to rotate"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as guard:
        try:
            fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return (
                f"{log} left as it is ({log.stat().st_size / 1e6:.1f} MB): another test "
                f"session is reading it"
            )
        with open(log, "r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - keep_bytes))
            if size > keep_bytes:
                handle.readline()  # the rest of a cut line
            aside = previous.with_name(previous.name + ".part")
            with open(aside, "wb") as out:
                shutil.copyfileobj(handle, out)
                kept = out.tell()
            os.replace(aside, previous)
            handle.truncate(0)
    return f"{log} emptied ({size / 1e6:.1f} MB); its last {kept / 1e6:.1f} MB are in {previous}"


if __name__ == "__main__":
    print(rotate())
