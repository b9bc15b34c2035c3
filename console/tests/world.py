"""A customer with a bit of everything, as staff find them in the console, and a reader of
the forms a page renders (to submit them as a browser would)."""

from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser

from django.utils import timezone

from accounts.factories import ApiKeyFactory, UserFactory
from billing.factories import OrderFactory, OrderItemFactory, SubscriptionFactory
from billing.models import Invoice, InvoiceStatus
from billing.services.numbers import next_number
from billing.services.payments import mark_order_paid
from catalog.factories import PlanFactory
from credits.services import grant_credits
from support.factories import TicketFactory


@dataclass
class Customer:
    user: object
    subscription: object
    order: object
    invoice: object
    ticket: object
    api_key: object


def customer_with_history(email="dana@example.com") -> Customer:
    user = UserFactory(email=email, first_name="Dana", last_name="Scully")
    plan = PlanFactory(name="Growth", billing_source="manual")
    plan.monthly_price.unit_amount = 7900
    plan.monthly_price.save(update_fields=["unit_amount"])
    now = timezone.now()
    subscription = SubscriptionFactory(
        user=user,
        plan=plan,
        price=plan.monthly_price,
        billing_source="manual",
        status="ACTIVE",
        current_period_start=now - timedelta(days=3),
        current_period_end=now + timedelta(days=27),
    )
    order = OrderFactory(user=user, subtotal=4000)
    OrderItemFactory(order=order, unit_amount=4000)
    mark_order_paid(
        order_id=order.pk,
        provider="manual",
        provider_id=f"bank-{order.pk}",
        amount=4000,
        currency="usd",
    )
    invoice = Invoice.objects.create(
        number=next_number("INV"),
        user=user,
        subscription=subscription,
        status=InvoiceStatus.OPEN,
        billing_source="manual",
        currency="usd",
        subtotal=7900,
        total=7900,
        amount_due=7900,
        billing_reason="subscription_cycle",
        due_date=(now + timedelta(days=14)).date(),
    )
    grant_credits(user=user, amount=500, source="PROMO", idempotency_key=f"w-{user.pk}")
    ticket = TicketFactory(customer=user, subject="Cannot download my invoice")
    api_key = ApiKeyFactory(user=user, name="CI pipeline")
    return Customer(user, subscription, order, invoice, ticket, api_key)


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self.current = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.current = {
                "action": attrs.get("action", ""),
                "method": attrs.get("method", "get"),
                "fields": {},
                "buttons": [],
            }
            self.forms.append(self.current)
        elif self.current is not None and tag == "input" and attrs.get("name"):
            self.current["fields"][attrs["name"]] = attrs.get("value", "")
        elif self.current is not None and tag == "button":
            self.current["buttons"].append("")
            self._in_button = True

    def handle_data(self, data):
        if self.current is not None and getattr(self, "_in_button", False):
            self.current["buttons"][-1] += data.strip()

    def handle_endtag(self, tag):
        if tag == "button":
            self._in_button = False
        elif tag == "form":
            self.current = None


def forms_of(html: str) -> list[dict]:
    """The page's forms: action, method, fields (name -> value) and button labels."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def form_with_button(html: str, label: str, **fields) -> dict | None:
    """The form whose button reads ``label`` (and whose fields include ``fields``)."""
    for form in forms_of(html):
        if label in form["buttons"] and all(
            form["fields"].get(k) == str(v) for k, v in fields.items()
        ):
            return form
    return None
