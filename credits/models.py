"""Prepaid credits: what operations cost, balances, lots (grants) and the append-only ledger.

Invariant at every moment, for every user (checked by ``credits.invariant.check_invariant``):

    CreditBalance.balance = SUM(CreditTransaction.amount) = SUM(CreditGrant.remaining
                                                                 WHERE expired_at IS NULL)

A lot whose ``expires_at`` has passed still counts until the system expires it (the hourly
task, or lazily the next time the user consumes); expiring writes an EXPIRE row and sets the
lot's remaining to 0 in the same transaction, so the three figures move together.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from core.models import TimeStampedModel

OPERATION_KEY = RegexValidator(
    r"^[A-Z][A-Z0-9_]{0,63}$",
    "Use capital letters, digits and underscores, starting with a letter (e.g. AI_TEXT_CHAT).",
)


class FeatureCost(TimeStampedModel):
    """What one unit of a metered operation costs, in credits. Plans may override ``cost``."""

    operation = models.CharField(max_length=64, unique=True, validators=[OPERATION_KEY])
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    cost = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    active = models.BooleanField(default=True)
    required_entitlement = models.CharField(
        max_length=64,
        blank=True,
        help_text="A plan entitlement the customer needs to use this operation (e.g. "
        "ai_video_generation); empty for every customer. Checked before any charge.",
    )

    class Meta:
        ordering = ["operation"]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gt=0), name="credits_featurecost_cost_gt_0"),
        ]

    def __str__(self):
        return f"{self.operation} ({self.cost})"


# The most credits one row holds (balances, lots and ledger amounts are PostgreSQL integers).
CREDITS_MAX = 2**31 - 1


class CreditBalance(TimeStampedModel):
    """The user's spendable credits. Every movement locks this row first (the lock order)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_balance"
    )
    balance = models.IntegerField(default=0)
    # Set when the low-balance e-mail goes out; cleared when the balance is back at or above
    # the threshold, so each crossing sends exactly one e-mail.
    low_balance_notified = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="credits_creditbalance_balance_gte_0"
            ),
        ]

    def __str__(self):
        return f"{self.user} · {self.balance}"


class GrantSource(models.TextChoices):
    SIGNUP_BONUS = "SIGNUP_BONUS", "Signup bonus"
    PLAN = "PLAN", "Plan renewal"
    PURCHASE = "PURCHASE", "Credit pack purchase"
    ADJUSTMENT = "ADJUSTMENT", "Staff adjustment"
    REFUND = "REFUND", "Refund"
    TRIAL = "TRIAL", "Trial"
    PROMO = "PROMO", "Promotion"


