"""A customer's page for staff: everything about one customer on one page.

Profile and status, the live subscription and its timeline, orders, invoices and payments
with what is still due, the credit balance with its lots and runway, tickets, API keys and
the audit trail; each section links to its full list (filtered to the customer) and offers
the actions the staff member's role may take from there. An action is a small form posting
to the model admin's own action (the same confirmation pages, services and authority rules
as from the list), so the page adds no way around the policy. Every section reads a bounded
number of rows through the customer's indexes.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import ApiKey, Role, Status, User
from billing.models import (
    BillingSource,
    Invoice,
    InvoiceStatus,
    Order,
    OrderStatus,
    Payment,
    Subscription,
    SubscriptionStatus,
)
from billing.selectors import current_subscription
from console.naming import describe_resources
from core.models import AuditLog
from core.money import format_money
from credits.models import CreditBalance, CreditGrant, CreditTransaction
from credits.selectors import credit_summary
from support.models import Ticket

ROWS = 10  # rows per section; the section's "all" link lists the rest


@dataclass(frozen=True)
class Action:
    """A button posting ``action`` for one row to a model admin's changelist."""

    label: str
    changelist: str
    action: str
    pk: int
    danger: bool = False

    @property
    def selected_field(self) -> str:
        return ACTION_CHECKBOX_NAME


def _admin_for(model):
    return admin.site._registry.get(model)


def _changelist(model, **filters) -> str:
    opts = model._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    except NoReverseMatch:
        return ""
    if filters:
        url += "?" + "&".join(f"{key}={value}" for key, value in filters.items())
    return url


def _change(obj) -> str:
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def actions_for(
    request, model, pk, offered: list[tuple[str, str]], danger: frozenset = frozenset()
) -> list[Action]:
    """The actions of ``offered`` (name, label) that the model admin offers this user (its
    action menu: the policy decides), as buttons for row ``pk``."""
    model_admin = _admin_for(model)
    if model_admin is None or not model_admin.has_view_or_change_permission(request):
        return []
    available = model_admin.get_actions(request)
    changelist = _changelist(model)
    return [
        Action(label, changelist, name, pk, name in danger)
        for name, label in offered
        if name in available
    ]


def _money(amount, currency) -> str:
    return format_money(amount, currency) if amount is not None else ""


def _totals(rows, field) -> list[str]:
    by_currency: defaultdict[str, int] = defaultdict(int)
    for row in rows:
        by_currency[row.currency] += getattr(row, field)
    return [
        format_money(amount, currency) for currency, amount in sorted(by_currency.items()) if amount
    ]


def customer_context(request, customer: User) -> dict:
    """What the customer page shows, section by section. A list the staff member's role may
    not view is None (the page says so instead of listing it)."""
    may_view = {
        model: (
            _admin_for(model) is not None
            and _admin_for(model).has_view_or_change_permission(request)
        )
        for model in (Order, Invoice, Payment, Subscription, Ticket, ApiKey, AuditLog)
    }
    return {
        "customer": customer,
        "now": timezone.now(),
        **_account_section(request, customer),
        **_subscription_section(request, customer),
        **_orders_section(request, customer, may_view),
        **_invoices_section(request, customer, may_view),
        **_credits_section(request, customer),
        **_support_section(request, customer, may_view),
    }


def _account_section(request, customer: User) -> dict:
    return {
        "profile_url": _change(customer) if _admin_for(User) else "",
        "customer_actions": actions_for(
            request,
            User,
            customer.pk,
            [
                ("force_logout_users", "Sign out everywhere"),
                ("suspend_users", "Suspend")
                if customer.status == Status.ACTIVE
                else ("reactivate_users", "Reactivate"),
            ],
            danger=frozenset({"suspend_users"}),
        ),
    }


