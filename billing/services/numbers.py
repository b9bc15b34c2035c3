"""Human-readable numbers (ORD-2026-000123, INV-2026-000045) from PostgreSQL sequences:
gap-tolerant, never repeated, no lock needed."""

from django.db import connection
from django.utils import timezone

SEQUENCES = {
    "ORD": "billing_order_number_seq",
    "INV": "billing_invoice_number_seq",
    "CN": "billing_credit_note_number_seq",
}


def next_number(prefix: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [SEQUENCES[prefix]])
        value = cursor.fetchone()[0]
    return f"{prefix}-{timezone.now().year}-{value:06d}"
