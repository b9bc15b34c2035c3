"""The detector behind the end-of-session secret scan (tests/secret_scan.py).

Test values are built from parts or computed so that no statement this file sends to the
database, and nothing it logs, carries a card number or a secret itself: the session's own
scan reads both.
"""

import re

import pytest
from django.db import connection

from accounts.models import generate_api_key
from core.dbroles import as_owner
from tests import secret_scan
from tests.secret_patterns import find, luhn_valid
from tests.secret_scan import prefix_pattern, scan_server_log

VISA = "4242424242424242"


def kinds(text: str) -> list[str]:
    return [hit.kind for hit in find(text)]


@pytest.mark.parametrize(
    "number",
    [
        VISA,
        "4111111111111111",
        "5555555555554444",
        "2223003122003222",  # Visa, Mastercard
        "378282246310005",
        "6011111111111117",
        "3056930009020004",  # Amex, Discover, Diners
        "4222222222222",  # 13-digit Visa
        "6200000000000000000",  # 19 digits
    ],
)
def test_luhn_valid_card_numbers_are_found(number):
    assert luhn_valid(number)
    assert kinds(f"note: {number}.") == ["card_number"]
    assert kinds(f'{{"pan": "{number}"}}') == ["card_number"]
    assert kinds(f"VALUES ('{number}', 1)") == ["card_number"]


def test_card_numbers_in_urls_outside_the_path_segments_are_found():
    assert kinds(f"GET /checkout/?pan={VISA} HTTP/1.1") == ["card_number"]
    assert kinds(f"/orders/{VISA}-x/") == ["card_number"]  # not a whole segment


@pytest.mark.parametrize(
    "written",
    [
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "3782 822463 10005",
        "3782-822463-10005",
        "6200-0000-0000-0000-000",
    ],
)
def test_card_numbers_in_typed_groups_are_found(written):
    assert kinds(f"card {written} exp 12/30") == ["card_number"]


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # fails the Luhn check
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits
        "4242 4242-4242 4242",  # mixed separators: not one typed number
        "42424 24242 42424 2",  # not card grouping
    ],
)
def test_digit_runs_that_are_not_card_numbers(text):
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text",
    [
        f"evt_{VISA}",
        f"cus_{VISA}x",
        f"pi_3Mt{VISA}",  # inside Stripe ids
        f"a3f{VISA}9c",  # inside a hex digest or token
        f"{VISA}.25",
        f"12.{VISA}",  # decimals
        "+4222222222222",  # a phone number in E.164 form (the plus), though its digits pass Luhn
        "1763791200001",
        "1763791200000007",  # Unix time in ms and µs (Luhn-valid ones)
        "20261122060001",  # a compact date-time (Luhn-valid)
        "0000000000000",
        "0000000000000000018",  # zero-padded counters
        "123e4567-e89b-12d3-a456-426614174000",
        "12345678-1234-1234-1234-123456789012",  # UUIDs
        "ORD-2026-000123",
        "2026-11-22 06:00:00.123456+00",
        f"Not Found: /api/v1/chat/{VISA}/messages/",
        f"Not Found: /api/v1/orders/{VISA}",
        f"GET /api/v1/orders/{VISA}?page=2 HTTP/1.1",  # ids in URL paths (the fuzzer's bigints)
    ],
)
def test_non_card_contexts_are_excluded(text):
    digits = re.sub(r"\D", "", text)
    if 13 <= len(digits) <= 19 and text.isdigit():
        assert luhn_valid(digits), "the exclusion is only meaningful for a Luhn-valid run"
    assert kinds(text) == []


