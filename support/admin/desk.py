"""The ticket desk's list filters and the small forms on a ticket's page (reply, note,
status, merge; a refund, credits or a longer trial asked for from the ticket)."""

from django import forms
from django.contrib import admin
from django.utils import timezone

from accounts.models import SUPPORT_DESK_ROLES, User
from backoffice.forms import MoneyField
from billing.models import Order, RefundReason
from billing.services.subscriptions.state import TRIAL_EXTENSION_MAX_DAYS
from core.ids import BIGINT_MAX, parse_id
from core.money import format_money
from credits.admin import CreditAmountField, check_room
from support.forms import MultipleFileField
from support.models import Ticket, TicketPriority, TicketStatus


def staff_users():
    return User.objects.filter(role__in=SUPPORT_DESK_ROLES, is_active=True).order_by("email")


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        return [("me", "Assigned to me"), ("none", "Unassigned")] + [
            (str(u.pk), u.name) for u in staff_users()
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        assignee_id = parse_id(value)  # "²" passes isdigit() but not int(): a 500 once
        if assignee_id:
            return queryset.filter(assignee_id=assignee_id)
        return queryset


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("active", "Active (open, in progress, waiting)"),
            ("waiting", "Waiting on customer"),
            ("breaching", "Breaching SLA"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.active()
        if self.value() == "waiting":
            return queryset.filter(status=TicketStatus.WAITING_ON_CUSTOMER)
        if self.value() == "breaching":
            return queryset.breaching_sla(timezone.now())
        return queryset


class TicketActionForm(forms.Form):
    """The "Work the ticket" forms on the ticket page; each posts to ``act/`` with an
    ``operation``. They are forms of their own beside the (read-only) change form, never
    inside it: a browser ignores a form nested in another and would post the outer one."""

    OPERATIONS = ("reply", "note", "status", "priority", "assign", "merge")
    operation = forms.ChoiceField(choices=[(o, o) for o in OPERATIONS])
    body = forms.CharField(required=False, max_length=20_000)
    attachments = MultipleFileField(required=False)
    status = forms.ChoiceField(required=False, choices=TicketStatus.choices)
    priority = forms.ChoiceField(required=False, choices=TicketPriority.choices)
    assignee = forms.ModelChoiceField(required=False, queryset=User.objects.none())
    into = forms.ModelChoiceField(
        required=False, queryset=Ticket.objects.none(), label="Merge into"
    )
    confirm = forms.BooleanField(required=False)

    def __init__(self, *args, ticket, **kwargs):
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        self.fields["assignee"].queryset = staff_users()
        self.fields["into"].queryset = merge_targets(ticket)

    def clean(self):
        data = super().clean()
        operation = data.get("operation")
        if operation in ("reply", "note") and not (data.get("body") or "").strip():
            self.add_error("body", "Write a message first.")
        if operation == "note" and data.get("attachments"):
            self.add_error(
                "attachments", "Files go with a reply to the customer, not with an internal note."
            )
        if operation == "status" and not data.get("status"):
            self.add_error("status", "Choose a status.")
        if operation == "priority" and not data.get("priority"):
            self.add_error("priority", "Choose a priority.")
        if operation == "merge":
            if not data.get("into"):
                self.add_error("into", "Choose the ticket to keep.")
            if not data.get("confirm"):
                self.add_error(
                    "confirm",
                    "Tick the box to confirm: this ticket will be closed and its messages moved.",
                )
        return data


def merge_targets(ticket):
    """The tickets this one may be merged into: the same customer's other open ones."""
    return (
        Ticket.objects.filter(customer_id=ticket.customer_id)
        .exclude(pk=ticket.pk)
        .exclude(status=TicketStatus.CLOSED)
        .order_by("-created_at")
    )


class RefundActionForm(forms.Form):
    """A refund from the ticket page: one of the ticket customer's orders, an amount in major
    units of the order's currency (at most what is left to refund), a reason."""

    order = forms.IntegerField(
        min_value=1, max_value=BIGINT_MAX, error_messages={"required": "Choose an order."}
    )
    amount = MoneyField(help_text="In the order's currency, e.g. 12.50.")
    reason = forms.ChoiceField(choices=RefundReason.choices)
    notes = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = Order.objects.filter(
            pk=parse_id(self.data.get("order")), user=customer
        ).first()
        if self.order is not None:
            self.fields["amount"].set_currency(self.order.currency)

    def clean_order(self):
        if self.order is None:
            raise forms.ValidationError("That order does not belong to this customer.")
        return self.order

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if self.order is not None and amount > self.order.refundable_amount:
            raise forms.ValidationError(
                f"This is larger than what is left to refund on {self.order.number}: "
                f"{format_money(self.order.refundable_amount, self.order.currency)}."
            )
        return amount


class CreditActionForm(forms.Form):
    amount = CreditAmountField(help_text="Positive grants credits, negative removes them.")
    reason = forms.CharField(max_length=500)

    def __init__(self, *args, balance: int, customer, **kwargs):
        self.balance, self.customer = balance, customer
        super().__init__(*args, **kwargs)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("Enter a non-zero number of credits.")
        check_room(amount, [(self.customer.email, self.balance)])
        return amount


class ExtendTrialActionForm(forms.Form):
    # Whose subscription it is and whether it is trialing is the approval's check
    # (billing.executors.check_trial_extension), so the page and any other caller refuse alike.
    subscription = forms.IntegerField(min_value=1, max_value=BIGINT_MAX)
    days = forms.IntegerField(min_value=1, max_value=TRIAL_EXTENSION_MAX_DAYS)
    reason = forms.CharField(max_length=500)


def form_errors(form) -> str:
    """A bound form's errors as one line for the message shown on the ticket page."""
    parts = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = (field.label or name.replace("_", " ").capitalize()) if field else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return " ".join(parts)
