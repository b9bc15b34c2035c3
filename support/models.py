"""Support desk data: tickets and their threads, the knowledge base, help-bot chats, approvals.

Rules that concern one row live here (the status machine, SLA deadlines as stored columns);
every write that touches several rows or the outside goes through ``support.services``.
"""

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts import authority
from accounts.models import STAFF_ROLES, SUPPORT_DESK_ROLES, User
from core.models import TimeStampedModel


class TicketStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    WAITING_ON_CUSTOMER = "WAITING_ON_CUSTOMER", "Waiting on customer"
    RESOLVED = "RESOLVED", "Resolved"
    CLOSED = "CLOSED", "Closed"


class TicketPriority(models.TextChoices):
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"
    URGENT = "URGENT", "Urgent"


S = TicketStatus
# The status machine. CLOSED is terminal: a customer with a new problem opens a new ticket.
# RESOLVED -> OPEN is the customer's reopen (a reply within the reopen window); staff reopen a
# resolved ticket to IN_PROGRESS. IN_PROGRESS -> OPEN hands a ticket back to the queue.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.OPEN: frozenset({S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, S.RESOLVED, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.OPEN, S.WAITING_ON_CUSTOMER, S.RESOLVED, S.CLOSED}),
    S.WAITING_ON_CUSTOMER: frozenset({S.IN_PROGRESS, S.RESOLVED, S.CLOSED}),
    S.RESOLVED: frozenset({S.OPEN, S.IN_PROGRESS, S.CLOSED}),
    S.CLOSED: frozenset(),
}
ACTIVE_STATUSES = (S.OPEN, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER)


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


class TicketQuerySet(models.QuerySet["Ticket"]):
    def for_customer(self, user: User) -> "TicketQuerySet":
        return self.filter(customer=user)

    def active(self) -> "TicketQuerySet":
        return self.filter(status__in=ACTIVE_STATUSES)

    def breaching_sla(self, now: datetime | None = None) -> "TicketQuerySet":
        """Tickets whose first-response or resolution deadline has passed unmet."""
        now = now or timezone.now()
        return self.filter(self.breach_condition(now))

    @staticmethod
    def breach_condition(now: datetime) -> Q:
        no_response_yet = Q(first_response_at__isnull=True, first_response_due_at__lt=now)
        responded_late = Q(first_response_at__gt=models.F("first_response_due_at"))
        unresolved_late = Q(resolution_due_at__lt=now)
        # Only active tickets: the queue filter is about work that is late now. A resolved
        # ticket's breach still shows on its own page (Ticket.sla_breached).
        return Q(status__in=ACTIVE_STATUSES) & (no_response_yet | responded_late | unresolved_late)


class Ticket(TimeStampedModel):
    number = models.CharField(max_length=20, unique=True, null=True, blank=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="support_tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        limit_choices_to={"role__in": SUPPORT_DESK_ROLES},
    )
    subject = models.CharField(max_length=200)
    description = models.TextField()
    status = models.CharField(
        max_length=24, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )
    priority = models.CharField(
        max_length=8, choices=TicketPriority.choices, default=TicketPriority.MEDIUM
    )
    metadata = models.JSONField(default=dict, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # SLA deadlines are stored, not computed on read, so the queue can filter on them in SQL.
    # They are set from SystemConfig when the ticket opens and when its priority changes.
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_tickets"
    )
    related_order = models.ForeignKey(
        "billing.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="support_tickets",
    )
    related_subscription = models.ForeignKey(
        "billing.Subscription",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="support_tickets",
    )

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"]),
            models.Index(fields=["status", "priority"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(
                fields=["first_response_due_at"],
                condition=Q(first_response_at__isnull=True),
                name="ticket_awaiting_first_resp",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("id")), name="ticket_not_merged_into_itself"
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(status=S.CLOSED),
                name="ticket_closed_at_only_when_closed",
            ),
        ]

    def __str__(self):
        return f"{self.number or '#' + str(self.pk)}: {self.subject}"

    @property
    def first_response_breached(self) -> bool:
        if self.first_response_due_at is None:
            return False
        if self.first_response_at is not None:
            return self.first_response_at > self.first_response_due_at
        return self.status in ACTIVE_STATUSES and timezone.now() > self.first_response_due_at

    @property
    def resolution_breached(self) -> bool:
        if self.resolution_due_at is None:
            return False
        done_at = self.resolved_at or self.closed_at
        if done_at is not None and self.status not in ACTIVE_STATUSES:
            return done_at > self.resolution_due_at
        return timezone.now() > self.resolution_due_at

    @property
    def sla_breached(self) -> bool:
        return self.first_response_breached or self.resolution_breached


