"""The "orders" section of a customer's data export."""

from billing.models import Order


def orders_section(user) -> list[dict]:
    return [
        {"number": o.number, "status": o.status, "payment_status": o.payment_status,
         "currency": o.currency, "subtotal": o.subtotal, "discount": o.discount_amount,
         "tax": o.tax, "total": o.total, "refunded_amount": o.refunded_amount,
         "billing_address": o.billing_address, "notes": o.notes, "created_at": o.created_at,
         "completed_at": o.completed_at, "cancelled_at": o.cancelled_at,
         "items": [{"description": i.description, "quantity": i.quantity,
                    "unit_amount": i.unit_amount, "line_total": i.line_total, "tax": i.tax,
                    "download_count": i.download_count} for i in o.items.all()],
         "payments": [{"provider": p.provider, "amount": p.amount, "currency": p.currency,
                       "status": p.status, "paid_at": p.paid_at} for p in o.payments.all()],
         "refunds": [{"amount": r.amount, "currency": r.currency, "status": r.status,
                      "reason": r.reason, "created_at": r.created_at} for r in o.refunds.all()]}
        for o in Order.objects.filter(user=user).prefetch_related("items", "payments", "refunds")
    ]
