"""The "orders" and "subscriptions" sections of a customer's data export, read a chunk of
rows at a time (accounts.data_export.rows)."""

from accounts.data_export import rows
from billing.models import Order, Subscription


def _order(o) -> dict:
    return {
        "number": o.number,
        "status": o.status,
        "payment_status": o.payment_status,
        "currency": o.currency,
        "subtotal": o.subtotal,
        "discount": o.discount_amount,
        "tax": o.tax,
        "total": o.total,
        "refunded_amount": o.refunded_amount,
        "billing_address": o.billing_address,
        "notes": o.notes,
        "created_at": o.created_at,
        "completed_at": o.completed_at,
        "cancelled_at": o.cancelled_at,
        "items": [
            {
                "description": i.description,
                "quantity": i.quantity,
                "unit_amount": i.unit_amount,
                "line_total": i.line_total,
                "tax": i.tax,
                "download_count": i.download_count,
            }
            for i in o.items.all()
        ],
        "payments": [
            {
                "provider": p.provider,
                "amount": p.amount,
                "currency": p.currency,
                "status": p.status,
                "paid_at": p.paid_at,
            }
            for p in o.payments.all()
        ],
        "refunds": [
            {
                "amount": r.amount,
                "currency": r.currency,
                "status": r.status,
                "reason": r.reason,
                "created_at": r.created_at,
            }
            for r in o.refunds.all()
        ],
    }


def orders_section(user):
    return rows(
        Order.objects.filter(user=user)
        .order_by("created_at", "id")
        .prefetch_related("items", "payments", "refunds"),
        _order,
    )


def _subscription(s) -> dict:
    return {
        "id": s.pk,
        "plan": s.plan.slug,
        "status": s.status,
        "billing_source": s.billing_source,
        "current_period_start": s.current_period_start,
        "current_period_end": s.current_period_end,
        "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": s.canceled_at,
        "trial_start": s.trial_start,
        "trial_end": s.trial_end,
        "created_at": s.created_at,
        "timeline": [
            {"type": e.type, "message": e.message, "at": e.created_at} for e in s.events.all()
        ],
        "invoices": [
            {
                "number": i.number,
                "status": i.status,
                "currency": i.currency,
                "subtotal": i.subtotal,
                "discount": i.discount_amount,
                "tax": i.tax,
                "total": i.total,
                "amount_paid": i.amount_paid,
                "due_date": i.due_date,
                "paid_at": i.paid_at,
            }
            for i in s.invoices.all()
        ],
        # Downloads the plan included, counted per product as an order line counts a buyer's.
        "included_downloads": [
            {
                "product": d.product.slug,
                "download_count": d.download_count,
                "download_limit": d.download_limit,
                "first_downloaded_at": d.created_at,
            }
            for d in s.included_downloads.all()
        ],
    }


def subscriptions_section(user):
    """The customer's subscriptions with their timeline (plain words), invoices and the
    downloads their plan included."""
    return rows(
        Subscription.objects.filter(user=user)
        .order_by("created_at", "id")
        .select_related("plan")
        .prefetch_related("events", "invoices", "included_downloads__product"),
        _subscription,
    )
