"""Build Stripe subscription/invoice objects in the double and deliver their events."""

import copy
import time

from billing.tests.conftest import signed_post
from billing.tests.stripe_double import example, wrap_event

DAY = 24 * 3600


def stripe_subscription(double, *, sub_id, customer, price_id, status="active", start=None,
                        end=None, trial_end=None, cancel_at_period_end=False, metadata=None,
                        store=True, **changes):
    start = start or int(time.time()) - DAY
    end = end or start + 30 * DAY
    price = double.get("price", price_id)
    obj = example("subscription", id=sub_id, customer=customer, status=status,
                  cancel_at_period_end=cancel_at_period_end, cancel_at=None, canceled_at=None,
                  ended_at=None, trial_start=start if trial_end else None, trial_end=trial_end,
                  metadata=metadata or {}, latest_invoice=None, discounts=[], **changes)
    item = copy.deepcopy(obj["items"]["data"][0])
    item.update(id=f"si_{sub_id}", price=price, quantity=1, subscription=sub_id,
                current_period_start=start, current_period_end=end)
    obj["items"] = {"object": "list", "data": [item], "has_more": False,
                    "url": f"/v1/subscription_items?subscription={sub_id}"}
    if store:
        double.put("subscription", obj)
    return obj


def stripe_invoice(*, inv_id, sub_id, customer, amount, status="open",
                   billing_reason="subscription_cycle", start, end, paid_at=None):
    line = {"id": f"il_{inv_id}", "object": "line_item", "amount": amount, "currency": "usd",
            "description": "1 × Plan", "quantity": 1, "period": {"start": start, "end": end}}
    return example(
        "invoice", id=inv_id, customer=customer, status=status, billing_reason=billing_reason,
        subtotal=amount, total=amount, amount_due=amount,
        amount_paid=amount if status == "paid" else 0,
        amount_remaining=0 if status == "paid" else amount, currency="usd",
        lines={"object": "list", "data": [line], "has_more": False, "url": "/v1/x"},
        parent={"type": "subscription_details",
                "subscription_details": {"subscription": sub_id, "metadata": {}}},
        subscription=None, total_taxes=[], total_discount_amounts=[], number=f"ST-{inv_id}",
        due_date=None, hosted_invoice_url=f"https://invoice.stripe.test/{inv_id}",
        status_transitions={"finalized_at": start, "paid_at": paid_at,
                            "marked_uncollectible_at": None, "voided_at": None},
        period_start=start, period_end=end)


def deliver(client, capture, obj, event_type, *, created=None, event_id=None):
    event = wrap_event(obj, event_type, created=created, event_id=event_id)
    with capture(execute=True):
        response = signed_post(client, event)
    assert response.status_code == 200, response.content
    return event
