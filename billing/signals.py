"""What billing tells other apps, as Django signals (they connect in their AppConfig.ready;
billing never imports them)."""

from django.dispatch import Signal

# A subscription invoice was refunded or disputed, inside the transaction that recorded it.
# Sent with ``invoice``, ``refund``, ``staff_words`` (what staff should know, plan credits
# that could not be taken back included) and ``disputed``.
invoice_refunded = Signal()
