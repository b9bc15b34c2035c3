"""The ticket desk: the list of tickets, a ticket's page and its small forms, the list actions.

Ticket fields are read-only in the form: every change (reply, internal note, status, priority,
assignment, merge, approvals) goes through ``support.services`` / ``support.approvals`` from
the small forms on the ticket page and the list actions, so the state machine, audit log and
e-mails apply exactly as they do everywhere else.
"""

import copy

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts import authority
from backoffice.policy import policy_action
from billing.models import RefundReason, Subscription
from billing.services.subscriptions.state import TRIAL_EXTENSION_MAX_DAYS
from core.api import DomainError
from core.money import format_money
from core.system_config import get_config
from credits import selectors as credit_selectors
from support import approvals, panel, selectors, services
from support.admin.desk import (
    AssigneeFilter,
    CreditActionForm,
    ExtendTrialActionForm,
    QueueFilter,
    RefundActionForm,
    TicketActionForm,
    form_errors,
    merge_targets,
    staff_users,
)
from support.attachments import MAX_ATTACHMENTS_PER_MESSAGE
from support.models import TRANSITIONS, ApprovalStatus, Ticket, TicketPriority, TicketStatus

# --- the ticket panel's operations: each through its service; (what happened, the ticket to
# show next) ---------------------------------------------------------------------------------


def _reply(ticket, data, user):
    message = services.reply(
        ticket=ticket, author=user, body=data["body"], files=data["attachments"]
    )
    files = message.attachments.count()
    done = f"Reply sent: it is on the ticket and e-mailed to {ticket.customer.email}" + (
        f", with {files} attachment(s)." if files else "."
    )
    return done, ticket.pk


def _note(ticket, data, user):
    services.add_internal_note(ticket=ticket, author=user, body=data["body"])
    return "Internal note added. The customer does not see it and is not e-mailed.", ticket.pk


def _status(ticket, data, user):
    old = ticket.get_status_display()
    ticket = services.change_status(ticket=ticket, status=data["status"], actor=user)
    done = (
        f"Status changed from {old} to {ticket.get_status_display()}; "
        f"{ticket.customer.email} is e-mailed about it."
    )
    return done, ticket.pk


def _priority(ticket, data, user):
    ticket = services.change_priority(ticket=ticket, priority=data["priority"], actor=user)
    done = (
        f"Priority changed to {ticket.get_priority_display()}; the SLA deadlines were recomputed."
    )
    return done, ticket.pk


def _assign(ticket, data, user):
    services.assign(ticket=ticket, assignee=data["assignee"], actor=user)
    done = (
        f"Assigned to {data['assignee'].name}."
        if data["assignee"]
        else "The ticket is now unassigned."
    )
    return done, ticket.pk


def _merge(ticket, data, user):
    target = services.merge(source=ticket, target=data["into"], actor=user)
    done = (
        f"{ticket.number} was merged into {target.number} and closed; its "
        "messages are now on this ticket."
    )
    return done, target.pk


