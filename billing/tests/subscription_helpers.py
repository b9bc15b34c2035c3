"""Build Stripe subscription/invoice objects in the double and deliver their events."""

import copy
import time

from billing.tests.stripe_objects import example, wrap_event
from billing.tests.webhook_signing import signed_post

DAY = 24 * 3600


def stripe_subscription(
    double,
    *,
    sub_id,
    customer,
    price_id,
    status="active",
    start=None,
    end=None,
    trial_end=None,
    cancel_at_period_end=False,
    metadata=None,
    store=True,
    **changes,
):
    start = start or int(time.time()) - DAY
    end = end or start + 30 * DAY
    price = double.get("price", price_id)
    obj = example(
        "subscription",
        id=sub_id,
        customer=customer,
        status=status,
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=None,
        canceled_at=None,
        ended_at=None,
        trial_start=start if trial_end else None,
        trial_end=trial_end,
        metadata=metadata or {},
        latest_invoice=None,
        discounts=[],
        **changes,
    )
    item = copy.deepcopy(obj["items"]["data"][0])
    item.update(
        id=f"si_{sub_id}",
        price=price,
        quantity=1,
        subscription=sub_id,
        current_period_start=start,
        current_period_end=end,
    )
    obj["items"] = {
        "object": "list",
        "data": [item],
        "has_more": False,
        "url": f"/v1/subscription_items?subscription={sub_id}",
    }
    if store:
        double.put("subscription", obj)
    return obj


def stripe_invoice(
    *,
    inv_id,
    sub_id,
    customer,
    amount,
    status="open",
    billing_reason="subscription_cycle",
    start,
    end,
    paid_at=None,
):
    line = {
        "id": f"il_{inv_id}",
        "object": "line_item",
        "amount": amount,
        "currency": "usd",
        "description": "1 × Plan",
        "quantity": 1,
        "period": {"start": start, "end": end},
    }
    return example(
        "invoice",
        id=inv_id,
        customer=customer,
        status=status,
        billing_reason=billing_reason,
        subtotal=amount,
        total=amount,
        amount_due=amount,
        amount_paid=amount if status == "paid" else 0,
        amount_remaining=0 if status == "paid" else amount,
        currency="usd",
        lines={"object": "list", "data": [line], "has_more": False, "url": "/v1/x"},
        parent={
            "type": "subscription_details",
            "subscription_details": {"subscription": sub_id, "metadata": {}},
        },
        subscription=None,
        total_taxes=[],
        total_discount_amounts=[],
        number=f"ST-{inv_id}",
        due_date=None,
        hosted_invoice_url=f"https://invoice.stripe.test/{inv_id}",
        status_transitions={
            "finalized_at": start,
            "paid_at": paid_at,
            "marked_uncollectible_at": None,
            "voided_at": None,
        },
        period_start=start,
        period_end=end,
    )


def deliver(client, capture, obj, event_type, *, created=None, event_id=None):
    event = wrap_event(obj, event_type, created=created, event_id=event_id)
    with capture(execute=True):
        response = signed_post(client, event)
    assert response.status_code == 200, response.content
    return event


def _put_card_payment(double, *, inv_id, customer, amount, brand, last4):
    """The succeeded PaymentIntent that paid ``inv_id`` and its card charge, in ``double``.
    Returns the intent's id."""
    intent_id, charge_id = f"pi_{inv_id}", f"ch_{inv_id}"
    charge = example(
        "charge",
        id=charge_id,
        amount=amount,
        amount_captured=amount,
        amount_refunded=0,
        refunded=False,
        currency="usd",
        customer=customer,
        payment_intent=intent_id,
        status="succeeded",
        paid=True,
        disputed=False,
    )
    charge["payment_method_details"]["card"].update(brand=brand, last4=last4)
    charge.pop("refunds", None)  # not part of a charge since API 2022-11-15 unless expanded
    double.put("charge", charge)
    double.put(
        "payment_intent",
        example(
            "payment_intent",
            id=intent_id,
            amount=amount,
            amount_received=amount,
            currency="usd",
            customer=customer,
            status="succeeded",
            latest_charge=charge_id,
            metadata={},
        ),
    )
    return intent_id


def stripe_paid_invoice(
    double,
    *,
    inv_id,
    sub_id,
    customer,
    amount,
    start,
    end,
    billing_reason="subscription_cycle",
    brand="visa",
    last4="4242",
):
    """A paid subscription invoice as Stripe holds it: the invoice, the InvoicePayment that
    links it to its PaymentIntent, the intent and its charge (card ``brand``/``last4``).
    Returns the invoice object (as an ``invoice.paid`` payload carries it: no ``payments``)."""
    intent_id = _put_card_payment(
        double, inv_id=inv_id, customer=customer, amount=amount, brand=brand, last4=last4
    )
    double.put(
        "invoice_payment",
        {
            "id": f"inpay_{inv_id}",
            "object": "invoice_payment",
            "invoice": inv_id,
            "amount_paid": amount,
            "amount_requested": amount,
            "currency": "usd",
            "is_default": True,
            "livemode": False,
            "status": "paid",
            "created": start,
            "payment": {"type": "payment_intent", "payment_intent": intent_id},
            "status_transitions": {"canceled_at": None, "paid_at": start},
        },
    )
    invoice = stripe_invoice(
        inv_id=inv_id,
        sub_id=sub_id,
        customer=customer,
        amount=amount,
        status="paid",
        billing_reason=billing_reason,
        start=start,
        end=end,
        paid_at=start,
    )
    double.put("invoice", invoice)
    return invoice


def stripe_refund(double, *, refund_id, inv_id, amount, status="succeeded"):
    """A refund of ``inv_id``'s charge made in Stripe's dashboard (no metadata of ours)."""
    refund = example(
        "refund",
        id=refund_id,
        amount=amount,
        currency="usd",
        charge=f"ch_{inv_id}",
        payment_intent=f"pi_{inv_id}",
        status=status,
        metadata={},
        reason="requested_by_customer",
        created=int(time.time()),
    )
    double.put("refund", refund)
    charge = double.get("charge", f"ch_{inv_id}")
    charge = {
        **charge,
        "amount_refunded": charge["amount_refunded"] + amount,
        "refunded": charge["amount_refunded"] + amount >= charge["amount"],
    }
    double.put("charge", charge)
    return refund, charge