def _subscription_section(request, customer: User) -> dict:
    """The current subscription (else the latest), its latest events and what may be done."""
    subscription = current_subscription(user=customer)
    if subscription is None:
        subscription = (
            Subscription.objects.filter(user=customer)
            .select_related("plan", "price")
            .order_by("-created_at", "-id")
            .first()
        )
    timeline = (
        list(subscription.events.select_related("actor").order_by("-created_at", "-id")[:ROWS])
        if subscription
        else []
    )
    subscription_actions = (
        actions_for(
            request,
            Subscription,
            subscription.pk,
            _subscription_actions(subscription),
            danger=frozenset({"action_cancel_now"}),
        )
        if subscription
        else []
    )
    return {
        "subscription": subscription,
        "subscription_url": _change(subscription) if subscription else "",
        "subscription_actions": subscription_actions,
        "timeline": timeline,
        "subscriptions_url": _changelist(Subscription, user=customer.pk),
    }


def _orders_section(request, customer: User, may_view: dict) -> dict:
    orders = list(Order.objects.filter(user=customer).order_by("-created_at", "-id")[:ROWS])
    return {
        "orders": [
            {
                "row": order,
                "url": _change(order),
                "total": _money(order.total, order.currency),
                "refunded": _money(order.refunded_amount, order.currency)
                if order.refunded_amount
                else "",
                "actions": actions_for(request, Order, order.pk, _order_actions(order)),
            }
            for order in orders
        ]
        if may_view[Order]
        else None,
        "orders_url": _changelist(Order, user=customer.pk),
    }


def _invoices_section(request, customer: User, may_view: dict) -> dict:
    """Invoices, what is still due on the open ones, and payments."""
    open_invoices = list(
        Invoice.objects.filter(user=customer, status=InvoiceStatus.OPEN).order_by("due_date", "id")[
            :100
        ]
    )
    invoices = list(Invoice.objects.filter(user=customer).order_by("-created_at", "-id")[:ROWS])
    payments = list(
        Payment.objects.filter(user=customer)
        .select_related("order", "invoice")
        .order_by("-created_at", "-id")[:ROWS]
    )
    return {
        "invoices": [
            {
                "row": invoice,
                "url": _change(invoice),
                "total": _money(invoice.total, invoice.currency),
                "due": _money(invoice.amount_due, invoice.currency)
                if invoice.status == InvoiceStatus.OPEN
                else "",
                "actions": actions_for(
                    request,
                    Invoice,
                    invoice.pk,
                    [
                        ("action_mark_paid", "Mark paid"),
                        ("action_send", "Send"),
                        ("action_void", "Void"),
                    ],
                    danger=frozenset({"action_void"}),
                )
                if invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.DRAFT)
                else [],
            }
            for invoice in invoices
        ]
        if may_view[Invoice]
        else None,
        "invoices_url": _changelist(Invoice, user=customer.pk),
        "amount_due": _totals(open_invoices, "amount_due"),
        "open_invoice_count": len(open_invoices),
        "payments": [
            {
                "row": payment,
                "url": _change(payment),
                "amount": _money(payment.amount, payment.currency),
            }
            for payment in payments
        ]
        if may_view[Payment]
        else None,
        "payments_url": _changelist(Payment, user=customer.pk),
    }


def _credits_section(request, customer: User) -> dict:
    balance_pk = (
        getattr(getattr(customer, "credit_balance", None), "pk", None)
        if _has_balance(customer)
        else None
    )
    return {
        "credits": credit_summary(user=customer),
        "credit_actions": actions_for(
            request, CreditBalance, balance_pk, [("adjust_credits", "Adjust credits")]
        )
        if balance_pk
        else [],
        "ledger_url": _changelist(CreditTransaction, user=customer.pk),
        "lots_url": _changelist(CreditGrant, user=customer.pk),
    }