_OPERATIONS = {
    "reply": _reply,
    "note": _note,
    "status": _status,
    "priority": _priority,
    "assign": _assign,
    "merge": _merge,
}


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    change_form_template = "support/admin/ticket_change_form.html"
    list_display = (
        "number",
        "subject",
        "customer",
        "status_badge",
        "priority",
        "assignee",
        "sla_flag",
        "created_at",
        "updated_at",
    )
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
        "support_ticket_extend_trial": ("support.ticket.work", "billing.subscription.extend_trial"),
    }
    readonly_fields = (
        "number",
        "customer",
        "assignee",
        "subject",
        "description",
        "status",
        "priority",
        "metadata",
        "first_response_at",
        "first_response_due_at",
        "resolved_at",
        "resolution_due_at",
        "closed_at",
        "merged_into",
        "created_at",
        "updated_at",
    )
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
            path(
                "<int:pk>/act/",
                self.admin_site.admin_view(self.act_view),
                name="support_ticket_act",
            ),
            path(
                "<int:pk>/credits/",
                self.admin_site.admin_view(self.credits_view),
                name="support_ticket_credits",
            ),
            path(
                "<int:pk>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="support_ticket_refund",
            ),
            path(
                "<int:pk>/extend-trial/",
                self.admin_site.admin_view(self.extend_trial_view),
                name="support_ticket_extend_trial",
            ),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = get_object_or_404(Ticket, pk=object_id)
        if request.method == "POST":
            # Nothing on the change form itself is editable: saying "changed successfully"
            # to a post here would be untrue. Each action has its own form on the page.
            self.message_user(
                request,
                "Nothing was saved: this page has no editable fields. "
                "Use the forms under \u201cWork the ticket\u201d.",
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:support_ticket_change", args=[ticket.pk]))
        extra_context = {
            # The ticket's own fields are read-only: no Save buttons that would save nothing.
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
            "merge_targets": merge_targets(ticket),
            "max_attachments": MAX_ATTACHMENTS_PER_MESSAGE,
            **(extra_context or {}),
            "thread": selectors.staff_thread(ticket),
            "next_statuses": [
                (s, TicketStatus(s).label)
                for s in TicketStatus.values
                if s in TRANSITIONS[ticket.status]
            ],
            "priorities": TicketPriority.choices,
            "agents": staff_users(),
            "ticket": ticket,
            "billing_panel": panel.billing_panel(ticket.customer),
            "refund_reasons": RefundReason.choices,
            "trial_max_days": TRIAL_EXTENSION_MAX_DAYS,
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
            self.message_user(
                request,
                f"Please fill in the form correctly: {form_errors(form)} Nothing was changed.",
                messages.ERROR,
            )
            return self._with_errors(request, ticket, act_form=form)
        operation = _OPERATIONS[form.cleaned_data["operation"]]
        back = ticket.pk
        try:
            done, back = operation(ticket, form.cleaned_data, request.user)
        except DomainError as exc:
            self.message_user(request, f"{exc.message} Nothing was changed.", messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:support_ticket_change", args=[back]))

    def _with_errors(self, request, ticket, **panel_forms):
        """The ticket page again, answering 400: the refused panel form keeps what was typed
        and shows each error beside its field; nothing was changed."""
        page_request = copy.copy(request)
        page_request.method = "GET"  # show the page; the POST was the panel form's
        response = self.change_view(
            page_request,
            str(ticket.pk),
            form_url=reverse("admin:support_ticket_change", args=[ticket.pk]),
            extra_context=panel_forms,
        )
        response.status_code = 400
        return response

    def credits_view(self, request, pk):
        """Request a credit adjustment for the ticket's customer (may need approval)."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        ticket = get_object_or_404(Ticket, pk=pk)
        form = CreditActionForm(
            request.POST,
            customer=ticket.customer,
            balance=credit_selectors.balance_of(user=ticket.customer),
        )
        if not form.is_valid():
            self.message_user(
                request, "The credits were not adjusted: see the form.", messages.ERROR
            )
            return self._with_errors(request, ticket, credits_form=form)
        amount = form.cleaned_data["amount"]
        payload = {
            "user_id": ticket.customer_id,
            "amount": amount,
            "reason": f"{form.cleaned_data['reason']} (ticket {ticket.number})",
        }
        self._request(
            request,
            "credits.adjust",
            payload,
            approvals.credits_amount(payload),
            ticket,
            form.cleaned_data["reason"],
            done=f"Credits adjusted by {amount:+,} for {ticket.customer.email}.",
        )
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
        payload = {
            "user_id": ticket.customer_id,
            "order_id": order.pk,
            "amount": amount,
            "reason": data["reason"],
            "notes": f"{data['notes']} (ticket {ticket.number})".strip(),
        }
        self._request(
            request,
            "billing.refund",
            payload,
            amount,
            ticket,
            data["notes"],
            currency=order.currency,
            done=f"Refund of {format_money(amount, order.currency)} issued on {order.number}.",
        )
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
            self.message_user(
                request, f"Could not extend the trial. {form_errors(form)}", messages.ERROR
            )
            return self._with_errors(request, ticket, trial_form=form)
        data = form.cleaned_data
        subscription = Subscription.objects.filter(
            pk=data["subscription"], user=ticket.customer
        ).first()
        trial_end = getattr(subscription, "trial_end", None)
        payload = {
            "user_id": ticket.customer_id,
            "subscription_id": data["subscription"],
            "days": data["days"],
            "trial_end": trial_end and trial_end.isoformat(),
            "reason": f"{data['reason']} (ticket {ticket.number})",
        }
        self._request(
            request,
            "billing.subscription.extend_trial",
            payload,
            data["days"],
            ticket,
            data["reason"],
            done=f"Trial extended by {data['days']} days.",
        )
        return back

    def _request(
        self, request, action_key, payload, amount, ticket, reason, *, currency="", done="Done."
    ):
        try:
            approval = approvals.request_action(
                action_key=action_key,
                payload=payload,
                amount=amount,
                requested_by=request.user,
                ticket=ticket,
                reason=reason,
                currency=currency,
            )
        except DomainError as exc:
            # A note says when the request was kept for a second staff member to retry.
            self.message_user(
                request, " ".join([exc.message, *getattr(exc, "__notes__", [])]), messages.ERROR
            )
            return
        if approval.status == ApprovalStatus.PENDING:
            limit = authority.limit_for(request.user, action_key)
            above = (
                f" is above your limit of {authority.describe_amount(action_key, limit, currency)}"
                if limit is not None
                else " needs a second staff member"
            )
            self.message_user(
                request,
                f"Approval requested (#{approval.pk}): "
                f"{authority.describe_amount(action_key, amount, currency)}{above}. "
                "Nothing is done yet: waiting for a second staff member to "
                "approve it in Approval requests.",
                messages.WARNING,
            )
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
        return TemplateResponse(
            request,
            "support/admin/assign.html",
            {
                **self.admin_site.each_context(request),
                "tickets": queryset,
                "agents": staff_users(),
                "action": "assign_to_agent",
                "title": f"Assign {len(queryset)} ticket(s)",
                "opts": self.model._meta,
            },
        )

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
                    self.message_user(request, f"{source.number}: {exc.message}", messages.ERROR)
            self.message_user(request, f"{merged} ticket(s) merged into {target.number}.")
            return None
        return TemplateResponse(
            request,
            "support/admin/merge.html",
            {
                **self.admin_site.each_context(request),
                "tickets": tickets,
                "action": "merge_tickets",
                "title": f"Merge {len(tickets)} tickets",
                "opts": self.model._meta,
            },
        )