class CreditGrant(TimeStampedModel):
    """A lot of credits. Consumption draws from the live lot that expires first."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_grants"
    )
    source = models.CharField(max_length=16, choices=GrantSource.choices)
    amount = models.IntegerField()
    remaining = models.IntegerField()
    expires_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    source_ref = models.CharField(
        max_length=120, blank=True, help_text='Where the lot came from, e.g. "order:ORD-123".'
    )
    idempotency_key = models.CharField(max_length=200, blank=True)
    # remaining > 0, computed by PostgreSQL. The live-lots index filters on it rather than on
    # ``remaining``: a draw that leaves credits in the lot then changes no indexed value, so
    # PostgreSQL updates the row in place (a HOT update, no new index entries); only the draw
    # that empties the lot moves it out of the index. A lot drawn from on every consume would
    # otherwise leave a dead entry in each of the table's indexes per call.
    has_credits = models.GeneratedField(
        # Django takes a Q as the expression (it resolves to one); django-stubs types the
        # parameter as Expression only.
        expression=Q(remaining__gt=0),  # type: ignore[arg-type]
        output_field=models.BooleanField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="credits_creditgrant_amount_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(remaining__gte=0, remaining__lte=models.F("amount")),
                name="credits_creditgrant_remaining_in_range",
            ),
            models.CheckConstraint(
                condition=Q(expired_at__isnull=True) | Q(remaining=0),
                name="credits_creditgrant_expired_has_nothing_left",
            ),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="credits_creditgrant_unique_key_per_user",
            ),
        ]
        indexes = [
            # The lots consumption draws from: live, in expiry order.
            models.Index(
                fields=["user", "expires_at", "id"],
                condition=Q(expired_at__isnull=True, has_credits=True),
                name="credits_grant_live_idx",
            ),
            # The lots the hourly expiry task looks for.
            models.Index(
                fields=["expires_at"],
                condition=Q(expired_at__isnull=True, expires_at__isnull=False),
                name="credits_grant_expiring_idx",
            ),
        ]

    def __str__(self):
        return f"{self.get_source_display()} {self.remaining}/{self.amount}"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.expired_at is None
            and self.remaining > 0
            and (self.expires_at is None or self.expires_at > now)
        )


class TransactionKind(models.TextChoices):
    GRANT = "GRANT", "Grant"
    CONSUME = "CONSUME", "Consume"
    REFUND = "REFUND", "Refund"
    EXPIRE = "EXPIRE", "Expire"
    ADJUST = "ADJUST", "Adjustment"


class CreditTransaction(models.Model):
    """The ledger. Append-only: PostgreSQL refuses UPDATE and DELETE (migration 0002)."""

    # Every index below starts with the user where a query needs one, so the foreign key
    # gets none of its own: each index on the ledger is paid for by every insert.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="credit_transactions",
        db_index=False,
    )
    kind = models.CharField(max_length=8, choices=TransactionKind.choices)
    operation = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    amount = models.IntegerField()
    balance_after = models.IntegerField()
    details = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    # The CONSUME row a REFUND row gives back; unique, so a consumption is refunded once.
    refund_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunded_by"
    )
    # Indexed only where set (credits_txn_actor_idx): consumptions, most of the ledger, have
    # no actor.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    grants: "models.ManyToManyField[CreditGrant, TransactionLot]" = models.ManyToManyField(
        CreditGrant, through="TransactionLot", related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount=0), name="credits_credittransaction_amount_not_0"
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0),
                name="credits_credittransaction_balance_after_gte_0",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["GRANT", "REFUND"], amount__gt=0)
                    | Q(kind__in=["CONSUME", "EXPIRE"], amount__lt=0)
                    | Q(kind="ADJUST")
                ),
                name="credits_credittransaction_sign_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="credits_credittransaction_unique_key_per_user",
            ),
        ]
        indexes = [
            # A user's ledger page, their last row (balance at a time), and their consumption
            # over a window (runway, usage by day: the kind is filtered among those rows).
            models.Index(fields=["user", "-created_at", "-id"], name="credits_txn_user_time_idx"),
            # The ledger filtered by operation (API and pages), which may be rare in a long
            # history.
            models.Index(
                fields=["user", "operation", "created_at"],
                condition=~Q(operation=""),
                name="credits_txn_user_op_idx",
            ),
            models.Index(
                fields=["actor"], condition=Q(actor__isnull=False), name="credits_txn_actor_idx"
            ),
            # The staff console's ledger across users: newest first, its date hierarchy and
            # date filters (config.admin.LargeTableAdmin); the daily rollup's day of rows.
            models.Index(fields=["-created_at", "-id"], name="credits_txn_time_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount:+d} → {self.balance_after}"

    @property
    def credits_charged(self) -> int:
        return -self.amount if self.kind == TransactionKind.CONSUME else 0


class LedgerDay(models.Model):
    """The ledger summed per user, UTC day, kind and operation: what the credits page and the
    summary API read instead of the user's whole history.

    Written only by the database: an AFTER INSERT trigger on the ledger (migration 0006) adds
    each statement's rows in the same transaction, so every writer (the Python services, the
    PL/pgSQL consume function, bulk inserts and COPY) keeps it equal to the ledger. Days are
    UTC days (TIME_ZONE is UTC); ``row_count`` counts ledger rows, ``amount`` sums their signed
    amounts.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )  # the unique key leads with it
    day = models.DateField()
    kind = models.CharField(max_length=8, choices=TransactionKind.choices)
    operation = models.CharField(max_length=64, blank=True)
    row_count = models.PositiveIntegerField()
    amount = models.BigIntegerField()
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["user", "day", "kind", "operation"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "day", "kind", "operation"], name="credits_ledgerday_unique"
            ),
        ]

    def __str__(self):
        return f"{self.user_id} · {self.day} · {self.kind} {self.operation} {self.amount:+d}"


class TransactionLot(models.Model):
    """How much of one ledger row came from (negative) or went to (positive) one lot.

    Append-only like the ledger. ``refund_consumption`` reads it to give credits back to the
    lots they were drawn from; ``check_invariant`` checks each lot against it.
    """

    # Looked up through credits_transactionlot_unique (transaction, grant): no index of its own.
    transaction = models.ForeignKey(
        CreditTransaction, on_delete=models.PROTECT, related_name="lots", db_index=False
    )
    grant = models.ForeignKey(CreditGrant, on_delete=models.PROTECT, related_name="movements")
    amount = models.IntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount=0), name="credits_transactionlot_amount_not_0"
            ),
            models.UniqueConstraint(
                fields=["transaction", "grant"], name="credits_transactionlot_unique"
            ),
        ]

    def __str__(self):
        return f"txn {self.transaction_id} · lot {self.grant_id} · {self.amount:+d}"


class InvariantCheck(TimeStampedModel):
    """One run of the ledger check (``credits.invariant.record_invariant_check``, nightly from
    beat): when it ran and what it found. /metrics and /ops/ show the latest; only ever inserted."""

    violations = models.PositiveIntegerField()
    # The first violations found (user, lot, problem, values), enough to start looking.
    sample = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = ["created_at", "id"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} · {self.violations} violation(s)"