def _support_section(request, customer: User, may_view: dict) -> dict:
    """Tickets, API keys and the audit trail."""
    tickets = list(
        Ticket.objects.filter(customer=customer)
        .select_related("assignee")
        .order_by("-created_at", "-id")[:ROWS]
    )
    keys = list(ApiKey.objects.filter(user=customer).order_by("-created_at", "-id")[:ROWS])
    trail = _audit_trail(customer)
    names = describe_resources(trail)
    return {
        "tickets": [{"row": ticket, "url": _change(ticket)} for ticket in tickets]
        if may_view[Ticket]
        else None,
        "tickets_url": _changelist(Ticket, customer=customer.pk),
        "api_keys": [
            {
                "row": key,
                "url": _change(key),
                "actions": actions_for(
                    request,
                    ApiKey,
                    key.pk,
                    [("revoke_selected", "Revoke")],
                    danger=frozenset({"revoke_selected"}),
                )
                if key.revoked_at is None
                else [],
            }
            for key in keys
        ]
        if may_view[ApiKey]
        else None,
        "api_keys_url": _changelist(ApiKey, user=customer.pk),
        "audit": [
            {"row": row, "what": names.get((row.resource_type, row.resource_id))} for row in trail
        ]
        if may_view[AuditLog]
        else None,
        "audit_url": _changelist(AuditLog, q=customer.email),
    }


def _subscription_actions(subscription) -> list[tuple[str, str]]:
    """What the subscription's state allows (the services refuse the rest anyway)."""
    status, offered = subscription.status, []
    if status == SubscriptionStatus.TRIALING:
        offered.append(("action_extend_trial", "Extend trial"))
    if status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE):
        offered.append(("action_comp_period", "Give next period free"))
    if subscription.billing_source == BillingSource.MANUAL and subscription.is_live:
        offered.append(("action_issue_invoice", "Issue invoice"))
    if subscription.is_live:
        if not subscription.cancel_at_period_end:
            offered.append(("action_cancel_at_end", "Cancel at period end"))
        offered.append(("action_cancel_now", "Cancel now"))
    return offered


def _order_actions(order) -> list[tuple[str, str]]:
    """Mark paid while the order waits for its money; refund once it is paid and not yet
    refunded in full."""
    if order.status == OrderStatus.PENDING:
        return [("action_mark_paid", "Mark paid")]
    if (
        order.status in (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED)
        and order.refunded_amount < order.total
    ):
        return [("action_refund", "Refund")]
    return []


def _has_balance(customer) -> bool:
    return CreditBalance.objects.filter(user=customer).exists()


TRAIL_IDS = 50  # the customer's most recent rows of each kind whose history is shown


def _audit_trail(customer) -> list[AuditLog]:
    """What the customer did, and what was done to their account and to their most recent
    orders, invoices, subscriptions and tickets, newest first: one query over the audit log's
    actor and (resource type, resource id) indexes."""

    def recent(model, owner="user"):
        return [
            str(pk)
            for pk in model.objects.filter(**{owner: customer})
            .order_by("-id")
            .values_list("pk", flat=True)[:TRAIL_IDS]
        ]

    wanted = Q(actor=customer) | Q(resource_type="accounts.User", resource_id=str(customer.pk))
    for model, owner in (
        (Order, "user"),
        (Invoice, "user"),
        (Subscription, "user"),
        (Ticket, "customer"),
    ):
        ids = recent(model, owner)
        if ids:
            wanted |= Q(resource_type=model._meta.label, resource_id__in=ids)
    return list(
        AuditLog.objects.filter(wanted)
        .select_related("actor")
        .order_by("-created_at", "-id")[:ROWS]
    )


def customer_overview(model_admin):
    """The view of the customer page, for ``model_admin``'s URL."""

    def view(request, pk):
        customer = get_object_or_404(User.all_objects, pk=pk)
        context = {
            **model_admin.admin_site.each_context(request),
            **customer_context(request, customer),
            "title": customer.name,
            "subtitle": "Customer"
            if customer.role == Role.CUSTOMER
            else f"{customer.get_role_display()} (staff)",
            "opts": model_admin.model._meta,
            "customers_url": _changelist(model_admin.model),
        }
        request.current_app = model_admin.admin_site.name
        return TemplateResponse(request, "console/customer.html", context)

    return view
