"""The billing rows of seed_history's simulation: credit-pack orders, plan renewals, their
invoices and payments (Stripe with its webhook events, or a bank transfer finance marks paid)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analytics.seed_history.host import HistoryHost
from analytics.seed_history.inputs import PLAN_PERIOD, Customer, Pack, PlanTerms
from analytics.seed_history.rows import jsonb, opt, stamp, text

P_STRIPE = 0.6  # of purchases and subscriptions paid through Stripe


@dataclass
class _PackOrder:
    """A credit-pack order being written: who, what, its ids, when ordered and paid, and its
    Stripe session and payment intent (None when paid by bank transfer)."""

    customer: Customer
    pack: Pack
    quantity: int
    total: int
    credits: int
    order_id: int
    item_id: int
    number: str
    ordered: datetime
    paid: datetime
    session: str | None
    intent: str | None


class BillingRows(HistoryHost):
    """Mixed into History: uses its ``rng``, ``buffers``, ``packs``, ``staff``, ``outbox_from``
    and id sources, and its ``need``, ``grant`` and ``audit``."""

    def purchase(self, customer: Customer, moment: datetime, cost: int) -> None:
        """A credit pack bought because the balance ran short: the order, its payment (bank
        transfer against an invoice, or Stripe with its webhook events) and the lot."""
        rng = self.rng
        pack = rng.choice(self.packs)
        quantity = max(1, -(-cost // pack.credits)) * rng.choice([1, 1, 1, 2])
        total, credits = pack.amount * quantity, pack.credits * quantity
        order_id, item_id = self.order_id(), self.item_id()
        number = f"ORD-{moment.year}-{self.order_number():06d}"
        stripe = rng.random() < P_STRIPE
        # Ordered a little before: the credits arrive as the payment does, at ``moment``.
        paid, moment = moment, moment - timedelta(minutes=rng.randrange(1, 30))
        order = _PackOrder(
            customer=customer,
            pack=pack,
            quantity=quantity,
            total=total,
            credits=credits,
            order_id=order_id,
            item_id=item_id,
            number=number,
            ordered=moment,
            paid=paid,
            session=f"cs_hist_{order_id:x}" if stripe else None,
            intent=f"pi_hist_{order_id:x}" if stripe else None,
        )
        self.pack_order(order)
        if stripe:
            self.stripe_checkout(order)
        else:
            self.invoice_paid_by_transfer(order)
        self.grant(
            customer,
            source="PURCHASE",
            amount=credits,
            moment=paid,
            source_ref=number,
            key=f"order-item-{item_id}-credits",
            details={"order": number, "order_item": item_id},
        )

    def pack_order(self, o: _PackOrder) -> None:
        """The order and its one item, as the customer placed it, and its audit row."""
        self.buffers["billing_order"].append(
            "\t".join(
                [
                    str(o.order_id),
                    o.ordered.isoformat(),
                    o.paid.isoformat(),
                    o.number,
                    str(o.customer.user_id),
                    "COMPLETED",
                    "SUCCEEDED",
                    "stripe" if o.session else "manual",
                    o.pack.currency,
                    str(o.total),
                    "0",
                    "0",
                    str(o.total),
                    "0",
                    "{}",
                    "",
                    "",
                    "{}",
                    opt(o.session),
                    opt(o.intent),
                    "",
                    o.paid.isoformat(),
                ]
            )
            + "\n"
        )
        self.pack_order_item(o)
        self.audit(
            o.customer.user_id,
            o.customer.email,
            "CREATE",
            "billing.Order",
            o.order_id,
            o.ordered,
            new={"number": o.number, "total": o.total, "currency": o.pack.currency},
        )

    def pack_order_item(self, o: _PackOrder) -> None:
        """The order's one item: the pack, how many, and the credits they give."""
        self.buffers["billing_orderitem"].append(
            "\t".join(
                [
                    str(o.item_id),
                    o.ordered.isoformat(),
                    o.ordered.isoformat(),
                    str(o.order_id),
                    str(o.pack.product_id),
                    str(o.pack.price_id),
                    text(o.pack.name),
                    "CREDIT_PACK",
                    str(o.quantity),
                    str(o.pack.amount),
                    str(o.total),
                    "0",
                    "0",
                    "0",
                    str(o.credits),
                    "0",
                ]
            )
            + "\n"
        )

    def stripe_checkout(self, o: _PackOrder) -> None:
        """Paid through Stripe Checkout: the payment and the two webhook events that told us."""
        # purchase() sets both ids exactly when it pays through Stripe.
        assert o.session is not None and o.intent is not None
        self.payment(
            o.customer,
            order_id=o.order_id,
            invoice_id=None,
            provider="stripe",
            provider_id=o.intent,
            amount=o.total,
            currency=o.pack.currency,
            paid=o.paid,
        )
        self.webhook(
            "checkout.session.completed",
            o.session,
            "checkout.session",
            o.paid,
            {"payment_intent": o.intent, "amount_total": o.total, "client_reference_id": o.number},
        )
        self.webhook(
            "payment_intent.succeeded",
            o.intent,
            "payment_intent",
            o.paid,
            {"amount": o.total, "currency": o.pack.currency, "status": "succeeded"},
        )

    def invoice_paid_by_transfer(self, o: _PackOrder) -> None:
        """Paid by bank transfer: an invoice for the order, marked paid by finance."""
        invoice_id = self.invoice(
            o.customer,
            moment=o.ordered,
            order_id=o.order_id,
            subscription_id=None,
            total=o.total,
            currency=o.pack.currency,
            source="manual",
            reason="manual",
            paid=o.paid,
            reference=o.number,
            lines=[
                {
                    "description": o.pack.name,
                    "quantity": o.quantity,
                    "unit_amount": o.pack.amount,
                    "amount": o.total,
                }
            ],
        )
        self.bank_transfer(
            o.customer,
            invoice_id=invoice_id,
            amount=o.total,
            currency=o.pack.currency,
            paid=o.paid,
            reference=f"BANK-{o.number}",
        )

    def renew(self, customer: Customer, moment: datetime) -> None:
        """A paid plan period: its invoice and payment, then the plan's credits until the
        period ends."""
        self.need(1)
        sub = customer.subscription
        # Only a customer with a subscription has a next renewal (inputs.py sets both).
        assert sub is not None
        end = moment + PLAN_PERIOD
        customer.next_renewal = end
        stripe = sub.source == "stripe"
        invoice_id = self.invoice_id()
        invoice_number = f"INV-{moment.year}-{self.invoice_number():06d}"
        stripe_invoice = f"in_hist_{invoice_id:x}" if stripe else None
        self.invoice(
            customer,
            invoice_id=invoice_id,
            moment=moment,
            order_id=None,
            subscription_id=sub.id,
            total=sub.amount,
            currency=sub.currency,
            source=sub.source,
            reason="subscription_cycle",
            paid=moment,
            reference=invoice_number,
            number=invoice_number,
            stripe_invoice=stripe_invoice,
            period=(moment, end),
            lines=[
                {
                    "description": f"{sub.plan_slug} (monthly)",
                    "quantity": 1,
                    "unit_amount": sub.amount,
                    "amount": sub.amount,
                }
            ],
        )
        if sub.amount:
            self.renewal_payment(customer, sub, invoice_id, invoice_number, stripe_invoice, moment)
        self.grant(
            customer,
            source="PLAN",
            amount=sub.credits,
            moment=moment,
            expires_at=end,
            source_ref=invoice_number,
            key=f"plan-credits-{stripe_invoice or invoice_number}",
            details={"subscription": sub.id, "invoice": invoice_number, "plan": sub.plan_slug},
        )

    def renewal_payment(
        self,
        customer: Customer,
        sub: PlanTerms,
        invoice_id: int,
        number: str,
        stripe_invoice: str | None,
        moment: datetime,
    ) -> None:
        """The renewal's payment: Stripe's (and its invoice.paid event) when the subscription
        is paid through Stripe, else a bank transfer finance marks paid."""
        if stripe_invoice:
            intent = f"pi_hist_in{invoice_id:x}"
            self.payment(
                customer,
                order_id=None,
                invoice_id=invoice_id,
                provider="stripe",
                provider_id=intent,
                amount=sub.amount,
                currency=sub.currency,
                paid=moment,
            )
            self.webhook(
                "invoice.paid",
                stripe_invoice,
                "invoice",
                moment,
                {
                    "subscription": f"sub_hist_{sub.id:x}",
                    "amount_paid": sub.amount,
                    "payment_intent": intent,
                },
            )
        else:
            self.bank_transfer(
                customer,
                invoice_id=invoice_id,
                amount=sub.amount,
                currency=sub.currency,
                paid=moment,
                reference=f"BANK-{number}",
            )

    def invoice(
        self,
        customer: Customer,
        *,
        moment,
        order_id,
        subscription_id,
        total,
        currency,
        source,
        reason,
        paid,
        reference,
        lines,
        number=None,
        stripe_invoice=None,
        period=(None, None),
        invoice_id=None,
    ) -> int:
        invoice_id = invoice_id or self.invoice_id()
        number = number or f"INV-{moment.year}-{self.invoice_number():06d}"
        due = (moment + timedelta(days=14)).date().isoformat()
        self.buffers["billing_invoice"].append(
            "\t".join(
                [
                    str(invoice_id),
                    moment.isoformat(),
                    paid.isoformat(),
                    number,
                    str(customer.user_id),
                    opt(order_id),
                    opt(subscription_id),
                    "PAID",
                    source,
                    currency,
                    jsonb(lines),
                    str(total),
                    "0",
                    "0",
                    str(total),
                    str(total),
                    "0",
                    stamp(period[0]),
                    stamp(period[1]),
                    due,
                    paid.isoformat(),
                    reference,
                    opt(stripe_invoice),
                    "",
                    "",
                    reason,
                    moment.isoformat(),
                    "0",
                ]
            )
            + "\n"
        )
        return invoice_id

    def payment(
        self,
        customer: Customer,
        *,
        order_id,
        invoice_id,
        provider,
        provider_id,
        amount,
        currency,
        paid,
        recorded_by=None,
        method=("card", "visa", "4242"),
    ):
        self.buffers["billing_payment"].append(
            "\t".join(
                [
                    paid.isoformat(),
                    paid.isoformat(),
                    str(customer.user_id),
                    opt(order_id),
                    opt(invoice_id),
                    provider,
                    provider_id,
                    str(amount),
                    currency,
                    "SUCCEEDED",
                    *method,
                    paid.isoformat(),
                    opt(recorded_by),
                    "{}",
                    provider_id if provider_id.startswith("pi_") else "",
                    "",
                ]
            )
            + "\n"
        )

    def bank_transfer(
        self, customer: Customer, *, invoice_id, amount, currency, paid, reference
    ) -> None:
        """What finance records with "Mark paid": the transfer and its audit row."""
        staff = self.rng.choice(self.staff) if self.staff else (None, "")
        self.payment(
            customer,
            order_id=None,
            invoice_id=invoice_id,
            provider="manual",
            provider_id=reference,
            amount=amount,
            currency=currency,
            paid=paid,
            recorded_by=staff[0],
            method=("bank_transfer", "", ""),
        )
        self.audit(
            staff[0],
            staff[1],
            "UPDATE",
            "billing.Invoice",
            invoice_id,
            paid,
            old={"status": "OPEN"},
            new={"status": "PAID", "amount_paid": amount},
            context={"reference": reference},
        )

    def webhook(
        self, type_: str, object_id: str, object_type: str, moment: datetime, fields: dict
    ) -> None:
        event_pk = self.event_id()
        event_id = f"evt_hist_{event_pk:x}"
        created = int(moment.timestamp())
        payload = {
            "id": event_id,
            "object": "event",
            "type": type_,
            "created": created,
            "livemode": False,
            "api_version": "2024-06-20",
            "data": {"object": {"id": object_id, "object": object_type, **fields}},
        }
        received = moment + timedelta(seconds=1)
        done = received + timedelta(seconds=2)
        self.buffers["billing_webhookevent"].append(
            "\t".join(
                [
                    str(event_pk),
                    received.isoformat(),
                    done.isoformat(),
                    event_id,
                    type_,
                    "f",
                    "2024-06-20",
                    object_id,
                    jsonb(payload),
                    "processed",
                    "1",
                    "",
                    received.isoformat(),
                    received.isoformat(),
                    done.isoformat(),
                    datetime.fromtimestamp(created, tz=UTC).isoformat(),
                ]
            )
            + "\n"
        )
        if received >= self.outbox_from:
            self.buffers["outbox_outboxmessage"].append(
                "\t".join(
                    [
                        "billing.tasks.process_webhook_event",
                        jsonb([event_pk]),
                        "{}",
                        received.isoformat(),
                        received.isoformat(),
                        "1",
                        "",
                        done.isoformat(),
                    ]
                )
                + "\n"
            )