def test_our_api_keys_are_found_but_what_is_stored_of_them_is_not():
    raw, prefix = generate_api_key()
    assert kinds(f"Authorization: Bearer {raw}") == ["api_key"]
    assert kinds(f'{{"key": "{raw}"}}') == ["api_key"]
    hashed = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    assert kinds(f"prefix={prefix} hashed_key={hashed} bk_{prefix}…") == []


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        ("sk_" + "test_51DoubleLocalStripeDoubleKey", "stripe_secret_key"),
        ("sk_" + "live_4eC39HqLyjWDarjtT1zdp7dc", "stripe_secret_key"),
        ("rk_" + "live_51H2x3Kabcdefgh", "stripe_secret_key"),
        ("whsec_" + "test_billing_double", "webhook_secret"),
        ("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "webhook_secret"),
    ],
)
def test_stripe_secrets_are_found(secret, kind):
    assert kinds(f"STRIPE={secret};") == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "STRIPE_SECRET_KEY must start with sk_ or rk_",
        "STRIPE_WEBHOOK_SECRET must start with whsec_",
        "pk_" + "test_51DoubleLocalStripeDoubleKey",  # publishable keys are public
        "sk_" + "test_...",  # a placeholder in a message
        "desk_" + "test_abcdefghijkl",  # part of another word
    ],
)
def test_secret_lookalikes_are_not_findings(text):
    assert kinds(text) == []


def test_masking_shows_only_the_public_part():
    card = find(f"x {VISA} y")[0]
    assert card.masked == "4242********4242 (16 digits)"
    raw, prefix = generate_api_key()
    key = find(raw)[0]
    assert key.masked.startswith(f"bk_{prefix}_") and raw[16:] not in key.masked


def test_a_large_file_is_scanned_through_its_candidates_only(tmp_path):
    """Logs are searched for candidates first (digits masked, plain substring search); the
    findings and their line numbers must be those of the patterns themselves."""
    filler = "2026-11-22 06:00:00.001 UTC INFO billing order ORD-2026-000123 paid €19,00 é\n"
    lines = [filler] * 20_000
    lines[7] = f"note: 4242 4242 4242 4242 — déjà vu {VISA}\n"
    lines[12_345] = "x" * 150 + " whsec_" + "abcdefghijklmnop" + "\n"
    lines[19_999] = "9" * 300 + " " + "sk_" + "test_abcdefghijklmnop\n"  # a long run is no card
    path = tmp_path / "session.log"
    path.write_text("".join(lines), encoding="utf-8")
    found = [(f.kind, f.place) for f in secret_scan.scan_file(path)]
    assert found == [
        ("card_number", f"{path}:8"),
        ("card_number", f"{path}:8"),
        ("webhook_secret", f"{path}:12346"),
        ("stripe_secret_key", f"{path}:20000"),
    ]


def test_long_runs_of_digits_and_words_are_read_once(tmp_path):
    """Fuzzers write megabytes of digits without a break: every candidate inside one run is
    covered by the first window, so the scan stays linear (it took minutes when each
    candidate re-read the run)."""
    path = tmp_path / "fuzz.log"
    path.write_bytes(
        b"body="
        + b"7" * 1_000_000
        + b" then "
        + VISA.encode()
        + b" and "
        + b"a1" * 500_000
        + VISA.encode()
        + b"\n"
    )
    assert [(f.kind, f.place) for f in secret_scan.scan_file(path)] == [
        ("card_number", f"{path}:1")
    ]


LOG = """\
2026-11-22 06:00:00.001 UTC [101] postgres@test_billinge LOG:  statement: INSERT INTO "t" \
("note") VALUES ('card {card}')
2026-11-22 06:00:00.002 UTC [102] postgres@test_billingq LOG:  statement: INSERT INTO "t" \
("note") VALUES ('card {card}')
2026-11-22 06:00:00.003 UTC [101] postgres@test_billinge LOG:  statement: UPDATE "t"
\tSET "secret" = '{secret}'
\tWHERE "id" = 1
2026-11-22 06:00:00.004 UTC [90] LOG:  checkpoint starting: time {card}
2026-11-22 06:00:00.005 UTC [101] postgres@test_billinge ERROR:  duplicate key value
2026-11-22 06:00:00.005 UTC [101] postgres@test_billinge DETAIL:  Key (pan)=({card}) exists.
"""


