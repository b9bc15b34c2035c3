"""Ids that arrive from outside (URLs, Stripe metadata, form fields) as text."""

BIGINT_MAX = 2**63 - 1


def parse_id(value: object) -> int | None:
    """The positive integer id ``value`` spells, or None.

    ``str.isdigit()`` alone is not enough: it accepts digits such as '²' that ``int()``
    refuses, and an id past PostgreSQL's bigint range makes the query itself fail.
    """
    text = str(value if value is not None else "").strip()
    if not text or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= BIGINT_MAX else None
