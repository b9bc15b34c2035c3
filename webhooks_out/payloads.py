"""What each event's ``data.object`` holds: ids, states and money as integers of minor
units with their currency (as Stripe sends them). Nothing personal beyond the customer's
id and e-mail, which the business's systems need to find the account."""

from accounts.models import User


def _ts(value):
    return int(value.timestamp()) if value else None


def customer_ref(user_id) -> dict:
    user = User.all_objects.filter(pk=user_id).only("pk", "email", "external_id").first()
    if user is None:
        return {"id": user_id}
    return {"id": user.pk, "email": user.email, "external_id": user.external_id or None}


def subscription(sub) -> dict:
    return {
        "id": sub.pk,
        "object": "subscription",
        "customer": customer_ref(sub.user_id),
        "plan": {"id": sub.plan_id, "name": getattr(sub.plan, "name", "")},
        "status": sub.status,
        "quantity": sub.quantity,
        "billing_source": sub.billing_source,
        "current_period_start": _ts(sub.current_period_start),
        "current_period_end": _ts(sub.current_period_end),
        "cancel_at_period_end": sub.cancel_at_period_end,
        "canceled_at": _ts(sub.canceled_at),
        "trial_end": _ts(sub.trial_end),
        "stripe_subscription_id": sub.stripe_subscription_id or None,
    }


def subscription_change(event) -> dict:
    sub = event.subscription
    body = subscription(sub)
    body["change"] = {"type": event.type, "source": event.source, "message": event.message}
    if event.type in ("INVOICE_PAID", "PAYMENT_FAILED"):
        invoice = sub.invoices.order_by("-created_at", "-pk").first()
        body = {
            "object": "invoice",
            "subscription": body,
            "invoice": _invoice(invoice) if invoice else None,
            "message": event.message,
        }
    return body


def _invoice(invoice) -> dict:
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "status": invoice.status,
        "currency": invoice.currency,
        "total": invoice.total,
        "amount_paid": invoice.amount_paid,
        "amount_due": invoice.amount_due,
        "period_start": _ts(invoice.period_start),
        "period_end": _ts(invoice.period_end),
        "paid_at": _ts(invoice.paid_at),
    }


def order(order) -> dict:
    return {
        "id": order.pk,
        "object": "order",
        "number": order.number,
        "customer": customer_ref(order.user_id),
        "status": order.status,
        "payment_status": order.payment_status,
        "currency": order.currency,
        "subtotal": order.subtotal,
        "discount": order.discount_amount,
        "tax": order.tax,
        "total": order.total,
        "billing_source": order.billing_source,
        "completed_at": _ts(order.completed_at),
    }


def refund(refund) -> dict:
    """A refund of an order or of a subscription invoice (one of the two is null)."""
    order, invoice = refund.order, refund.invoice
    owner = order.user_id if order is not None else invoice.user_id
    return {
        "id": refund.pk,
        "object": "refund",
        "amount": refund.amount,
        "currency": refund.currency,
        "reason": refund.reason,
        "status": refund.status,
        "order": None
        if order is None
        else {
            "id": order.pk,
            "number": order.number,
            "total": order.total,
            "refunded_amount": order.refunded_amount,
        },
        "invoice": None
        if invoice is None
        else {"id": invoice.pk, "number": invoice.number, "total": invoice.total},
        "customer": customer_ref(owner),
        "stripe_refund_id": getattr(refund, "stripe_refund_id", None) or None,
    }