def test_server_log_entries_of_our_database_only_with_their_first_line():
    text = LOG.format(card=VISA, secret="whsec_" + "abcdefghijkl").encode()
    pattern = prefix_pattern("%m [%p] %q%u@%d ")
    findings = scan_server_log(
        text, pattern=pattern, database="test_billinge", source="server.log", first_line=10
    )
    assert [(f.kind, f.place) for f in findings] == [
        ("card_number", "server.log:10"),  # not line 11: another database's
        ("webhook_secret", "server.log:12"),  # a multi-line statement, placed at its start
        ("card_number", "server.log:17"),  # not line 15: the checkpointer has no database
    ]
    assert all(VISA not in str(finding) for finding in findings)


@pytest.mark.parametrize(
    ("prefix", "line"),
    [
        (
            "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
            "2026-11-22 06:00:00 UTC [7]: [3-1] "
            "user=app,db=test_billinge,app=pytest,client=[local] ",
        ),
        ("%m %d ", "2026-11-22 06:00:00.001 CET test_billinge "),
    ],
)
def test_other_log_line_prefixes_are_understood(prefix, line):
    match = prefix_pattern(prefix).match(f"{line}LOG:  connection authorized")
    assert match and match.group("db") == "test_billinge"


def test_a_prefix_without_the_database_cannot_be_attributed():
    assert prefix_pattern("%m [%p] ") is None


@pytest.mark.django_db
def test_committed_rows_are_scanned_column_by_column():
    """A table (rolled back with the test) whose values are computed by the server, so the
    statements that write them carry no secret."""

    with as_owner(), connection.cursor() as cursor:
        cursor.execute("""CREATE TABLE secret_scan_probe (
            id integer PRIMARY KEY, note text, data jsonb, tags varchar(40)[], clean text)""")
        cursor.execute("""INSERT INTO secret_scan_probe VALUES
            (1, 'card ' || repeat('42', 8), jsonb_build_object('k', 'sk_' || 'live_' ||
             'abcdefgh1234'), ARRAY['ok', 'whsec_' || 'abcdefghijkl'], 'nothing here'),
            (2, 'order ORD-2026-000123', '{}', '{}', repeat('0', 16))""")
        findings, tables = secret_scan.scan_database(cursor)
    mine = sorted((f.kind, f.place) for f in findings if "secret_scan_probe" in f.place)
    assert mine == [
        ("card_number", "public.secret_scan_probe.note (id=1)"),
        ("stripe_secret_key", "public.secret_scan_probe.data (id=1)"),
        ("webhook_secret", "public.secret_scan_probe.tags (id=1)"),
    ]
    assert tables > 50


@pytest.mark.django_db
def test_a_server_log_this_session_cannot_read_is_said_and_fails_under_require_services(
    monkeypatch, tmp_path
):
    """As a role without the rights to see where the server logs (a managed server), the scan
    says what it could not read; REQUIRE_SERVICES=1 turns that into a failed session."""

    plugin = secret_scan.SecretScanPlugin(python_log=tmp_path / "session.log")
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("CREATE ROLE secret_scan_probe NOSUPERUSER")  # rolled back with the test
        cursor.execute("SET LOCAL ROLE secret_scan_probe")
        try:
            log, why = secret_scan.locate_server_log(connection)
            plugin.watch_database(connection)
        finally:
            cursor.execute("RESET ROLE")
    assert log is None
    assert why.startswith("the server's log settings cannot be read (permission denied")
    assert plugin.server_log is None
    assert plugin.unscanned == [f"statements of {connection.settings_dict['NAME']}: {why}"]
    monkeypatch.delenv("REQUIRE_SERVICES", raising=False)
    assert not plugin.failed
    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    assert plugin.failed