class TicketMessageQuerySet(models.QuerySet["TicketMessage"]):
    def public(self) -> "TicketMessageQuerySet":
        """What the customer may see: never internal notes."""
        return self.filter(internal=False)


class TicketMessage(TimeStampedModel):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    body = models.TextField()
    # A staff-only note: never shown to the customer, never in the customer API, e-mails or
    # exports. Every customer-facing read goes through TicketMessage.objects.public().
    internal = models.BooleanField(default=False)
    attachments = models.ManyToManyField("accounts.StoredFile", blank=True, related_name="+")

    objects = TicketMessageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "internal", "created_at"])]

    def __str__(self):
        return f"{'Note' if self.internal else 'Message'} on {self.ticket_id}"

    @property
    def from_staff(self) -> bool:
        return self.author is not None and self.author.role in STAFF_ROLES


class ArticleType(models.TextChoices):
    FAQ = "faq", "FAQ"
    GUIDE = "guide", "Guide"
    POLICY = "policy", "Policy"


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class ArticleQuerySet(models.QuerySet["Article"]):
    def published(self):
        return self.filter(status=ArticleStatus.PUBLISHED)


class Article(TimeStampedModel):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    summary = models.CharField(max_length=300, blank=True)
    body = models.TextField(help_text="Markdown. Rendered and sanitised; raw HTML is stripped.")
    content_type = models.CharField(
        max_length=8, choices=ArticleType.choices, default=ArticleType.FAQ
    )
    status = models.CharField(
        max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Kept current by a PostgreSQL trigger (migration 0001): title A, tags and summary B,
    # body C.
    # A trigger rather than a generated column because array_to_string is not IMMUTABLE.
    search_vector = SearchVectorField(null=True, editable=False)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["content_type", "title"]
        indexes = [
            GinIndex(fields=["search_vector"], name="article_search_gin"),
            GinIndex(fields=["tags"], name="article_tags_gin"),
            models.Index(fields=["status", "content_type"]),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return f"/help/{self.slug}/"


class Conversation(TimeStampedModel):
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="support_conversations"
    )
    resolved = models.BooleanField(default=False)
    handed_off_ticket = models.OneToOneField(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversation"
    )
    handed_off_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self):
        return f"Conversation {self.pk} with {self.customer}"


class ChatRole(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    BOT = "bot", "Bot"
    STAFF = "staff", "Staff"


class ChatMessage(TimeStampedModel):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=ChatRole.choices)
    body = models.TextField()
    cited_articles = models.ManyToManyField(Article, blank=True, related_name="+")
    # True when the bot found an answer in the knowledge base, False when it did not know.
    answered = models.BooleanField(null=True, blank=True)
    helpful = models.BooleanField(null=True, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(helpful__isnull=True) | Q(role=ChatRole.BOT),
                name="chatmessage_only_bot_rated",
            ),
        ]
        indexes = [
            # Staff search the messages by their words (config.admin.by_full_text).
            GinIndex(SearchVector("body", config="english"), name="chatmessage_body_search"),
        ]

    def __str__(self):
        return f"{self.role}: {self.body[:40]}"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXECUTED = "executed", "Executed"


class ApprovalRequest(TimeStampedModel):
    """A staff action waiting for (or done after) a second staff member's approval."""

    action_key = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    amount = models.BigIntegerField(help_text="Minor units for money, a count for credits.")
    currency = models.CharField(max_length=3, blank=True)
    reason = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="approval_requests"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="approval_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("requested_by")),
                name="approval_not_by_requester",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.action_label}: {self.amount_shown} ({self.get_status_display()})"

    @property
    def action_label(self) -> str:
        """The staff policy's words for the action ("Refund a payment"), not its key."""

        entry = authority.POLICY.get(self.action_key)
        return entry.label if entry else self.action_key

    @property
    def amount_shown(self) -> str:
        """The amount in the action's unit: money in its currency ("$50.00"), credits
        ("5,000 credits"), days ("30 days")."""

        if self.action_key not in authority.POLICY:
            return str(self.amount)
        return authority.describe_amount(self.action_key, self.amount, self.currency)
