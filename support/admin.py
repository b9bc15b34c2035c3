"""The staff console for the support desk.

Ticket fields are read-only in the form: every change (reply, internal note, status, priority,
assignment, merge, approvals) goes through ``support.services`` / ``support.approvals`` from
the small forms on the ticket page and the list actions, so the state machine, audit log and
e-mails apply exactly as they do everywhere else.
"""

import copy

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts import authority
from accounts.models import SUPPORT_DESK_ROLES, User
from billing.models import Order, RefundReason, Subscription
from config.admin import (
    LargeTableAdmin,
    MoneyField,
    ReadOnlyAdmin,
    by_full_text,
    by_id,
    by_user_email,
    policy_action,
)
from core import audit
from core.api import DomainError
from core.ids import BIGINT_MAX, parse_id
from core.models import AuditAction
from core.money import format_money
from core.system_config import get_config
from credits import selectors as credit_selectors
from credits.admin import CreditAmountField, check_room
from support import approvals, embeddings, kb, panel, selectors, services
from support.attachments import MAX_ATTACHMENTS_PER_MESSAGE
from support.forms import MultipleFileField
from support.models import (
    TRANSITIONS,
    ApprovalRequest,
    ApprovalStatus,
    Article,
    ArticleStatus,
    ChatMessage,
    Conversation,
    Ticket,
    TicketPriority,
    TicketStatus,
)


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
    into = forms.ModelChoiceField(required=False, queryset=Ticket.objects.none(),
                                  label="Merge into")
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
            self.add_error("attachments", "Files go with a reply to the customer, not with "
                                          "an internal note.")
        if operation == "status" and not data.get("status"):
            self.add_error("status", "Choose a status.")
        if operation == "priority" and not data.get("priority"):
            self.add_error("priority", "Choose a priority.")
        if operation == "merge":
            if not data.get("into"):
                self.add_error("into", "Choose the ticket to keep.")
            if not data.get("confirm"):
                self.add_error("confirm", "Tick the box to confirm: this ticket will be "
                                          "closed and its messages moved.")
        return data


def merge_targets(ticket):
    """The tickets this one may be merged into: the same customer's other open ones."""
    return (Ticket.objects.filter(customer_id=ticket.customer_id)
            .exclude(pk=ticket.pk).exclude(status=TicketStatus.CLOSED).order_by("-created_at"))


class RefundActionForm(forms.Form):
    """A refund from the ticket page: one of the ticket customer's orders, an amount in major
    units of the order's currency (at most what is left to refund), a reason."""

    order = forms.IntegerField(min_value=1, max_value=BIGINT_MAX,
                               error_messages={"required": "Choose an order."})
    amount = MoneyField(help_text="In the order's currency, e.g. 12.50.")
    reason = forms.ChoiceField(choices=RefundReason.choices)
    notes = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = Order.objects.filter(pk=parse_id(self.data.get("order")),
                                          user=customer).first()
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
                f"{format_money(self.order.refundable_amount, self.order.currency)}.")
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
    # (approvals.check_trial_extension), so the page and any other caller refuse alike.
    subscription = forms.IntegerField(min_value=1, max_value=BIGINT_MAX)
    days = forms.IntegerField(min_value=1, max_value=approvals.TRIAL_EXTENSION_MAX_DAYS)
    reason = forms.CharField(max_length=500)


