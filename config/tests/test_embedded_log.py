"""`make test` rotates the embedded server's log before a run, never under a running session."""

import os

from config import embedded_log
from tests.secret_scan import ServerLog, prefix_pattern

LINE = b"2026-12-05 03:00:00.000 UTC [42] postgres@test_billing LOG:  statement: SELECT 1\n"


def test_rotation_keeps_the_tail_and_empties_the_log_the_server_goes_on_appending_to(tmp_path):
    log, previous = tmp_path / "log", tmp_path / "log.1"
    with open(log, "ab") as server:  # the postmaster's stderr: opened once, for appending
        server.write(LINE * 1000)
        server.flush()

        said = embedded_log.rotate(
            log=log, previous=previous, lock=tmp_path / "lock", keep_bytes=10 * len(LINE) + 5
        )

        assert "emptied" in said
        assert log.stat().st_size == 0
        assert previous.read_bytes() == LINE * 10  # whole lines only
        server.write(b"after the rotation\n")
        server.flush()
        assert log.read_bytes() == b"after the rotation\n"


def test_rotation_leaves_the_log_alone_while_a_session_holds_the_lock(tmp_path):
    log, lock = tmp_path / "log", tmp_path / "lock"
    log.write_bytes(LINE * 3)
    session = embedded_log.hold_for_reading(lock)
    try:
        said = embedded_log.rotate(log=log, previous=tmp_path / "log.1", lock=lock)
    finally:
        session.close()

    assert "another test session is reading it" in said
    assert log.read_bytes() == LINE * 3
    assert not (tmp_path / "log.1").exists()
    assert "emptied" in embedded_log.rotate(log=log, previous=tmp_path / "log.1", lock=lock)


def test_this_pytest_session_holds_the_lock_on_the_real_log(tmp_path):
    # The root conftest took the shared lock at the start of this session: a `make test`
    # started next to it now would not empty the log this session's secret scan reads.
    stand_in = tmp_path / "log"
    stand_in.write_bytes(LINE)

    said = embedded_log.rotate(log=stand_in, previous=tmp_path / "log.1", lock=embedded_log.LOCK)

    assert "another test session is reading it" in said
    assert stand_in.read_bytes() == LINE


def test_the_secret_scan_reads_a_rotated_log_from_its_start(tmp_path):
    log = tmp_path / "log"
    log.write_bytes(LINE * 50)
    embedded_log.rotate(log=log, previous=tmp_path / "log.1", lock=tmp_path / "lock")
    watched = ServerLog(log, str(log), prefix_pattern("%m [%p] %q%u@%d "))
    watched.mark()
    card = "".join(["4242", "4242", "4242", "4242"])
    # A logged statement, never run.
    entry = LINE.decode().replace("SELECT 1", f"INSERT INTO notes VALUES ('{card}')")  # noqa: S608
    with open(log, "ab") as server:
        server.write(entry.encode())

    findings, read = watched.scan(database="test_billing")

    assert (watched.start, read) == (0, os.path.getsize(log))
    assert [finding.kind for finding in findings] == ["card_number"]
