"""What the secret scan (tests/secret_scan.py) looks for, and how it finds it in text and in
large byte streams: card numbers, our API keys, Stripe secret keys, webhook secrets."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from core.redaction import luhn_valid  # the one card checksum (no Django imports)

_CARD = re.compile(
    r"(?<![\w.+])"  # not the tail of an identifier, a decimal or a phone number (+E.164)
    r"(?:\d{13,19}"
    r"|\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{1,3})?"
    r"|\d{4}(?P<sep2>[ -])\d{6}(?P=sep2)\d{4,5})"
    r"(?!\w|\.\d)"  # nor the head of an identifier or a decimal
)
_SECRETS = {
    "api_key": re.compile(r"(?<![A-Za-z0-9])bk_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}"),
    "stripe_secret_key": re.compile(r"(?<![A-Za-z0-9])(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{8,}"),
    "webhook_secret": re.compile(r"(?<![A-Za-z0-9])whsec_[A-Za-z0-9+/=_]{8,}"),
}
# What a masked secret still shows: its public part (our key's stored prefix, the key type).
_SHOWN_HEAD = {"api_key": 12, "stripe_secret_key": 8, "webhook_secret": 6}
# A cheap first pass (PostgreSQL regex syntax too) for rows and log lines worth a close look.
PREFILTER_SQL = (
    r"[0-9]{13}|[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4}"
    r"|(sk|rk)_(test|live)_|whsec_|bk_[0-9a-f]{8}_"
)
_PREFILTER = re.compile(PREFILTER_SQL)

_EPOCH_RANGE = (
    datetime(2000, 1, 1, tzinfo=UTC).timestamp(),
    datetime(2100, 1, 1, tzinfo=UTC).timestamp(),
)


def _is_epoch(digits: str) -> bool:
    # Milli-, micro- and nanoseconds since 1970 (13, 16 and 19 digits today) start with 1,
    # which no card of those lengths does (the only 1-series cards, UATP, have 15 digits).
    scale = {13: 1e3, 16: 1e6, 19: 1e9}.get(len(digits))
    return (
        scale is not None
        and digits[0] == "1"
        and _EPOCH_RANGE[0] <= int(digits) / scale < _EPOCH_RANGE[1]
    )


def _is_compact_datetime(digits: str) -> bool:
    # 20261122060001... (YYYYMMDDhhmmss and finer): no card network issues 19xx or 20xx
    # numbers (Mastercard's 2-series starts at 2221).
    if digits[:2] not in ("19", "20"):
        return False
    try:
        date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return False
    return True


def _not_a_card(digits: str) -> bool:
    """Luhn-valid digit runs that are not card numbers.

    * a leading 0: ISO/IEC 7812 assigns no card issuer there, and zero-padded counters
      (0000000000000) pass the Luhn check;
    * Unix timestamps in ms/µs/ns and compact date-times (see above).
    Identifiers (Stripe ids, hashes, tokens), decimals and +phone numbers are excluded by the
    pattern itself: the digits must stand alone.
    """
    return digits[0] == "0" or _is_epoch(digits) or _is_compact_datetime(digits)


def _url_path_segment(text: str, match: re.Match) -> bool:
    """A whole segment of a URL path (/api/v1/chat/<id>/...): where this project's URLs carry
    integer ids, and what Django logs for a refused request. The API fuzzer sends random
    bigints there, a tenth of which pass the Luhn check. No route takes a card number; a
    query string (?pan=...) is still scanned."""
    before = text[match.start() - 1 : match.start()]
    after = text[match.end() : match.end() + 1]
    return before == "/" and (after in ("", "/", "?", "#") or after.isspace())


@dataclass(frozen=True)
class Hit:
    kind: str  # card_number, api_key, stripe_secret_key, webhook_secret
    value: str
    start: int

    @property
    def masked(self) -> str:
        if self.kind == "card_number":
            digits = re.sub(r"\D", "", self.value)
            return f"{digits[:4]}{'*' * (len(digits) - 8)}{digits[-4:]} ({len(digits)} digits)"
        head = self.value[: _SHOWN_HEAD[self.kind]]
        return f"{head}{self.value[len(head) : len(head) + 2]}… ({len(self.value)} chars)"


def find(text: str) -> list[Hit]:
    """Every card number and secret in ``text``."""
    if not _PREFILTER.search(text):
        return []
    hits = []
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if (
            13 <= len(digits) <= 19
            and luhn_valid(digits)
            and not _not_a_card(digits)
            and not _url_path_segment(text, match)
        ):
            hits.append(Hit("card_number", match.group(), match.start()))
    for kind, pattern in _SECRETS.items():
        hits.extend(Hit(kind, m.group(), m.start()) for m in pattern.finditer(text))
    return sorted(hits, key=lambda hit: hit.start)


@dataclass(frozen=True)
class Finding:
    kind: str
    place: str  # file:line, or schema.table.column (row)
    masked: str
    context: str = ""

    def __str__(self):
        suffix = f"\n      {self.context}" if self.context else ""
        return f"{self.kind} {self.masked} at {self.place}{suffix}"


def context_of(text: str, hit: Hit, width: int = 60) -> str:
    before = text[max(0, hit.start - width) : hit.start].rsplit("\n", 1)[-1]
    after = text[hit.start + len(hit.value) : hit.start + len(hit.value) + width].split("\n")[0]
    return " ".join(f"…{before}[{hit.kind}]{after}…".split())


# Large inputs (logs) are not run through the patterns whole: Python's regex engine reads a
# few MB/s with them. Digits are mapped to "0" instead, and plain substring searches (C speed)
# find the places worth a look: 13 digits in a row, the typed groups, the secrets' prefixes.
_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_NEEDLES = (
    b"0" * 13,
    b"0000 0000 0000",
    b"0000-0000-0000",
    b"0000 000000 0000",
    b"0000-000000-0000",
    b"k_test_",
    b"k_live_",
    b"whsec_",
    b"bk_",
)
_WORD = frozenset(b"0abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NOT_WORD = re.compile(rb"[^0a-zA-Z_]")
_REACH = 160  # bytes around a needle: the longest secret, a card's groups and its context


def find_in_bytes(data: bytes) -> list[tuple[int, Hit, str]]:
    """(byte offset, hit, the text around it) for every finding in ``data``."""
    masked = data.translate(_ZERO_DIGITS)
    places = []
    for needle in _NEEDLES:
        at = masked.find(needle)
        while at != -1:
            places.append(at)
            at = masked.find(needle, at + len(needle))
    windows: list[list[int]] = []
    for at in sorted(places):
        covered = windows[-1][1] if windows else 0
        if at < covered:  # inside the last window, which already reaches the end of its word
            continue
        # Widen to whole words, so a window never starts or ends inside a longer run.
        start = max(covered, at - _REACH)
        while start > covered and masked[start - 1] in _WORD:
            start -= 1
        boundary = _NOT_WORD.search(masked, min(len(data), at + _REACH))
        end = boundary.start() if boundary else len(data)
        if windows and start <= covered:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    results = []
    for start, end in windows:
        window = data[start:end].decode("utf-8", errors="replace")
        for hit in find(window):
            offset = start + len(window[: hit.start].encode("utf-8", errors="replace"))
            results.append((offset, hit, context_of(window, hit)))
    return results


def scan_file(path: Path) -> list[Finding]:
    """Findings in a text file, placed as path:line."""
    data = path.read_bytes()
    findings = []
    for offset, hit, context in find_in_bytes(data):
        line = data.count(b"\n", 0, offset) + 1
        findings.append(Finding(hit.kind, f"{path}:{line}", hit.masked, context))
    return findings
