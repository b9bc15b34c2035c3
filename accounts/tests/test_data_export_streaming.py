"""Download my data streams: the document is written as its rows are read, so a customer with
a long history gets all of it, with memory that does not grow with the history."""

import json
import tracemalloc

import pytest
from django.db import connection

from accounts import data_export
from core.models import AuditLog
from credits.models import CreditBalance, CreditTransaction

pytestmark = pytest.mark.django_db


def _history(user, rows: int) -> None:
    """``rows`` ledger rows for ``user``: a grant of ``rows`` - 1 credits, then that many
    consumptions of one credit. Nothing is left, so no lot is needed for the books to agree
    (and a test transaction is spared a foreign-key check per lot movement at its end)."""
    CreditBalance.objects.update_or_create(user=user, defaults={"balance": 0})
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO credits_credittransaction (user_id, kind, operation, quantity, amount,
                                                   balance_after, details, idempotency_key,
                                                   created_at)
            SELECT %(user)s, CASE WHEN g = 0 THEN 'GRANT' ELSE 'CONSUME' END,
                   CASE WHEN g = 0 THEN '' ELSE 'AI_TEXT_CHAT' END,
                   CASE WHEN g = 0 THEN NULL ELSE 1 END,
                   CASE WHEN g = 0 THEN %(rows)s - 1 ELSE -1 END, %(rows)s - 1 - g,
                   '{"via": "api"}', '', now() - interval '400 days' + g * interval '1 minute'
              FROM generate_series(0, %(rows)s - 1) g""",
            {"user": user.pk, "rows": rows},
        )


def _download(client, user) -> tuple[int, dict[str, int], int]:
    """Stream the download as ``user``: (peak traced memory, ledger rows by kind, bytes),
    keeping nothing of the body but counts."""
    client.force_login(user)
    kinds = {"GRANT": 0, "CONSUME": 0}
    size, tail = 0, ""
    tracemalloc.start()
    try:
        response = client.get("/account/export/download/")
        assert response.status_code == 200 and response.streaming
        for piece in response.streaming_content:
            size += len(piece)
            lines = (tail + piece.decode()).split("\n")
            tail = lines.pop()
            for line in lines:
                for kind in kinds:
                    if f'"kind": "{kind}"' in line:
                        kinds[kind] += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, kinds, size


SMALL, LARGE = 20_000, 100_000  # ledger rows; tracing every allocation is slow


def test_download_streams_a_long_ledger_with_memory_that_does_not_grow(
    client, customer, other_customer
):
    _history(customer, SMALL)
    _history(other_customer, LARGE)

    small_peak, small_kinds, small_size = _download(client, customer)
    large_peak, large_kinds, large_size = _download(client, other_customer)

    # Complete: every ledger row is there, and the large body is ~5x the small one.
    assert small_kinds == {"GRANT": 1, "CONSUME": SMALL - 1}
    assert large_kinds == {"GRANT": 1, "CONSUME": LARGE - 1}
    assert large_size > 4.5 * small_size
    # Bounded: a few chunks of rows at a time, whatever the history's length.
    assert large_peak < 30 * 1024 * 1024, large_peak
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)


def test_the_streamed_document_is_one_json_document_with_every_section(client, customer):
    _history(customer, 3_000)
    client.force_login(customer)

    response = client.get("/account/export/download/")
    document = json.loads(b"".join(response.streaming_content))

    assert set(data_export.sections()) <= set(document)
    ledger = document["credits"]["ledger"]
    assert len(ledger) == 3_000 and ledger[0]["amount"] == 2_999
    assert ledger[-1]["balance_after"] == document["credits"]["balance"] == 0
    assert AuditLog.objects.filter(actor=customer, action="EXPORT").count() == 1


def test_the_api_streams_the_same_document(customer_api, customer):
    _history(customer, 500)

    response = customer_api.get("/api/v1/me/export/")

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/json"
    document = json.loads(b"".join(response.streaming_content))
    assert len(document["credits"]["ledger"]) == 500


@pytest.mark.parametrize("server_side_cursors", [True, False])
def test_rows_reads_in_chunks_with_or_without_server_side_cursors(
    customer, monkeypatch, server_side_cursors
):
    _history(customer, 45)
    monkeypatch.setitem(
        connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", not server_side_cursors
    )

    rows = CreditTransaction.objects.filter(user=customer).order_by("id")
    read = list(data_export.rows(rows, lambda row: row.balance_after, chunk_size=10))
    values = list(data_export.rows(rows.values("id", "amount"), chunk_size=10))

    assert read == list(range(44, -1, -1))
    assert [row["amount"] for row in values] == [44] + [-1] * 44


def test_json_pieces_writes_nested_iterators_as_arrays():
    value = {
        "a": 1,
        "rows": (row for row in [{"x": 1}, {"x": 2}]),
        "empty": iter([]),
        "nested": {"more": iter([[1, 2], "s"])},
        "none": None,
    }

    text = "".join(data_export.json_pieces(value))

    assert json.loads(text) == {
        "a": 1,
        "rows": [{"x": 1}, {"x": 2}],
        "empty": [],
        "nested": {"more": [[1, 2], "s"]},
        "none": None,
    }