def form_errors(form) -> str:
    """A bound form's errors as one line for the message shown on the ticket page."""
    parts = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = (field.label or name.replace("_", " ").capitalize()) if field else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return " ".join(parts)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    change_form_template = "support/admin/ticket_change_form.html"
    list_display = ("number", "subject", "customer", "status_badge", "priority", "assignee",
                    "sla_flag", "created_at", "updated_at")
    list_filter = (QueueFilter, "status", "priority", AssigneeFilter)
    search_fields = ("number", "subject", "customer__email")
    list_select_related = ("customer", "assignee")
    ordering = ("-created_at",)
    actions = ["assign_to_me", "assign_to_agent", "merge_tickets"]
    # The billing panel's actions are ticket work and a money action at once.
    policy_urls = {
        "support_ticket_act": "support.ticket.work",
        "support_ticket_credits": ("support.ticket.work", "credits.adjust"),
        "support_ticket_refund": ("support.ticket.work", "billing.refund"),
        "support_ticket_extend_trial": ("support.ticket.work",
                                        "billing.subscription.extend_trial"),
    }
    readonly_fields = ("number", "customer", "assignee", "subject", "description", "status",
                       "priority", "metadata", "first_response_at", "first_response_due_at",
                       "resolved_at", "resolution_due_at", "closed_at", "merged_into",
                       "created_at", "updated_at")
    fields = readonly_fields

    def has_add_permission(self, request):
        # Customers open tickets from the site, the API or the help bot (with their consent
        # to what is sent); staff do not create them here.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return obj.get_status_display()

    @admin.display(description="SLA", boolean=True)
    def sla_flag(self, obj):
        # True = within SLA; False = breaching (shown as a red cross).
        return not obj.sla_breached

    # --- the ticket page ------------------------------------------------------------------

    def get_urls(self):
        return [
            path("<int:pk>/act/", self.admin_site.admin_view(self.act_view),
                 name="support_ticket_act"),
            path("<int:pk>/credits/", self.admin_site.admin_view(self.credits_view),
                 name="support_ticket_credits"),
            path("<int:pk>/refund/", self.admin_site.admin_view(self.refund_view),
                 name="support_ticket_refund"),
            path("<int:pk>/extend-trial/", self.admin_site.admin_view(self.extend_trial_view),
                 name="support_ticket_extend_trial"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = get_object_or_404(Ticket, pk=object_id)
        if request.method == "POST":
            # Nothing on the change form itself is editable: saying "changed successfully"
            # to a post here would be untrue. Each action has its own form on the page.
            self.message_user(request, "Nothing was saved: this page has no editable fields. "
                                       "Use the forms under \u201cWork the ticket\u201d.",
                              messages.WARNING)
            return HttpResponseRedirect(reverse("admin:support_ticket_change",
                                                args=[ticket.pk]))
        extra_context = {
            # The ticket's own fields are read-only: no Save buttons that would save nothing.
            "show_save": False, "show_save_and_continue": False,
            "show_save_and_add_another": False, "show_delete": False,
            "merge_targets": merge_targets(ticket),
            "max_attachments": MAX_ATTACHMENTS_PER_MESSAGE,
            **(extra_context or {}),
            "thread": selectors.staff_thread(ticket),
            "next_statuses": [(s, TicketStatus(s).label) for s in TicketStatus.values
                              if s in TRANSITIONS[ticket.status]],
            "priorities": TicketPriority.choices,
            "agents": staff_users(),
            "ticket": ticket,
            "billing_panel": panel.billing_panel(ticket.customer),
            "refund_reasons": RefundReason.choices,
            "trial_max_days": approvals.TRIAL_EXTENSION_MAX_DAYS,
            "trial_threshold_days": get_config("support_trial_approval_threshold_days"),
            "approvals": ticket.approval_requests.select_related("requested_by", "approved_by"),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def act_view(self, request, pk):
        """Reply, internal note, status, priority, assignment or merge, each through its
        service (saved, audited, e-mailed where the customer should hear), then the ticket
        page with a message saying what happened. A refused form is the page again with the
        error beside its field; nothing is changed."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        ticket = get_object_or_404(Ticket.objects.select_related("customer"), pk=pk)
        form = TicketActionForm(request.POST, request.FILES, ticket=ticket)
        if not form.is_valid():
            self.message_user(request, f"Please fill in the form correctly: "
                                       f"{form_errors(form)} Nothing was changed.",
                              messages.ERROR)
            return self._with_errors(request, ticket, act_form=form)
        data, user = form.cleaned_data, request.user
        operation = data["operation"]
        back = reverse("admin:support_ticket_change", args=[pk])
        try:
            if operation == "reply":
                message = services.reply(ticket=ticket, author=user, body=data["body"],
                                         files=data["attachments"])
                files = message.attachments.count()
                done = (f"Reply sent: it is on the ticket and e-mailed to "
                        f"{ticket.customer.email}"
                        + (f", with {files} attachment(s)." if files else "."))
            elif operation == "note":
                services.add_internal_note(ticket=ticket, author=user, body=data["body"])
                done = "Internal note added. The customer does not see it and is not e-mailed."
            elif operation == "status":
                old = ticket.get_status_display()
                ticket = services.change_status(ticket=ticket, status=data["status"],
                                                actor=user)
                done = (f"Status changed from {old} to {ticket.get_status_display()}; "
                        f"{ticket.customer.email} is e-mailed about it.")
            elif operation == "priority":
                ticket = services.change_priority(ticket=ticket, priority=data["priority"],
                                                  actor=user)
                done = (f"Priority changed to {ticket.get_priority_display()}; the SLA "
                        "deadlines were recomputed.")
            elif operation == "assign":
                services.assign(ticket=ticket, assignee=data["assignee"], actor=user)
                done = (f"Assigned to {data['assignee'].name}." if data["assignee"]
                        else "The ticket is now unassigned.")
            else:  # merge
                target = services.merge(source=ticket, target=data["into"], actor=user)
                back = reverse("admin:support_ticket_change", args=[target.pk])
                done = (f"{ticket.number} was merged into {target.number} and closed; its "
                        "messages are now on this ticket.")
        except DomainError as exc:
            self.message_user(request, f"{exc.message} Nothing was changed.", messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(back)

    def _with_errors(self, request, ticket, **panel_forms):
        """The ticket page again, answering 400: the refused panel form keeps what was typed
        and shows each error beside its field; nothing was changed."""
        page_request = copy.copy(request)
        page_request.method = "GET"  # show the page; the POST was the panel form's
        response = self.change_view(page_request, str(ticket.pk),
                                    form_url=reverse("admin:support_ticket_change",
                                                     args=[ticket.pk]),
                                    extra_context=panel_forms)
        response.status_code = 400
        return response

    def credits_view(self, request, pk):
        """Request a credit adjustment for the ticket's customer (may need approval)."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        ticket = get_object_or_404(Ticket, pk=pk)
        form = CreditActionForm(request.POST, customer=ticket.customer,
                                balance=credit_selectors.balance_of(user=ticket.customer))
        if not form.is_valid():
            self.message_user(request, "The credits were not adjusted: see the form.",
                              messages.ERROR)
            return self._with_errors(request, ticket, credits_form=form)
        amount = form.cleaned_data["amount"]
        payload = {"user_id": ticket.customer_id, "amount": amount,
                   "reason": f"{form.cleaned_data['reason']} (ticket {ticket.number})"}
        self._request(request, "credits.adjust", payload, approvals.credits_amount(payload),
                      ticket, form.cleaned_data["reason"],
                      done=f"Credits adjusted by {amount:+,} for {ticket.customer.email}.")
        return HttpResponseRedirect(reverse("admin:support_ticket_change", args=[pk]))

    def refund_view(self, request, pk):
        """Request a refund of one of the ticket customer's orders (may need approval)."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        ticket = get_object_or_404(Ticket, pk=pk)
        form = RefundActionForm(request.POST, customer=ticket.customer)
        if not form.is_valid():
            self.message_user(request, "No refund was made: see the form.", messages.ERROR)
            return self._with_errors(request, ticket, refund_form=form)
        data = form.cleaned_data
        order, amount = data["order"], data["amount"]
        payload = {"user_id": ticket.customer_id, "order_id": order.pk,
                   "amount": amount, "reason": data["reason"],
                   "notes": f"{data['notes']} (ticket {ticket.number})".strip()}
        self._request(request, "billing.refund", payload, amount, ticket,
                      data["notes"], currency=order.currency,
                      done=f"Refund of {format_money(amount, order.currency)} issued on "
                           f"{order.number}.")
        return HttpResponseRedirect(reverse("admin:support_ticket_change", args=[pk]))

    def extend_trial_view(self, request, pk):
        """Request a trial extension for one of the ticket customer's trialing subscriptions
        (longer ones need approval). Bad input changes nothing and says why on the page."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        ticket = get_object_or_404(Ticket, pk=pk)
        form = ExtendTrialActionForm(request.POST)
        back = HttpResponseRedirect(reverse("admin:support_ticket_change", args=[pk]))
        if not form.is_valid():
            self.message_user(request, f"Could not extend the trial. {form_errors(form)}",
                              messages.ERROR)
            return self._with_errors(request, ticket, trial_form=form)
        data = form.cleaned_data
        subscription = Subscription.objects.filter(pk=data["subscription"],
                                                   user=ticket.customer).first()
        trial_end = getattr(subscription, "trial_end", None)
        payload = {"user_id": ticket.customer_id, "subscription_id": data["subscription"],
                   "days": data["days"], "trial_end": trial_end and trial_end.isoformat(),
                   "reason": f"{data['reason']} (ticket {ticket.number})"}
        self._request(request, "billing.subscription.extend_trial", payload, data["days"], ticket,
                      data["reason"], done=f"Trial extended by {data['days']} days.")
        return back

    def _request(self, request, action_key, payload, amount, ticket, reason, *, currency="",
                 done="Done."):
        try:
            approval = approvals.request_action(
                action_key=action_key, payload=payload, amount=amount,
                requested_by=request.user, ticket=ticket, reason=reason, currency=currency)
        except DomainError as exc:
            # A note says when the request was kept for a second staff member to retry.
            self.message_user(request, " ".join([exc.message, *getattr(exc, "__notes__", [])]),
                              messages.ERROR)
            return
        if approval.status == ApprovalStatus.PENDING:
            limit = authority.limit_for(request.user, action_key)
            above = (f" is above your limit of "
                     f"{authority.describe_amount(action_key, limit, currency)}"
                     if limit is not None else " needs a second staff member")
            self.message_user(
                request, f"Approval requested (#{approval.pk}): "
                         f"{authority.describe_amount(action_key, amount, currency)}{above}. "
                         "Nothing is done yet: waiting for a second staff member to "
                         "approve it in Approval requests.", messages.WARNING)
        else:
            self.message_user(request, done, messages.SUCCESS)

    # --- list actions ---------------------------------------------------------------------

    @policy_action("support.ticket.work", description="Assign to me")
    def assign_to_me(self, request, queryset):
        self._assign_all(request, queryset, request.user)

    def _assign_all(self, request, queryset, agent):
        done = 0
        for ticket in queryset:
            try:
                services.assign(ticket=ticket, assignee=agent, actor=request.user)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{ticket.number}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{done} ticket(s) assigned to {agent.name}.")

    @policy_action("support.ticket.work", description="Assign to an agent…")
    def assign_to_agent(self, request, queryset):
        if "agent" in request.POST:
            agent = staff_users().filter(pk=request.POST.get("agent")).first()
            if agent is None:
                self.message_user(request, "Choose a SUPPORT or ADMIN agent.", messages.ERROR)
                return None
            self._assign_all(request, queryset, agent)
            return None
        return TemplateResponse(request, "support/admin/assign.html", {
            **self.admin_site.each_context(request), "tickets": queryset,
            "agents": staff_users(), "action": "assign_to_agent",
            "title": f"Assign {len(queryset)} ticket(s)", "opts": self.model._meta,
        })

    @policy_action("support.ticket.work", description="Merge duplicates into one ticket…")
    def merge_tickets(self, request, queryset):
        tickets = list(queryset.select_related("customer"))
        if len(tickets) < 2:
            self.message_user(request, "Select at least two tickets to merge.", messages.ERROR)
            return None
        if "target" in request.POST and request.POST.get("confirm") == "yes":
            target = next((t for t in tickets if str(t.pk) == request.POST["target"]), None)
            if target is None:
                self.message_user(request, "Choose the ticket to keep.", messages.ERROR)
                return None
            merged = 0
            for source in tickets:
                if source.pk == target.pk:
                    continue
                try:
                    services.merge(source=source, target=target, actor=request.user)
                    merged += 1
                except DomainError as exc:
                    self.message_user(request, f"{source.number}: {exc.message}",
                                      messages.ERROR)
            self.message_user(request, f"{merged} ticket(s) merged into {target.number}.")
            return None
        return TemplateResponse(request, "support/admin/merge.html", {
            **self.admin_site.each_context(request), "tickets": tickets,
            "action": "merge_tickets", "title": f"Merge {len(tickets)} tickets",
            "opts": self.model._meta,
        })


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "content_type", "status", "updated_at")
    list_filter = ("status", "content_type")
    search_fields = ("title", "slug", "body")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("preview", "published_at", "created_at", "updated_at")
    fields = ("title", "slug", "summary", "content_type", "status", "tags", "body", "preview",
              "published_at", "created_at", "updated_at")

    @admin.display(description="Preview (as customers see it)")
    def preview(self, obj):
        if not obj or not obj.body:
            return "Save to see a preview."
        return format_html('<div class="article-preview">{}</div>', kb.render_markdown(obj.body))

    def save_model(self, request, obj, form, change):
        # The admin wraps this in its transaction, so the audit row commits with the change.
        if obj.status == ArticleStatus.PUBLISHED and obj.published_at is None:
            obj.published_at = timezone.now()
        super().save_model(request, obj, form, change)
        audit.record(actor=request.user,
                     action=AuditAction.UPDATE if change else AuditAction.CREATE,
                     resource=obj, new={name: str(form.cleaned_data.get(name))
                                        for name in form.changed_data if name != "body"},
                     body_changed="body" in form.changed_data)
        # Its semantic vector follows the new text once this commits (no-op without pgvector).
        embeddings.queue_article(obj.pk)


class ChatMessageInline(admin.TabularInline):
    model = ChatMessage
    extra = 0
    can_delete = False
    fields = ("created_at", "role", "body", "answered", "helpful")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(LargeTableAdmin):
    list_display = ("pk", "customer", "created_at", "resolved", "handed_off_ticket")
    list_filter = ("resolved", ("handed_off_ticket", admin.EmptyFieldListFilter), "created_at")
    search_by = (by_user_email("customer"),
                 by_full_text("body", label="words in its messages", through="messages"),
                 by_id("conversation id"))
    list_select_related = ("customer", "handed_off_ticket")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    readonly_fields = ("customer", "resolved", "handed_off_ticket", "handed_off_at",
                       "created_at")
    fields = readonly_fields
    inlines = [ChatMessageInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChatMessage)
class ChatMessageAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """Every help-bot message, to read what customers ask and what the bot could not
    answer (answered: No)."""

    list_display = ("created_at", "conversation", "role", "short_body", "answered", "helpful")
    list_filter = ("role", "answered", "helpful", "created_at")
    search_by = (by_full_text("body"), by_user_email("conversation__customer"),
                 by_id("message id"))
    list_select_related = ("conversation",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")

    @admin.display(description="message")
    def short_body(self, obj):
        return obj.body if len(obj.body) <= 120 else f"{obj.body[:119]}…"


class ApprovalActionFilter(admin.SimpleListFilter):
    """Requests by action, named in the staff policy's words."""

    title = "action"
    parameter_name = "action_key"

    def lookups(self, request, model_admin):
        keys = model_admin.get_queryset(request).order_by().values_list(
            "action_key", flat=True).distinct()
        return sorted(((key, authority.POLICY[key].label if key in authority.POLICY else key)
                       for key in keys), key=lambda choice: choice[1])

    def queryset(self, request, queryset):
        return queryset.filter(action_key=self.value()) if self.value() else queryset


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = ("pk", "action", "amount_in_unit", "status", "requested_by",
                    "approved_by", "ticket", "created_at")
    list_filter = ("status", ApprovalActionFilter)
    readonly_fields = ("action", "amount_in_unit", "details", "reason", "status",
                       "requested_by", "approved_by", "decided_at", "executed_at", "result",
                       "ticket", "created_at")
    fields = readonly_fields
    actions = ["approve_selected", "reject_selected"]

    @admin.display(description="Action", ordering="action_key")
    def action(self, obj):
        return obj.action_label

    @admin.display(description="Amount", ordering="amount")
    def amount_in_unit(self, obj):
        return obj.amount_shown

    @admin.display(description="Details")
    def details(self, obj):
        """What was asked for, its amount in the action's unit (the stored payload holds
        minor units)."""
        payload = obj.payload if isinstance(obj.payload, dict) else {}
        if not payload:
            return None

        def shown(key, value):
            if (key == "amount" and isinstance(value, int) and not isinstance(value, bool)
                    and obj.action_key in authority.POLICY):
                return authority.describe_amount(obj.action_key, value, obj.currency)
            return value

        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", (
            (key.replace("_", " ").capitalize(), shown(key, value))
            for key, value in payload.items())))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, decide, verb):
        # A request decided already (by someone else, or a second click) is said so, once.
        for approval in queryset.exclude(status=ApprovalStatus.PENDING):
            self.message_user(request, f"#{approval.pk} is already "
                              f"{approval.get_status_display().lower()}: nothing was done.",
                              messages.WARNING)
        for approval in queryset.filter(Q(status=ApprovalStatus.PENDING)):
            try:
                decide(approval=approval, approver=request.user)
            except DomainError as exc:
                notes = " ".join(getattr(exc, "__notes__", []))
                self.message_user(request, f"#{approval.pk}: {exc.message} {notes}".strip(),
                                  messages.ERROR)
            else:
                self.message_user(request, f"#{approval.pk} {verb}.", messages.SUCCESS)

    @policy_action("support.approval.decide", description="Approve (and run) selected requests")
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, approvals.approve, "approved and executed")

    @policy_action("support.approval.decide", description="Reject selected requests")
    def reject_selected(self, request, queryset):
        self._decide(request, queryset, approvals.reject, "rejected")
