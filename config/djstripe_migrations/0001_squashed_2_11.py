"""dj-stripe 2.11's three migrations (0001_initial, 0002_2_10, 0003_2_11) squashed into one.

Why: 0002_2_10 alone is 520 operations, and after each one Django re-renders every model
related to the one that changed, so migrating dj-stripe on an empty database took about a
minute of CPU. This migration creates the final models directly, in about two seconds. Its
final state equals the one dj-stripe's own migrations build (config/tests/
test_djstripe_migrations.py compares them field by field on every run) and the database schema
is the same (compared once with pg_dump --schema-only; see the commit that added this file).

How it was made: `manage.py makemigrations djstripe` under scratch settings
`from config.settings.test import *` plus
`MIGRATION_MODULES = {"djstripe": "empty_djstripe_migrations"}`, a package on PYTHONPATH
holding only an empty migration named 0003_2_11 (billing's 0001 depends on that name, so the
graph must have it). The generated CreateModel/AddField operations are kept as generated
(formatted with ruff), with these changes: the placeholder dependency dropped, `replaces`
added, the subscriber foreign key pointed at DJSTRIPE_SUBSCRIBER_MODEL with dj-stripe's own
dependency rule (as their 0001_initial does), Price's options without "abstract" (as their
0002_2_10 leaves them), and the list wrapped in CreateModelsInOnePass (see _one_pass.py: 74
re-renders of the growing dj-stripe model graph took most of the remaining 10-15 s). Foreign
keys between dj-stripe models keep `to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD`
(dj-stripe's StripeForeignKey writes it that way), so that setting is honoured as upstream.

When dj-stripe is upgraded: add a re-export for each new upstream migration beside the others
(it will depend on 0003_2_11 or later, which Django maps onto this squash), or regenerate this
file the same way and extend `replaces`; the tests say whether the two still agree.

Why the re-exports of the three originals stay beside this file: Django uses this squash on a
database where none or all of them are recorded, and falls back to the originals where only
some are (say `migrate` was stopped after 0001_initial). Without the originals on disk such a
database could not migrate at all. Otherwise they are only imported, never applied. They can
go, together with `replaces`, once no database that predates this squash remains.
"""

# Generated text: dj-stripe's help_text strings are kept whole rather than re-wrapped.
# ruff: noqa: E501

import uuid

import django.core.validators
import django.db.models.deletion
import djstripe.enums
import djstripe.fields
import djstripe.models.api
import djstripe.models.payment_methods
import djstripe.models.webhooks
from django.conf import settings
from django.db import migrations, models

from config.djstripe_migrations._one_pass import CreateModelsInOnePass

# The same subscriber model and dependency rule as dj-stripe's 0001_initial.
DJSTRIPE_SUBSCRIBER_MODEL: str = getattr(
    settings, "DJSTRIPE_SUBSCRIBER_MODEL", settings.AUTH_USER_MODEL
)
DJSTRIPE_SUBSCRIBER_MODEL_MIGRATION_DEPENDENCY = getattr(
    settings, "DJSTRIPE_SUBSCRIBER_MODEL_MIGRATION_DEPENDENCY", "__first__"
)
DJSTRIPE_SUBSCRIBER_MODEL_DEPENDENCY = migrations.swappable_dependency(DJSTRIPE_SUBSCRIBER_MODEL)
if DJSTRIPE_SUBSCRIBER_MODEL != settings.AUTH_USER_MODEL:
    DJSTRIPE_SUBSCRIBER_MODEL_DEPENDENCY = migrations.migration.SwappableTuple(
        (
            DJSTRIPE_SUBSCRIBER_MODEL.split(".", 1)[0],
            DJSTRIPE_SUBSCRIBER_MODEL_MIGRATION_DEPENDENCY,
        ),
        DJSTRIPE_SUBSCRIBER_MODEL,
    )


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("djstripe", "0001_initial"),
        ("djstripe", "0002_2_10"),
        ("djstripe", "0003_2_11"),
    ]

    dependencies = [DJSTRIPE_SUBSCRIBER_MODEL_DEPENDENCY]

    operations = [
        # See _one_pass.py: the same operations, with one state render instead of 74.
        CreateModelsInOnePass(
            [
                migrations.CreateModel(
                    name="CountrySpec",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        ("id", models.CharField(max_length=2, primary_key=True, serialize=False)),
                        ("default_currency", djstripe.fields.StripeCurrencyCodeField(max_length=3)),
                        ("supported_bank_account_currencies", djstripe.fields.JSONField()),
                        ("supported_payment_currencies", djstripe.fields.JSONField()),
                        ("supported_payment_methods", djstripe.fields.JSONField()),
                        ("supported_transfer_countries", djstripe.fields.JSONField()),
                        ("verification_fields", djstripe.fields.JSONField()),
                    ],
                    options={
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="DjstripePaymentMethod",
                    fields=[
                        ("id", models.CharField(max_length=255, primary_key=True, serialize=False)),
                        ("type", models.CharField(db_index=True, max_length=50)),
                    ],
                ),
                migrations.CreateModel(
                    name="Account",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="AccountV2",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="ActiveEntitlement",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="APIKey",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        (
                            "id",
                            models.CharField(
                                default=djstripe.models.api.generate_api_key_id,
                                editable=False,
                                max_length=255,
                            ),
                        ),
                        (
                            "type",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.APIKeyType, max_length=255
                            ),
                        ),
                        (
                            "name",
                            models.CharField(
                                blank=True,
                                help_text="An optional name to identify the key.",
                                max_length=100,
                                verbose_name="Key name",
                            ),
                        ),
                        (
                            "secret",
                            models.CharField(
                                help_text="The value of the key.",
                                max_length=128,
                                unique=True,
                                validators=[
                                    django.core.validators.RegexValidator(
                                        regex="^(pk|sk|rk)_(test|live)_[a-zA-Z0-9]{24,}$"
                                    )
                                ],
                            ),
                        ),
                        (
                            "livemode",
                            models.BooleanField(
                                help_text="Whether the key is valid for live or test mode."
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="ApplicationFee",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "account",
                            djstripe.fields.StripeForeignKey(
                                help_text="ID of the Stripe account this fee was taken from.",
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="application_fees",
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="BalanceTransaction",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        ("amount", djstripe.fields.StripeQuantumCurrencyAmountField()),
                        ("currency", djstripe.fields.StripeCurrencyCodeField(max_length=3)),
                        ("source", djstripe.fields.StripeIdField(max_length=255)),
                        (
                            "type",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.BalanceTransactionType, max_length=255
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="ApplicationFeeRefund",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "fee",
                            djstripe.fields.StripeForeignKey(
                                help_text="The application fee that was refunded",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="refunds",
                                to="djstripe.applicationfee",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "balance_transaction",
                            djstripe.fields.StripeForeignKey(
                                help_text="Balance transaction that describes the impact on your account balance.",
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.balancetransaction",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.AddField(
                    model_name="applicationfee",
                    name="balance_transaction",
                    field=djstripe.fields.StripeForeignKey(
                        help_text="Balance transaction that describes the impact on your account balance.",
                        on_delete=django.db.models.deletion.CASCADE,
                        to="djstripe.balancetransaction",
                        to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                    ),
                ),
                migrations.CreateModel(
                    name="BankAccount",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "fingerprint",
                            models.CharField(
                                help_text="Uniquely identifies this particular bank account. You can use this attribute to check whether two bank accounts are the same.",
                                max_length=16,
                            ),
                        ),
                        (
                            "account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The external account the charge was made on behalf of. Null here indicates that this value was never set.",
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="bank_accounts",
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                    bases=(djstripe.models.payment_methods.ExternalAccountMixin, models.Model),
                ),
                migrations.CreateModel(
                    name="Card",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "fingerprint",
                            models.CharField(
                                blank=True,
                                default="",
                                help_text="Uniquely identifies this particular card number.",
                                max_length=16,
                            ),
                        ),
                        (
                            "account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The external account the charge was made on behalf of. Null here indicates that this value was never set.",
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="cards",
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                    bases=(djstripe.models.payment_methods.ExternalAccountMixin, models.Model),
                ),
                migrations.CreateModel(
                    name="Charge",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "amount",
                            djstripe.fields.StripeDecimalCurrencyAmountField(
                                decimal_places=2, max_digits=14
                            ),
                        ),
                        ("currency", djstripe.fields.StripeCurrencyCodeField(max_length=3)),
                        (
                            "status",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.ChargeStatus, max_length=255
                            ),
                        ),
                        (
                            "balance_transaction",
                            djstripe.fields.StripeForeignKey(
                                help_text="The balance transaction that describes the impact of this charge on your account balance (not including refunds or disputes).",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.balancetransaction",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.AddField(
                    model_name="applicationfee",
                    name="charge",
                    field=djstripe.fields.StripeForeignKey(
                        help_text="The charge that the application fee was taken from.",
                        on_delete=django.db.models.deletion.CASCADE,
                        to="djstripe.charge",
                        to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                    ),
                ),
                migrations.CreateModel(
                    name="Customer",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        ("email", models.TextField(blank=True, default="", max_length=5000)),
                        ("date_purged", models.DateTimeField(editable=False, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "subscriber",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="djstripe_customers",
                                to=DJSTRIPE_SUBSCRIBER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.AddField(
                    model_name="charge",
                    name="customer",
                    field=djstripe.fields.StripeForeignKey(
                        blank=True,
                        help_text="The customer associated with this charge.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="charges",
                        to="djstripe.customer",
                        to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                    ),
                ),
                migrations.AddField(
                    model_name="charge",
                    name="source",
                    field=djstripe.fields.PaymentMethodForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="charges",
                        to="djstripe.djstripepaymentmethod",
                    ),
                ),
                migrations.CreateModel(
                    name="EarlyFraudWarning",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="Event",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "api_version",
                            models.CharField(
                                blank=True,
                                help_text="the API version at which the event data was rendered. Blank for old entries only, all new entries will have this value",
                                max_length=64,
                            ),
                        ),
                        ("data", djstripe.fields.JSONField()),
                        (
                            "request_id",
                            models.CharField(
                                blank=True,
                                default="",
                                help_text="Information about the request that triggered this event, for traceability purposes. If empty string then this is an old entry without that data. If Null then this is not an old entry, but a Stripe 'automated' event with no associated request.",
                                max_length=50,
                            ),
                        ),
                        ("idempotency_key", models.TextField(blank=True, default="")),
                        (
                            "type",
                            models.CharField(
                                help_text="Stripe's event description code", max_length=250
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="Feature",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="File",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="FileLink",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "file",
                            djstripe.fields.StripeForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.file",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="IdempotencyKey",
                    fields=[
                        (
                            "uuid",
                            models.UUIDField(
                                default=uuid.uuid4,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("action", models.CharField(max_length=100)),
                        (
                            "livemode",
                            models.BooleanField(
                                help_text="Whether the key was used in live or test mode."
                            ),
                        ),
                        ("created", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "unique_together": {("action", "livemode")},
                    },
                ),
                migrations.CreateModel(
                    name="Invoice",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "charge",
                            models.OneToOneField(
                                help_text="The latest charge generated for this invoice, if any.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="latest_%(class)s",
                                to="djstripe.charge",
                            ),
                        ),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                help_text="The customer associated with this invoice.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="%(class)ss",
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created"],
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.AddField(
                    model_name="charge",
                    name="invoice",
                    field=djstripe.fields.StripeForeignKey(
                        help_text="The invoice this charge is for if one exists.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="charges",
                        to="djstripe.invoice",
                        to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                    ),
                ),
                migrations.CreateModel(
                    name="IssuingAuthorization",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "djstripe_issuing_authorization",
                    },
                ),
                migrations.CreateModel(
                    name="IssuingCard",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "djstripe_issuing_card",
                    },
                ),
                migrations.CreateModel(
                    name="IssuingCardholder",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "djstripe_issuing_cardholder",
                    },
                ),
                migrations.CreateModel(
                    name="IssuingDispute",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "djstripe_issuing_dispute",
                    },
                ),
                migrations.CreateModel(
                    name="IssuingTransaction",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "djstripe_issuing_transaction",
                    },
                ),
                migrations.CreateModel(
                    name="PaymentIntent",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                help_text="Customer this PaymentIntent is for if one exists.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "on_behalf_of",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The account (if any) for which the funds of the PaymentIntent are intended.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="payment_intents",
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.AddField(
                    model_name="invoice",
                    name="payment_intent",
                    field=models.OneToOneField(
                        help_text="The PaymentIntent associated with this invoice. The PaymentIntent is generated when the invoice is finalized, and can then be used to pay the invoice.Note that voiding an invoice will cancel the PaymentIntent",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="djstripe.paymentintent",
                    ),
                ),
                migrations.CreateModel(
                    name="Dispute",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "balance_transaction",
                            djstripe.fields.StripeForeignKey(
                                help_text="Balance transaction that describes the impact on your account balance.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="disputes",
                                to="djstripe.balancetransaction",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "charge",
                            djstripe.fields.StripeForeignKey(
                                help_text="The charge that was disputed",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="disputes",
                                to="djstripe.charge",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "payment_intent",
                            djstripe.fields.StripeForeignKey(
                                help_text="The PaymentIntent that was disputed",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="disputes",
                                to="djstripe.paymentintent",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.AddField(
                    model_name="charge",
                    name="payment_intent",
                    field=djstripe.fields.StripeForeignKey(
                        help_text="PaymentIntent associated with this charge, if one exists.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="charges",
                        to="djstripe.paymentintent",
                        to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                    ),
                ),
                migrations.CreateModel(
                    name="PaymentMethod",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="Customer to which this PaymentMethod is saved. This will not be set when the PaymentMethod has not been saved to a Customer.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="payment_methods",
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.AddField(
                    model_name="paymentintent",
                    name="payment_method",
                    field=djstripe.fields.StripeForeignKey(
                        blank=True,
                        help_text="Payment method used in this PaymentIntent.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to="djstripe.paymentmethod",
                        to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                    ),
                ),
                migrations.CreateModel(
                    name="Mandate",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "payment_method",
                            djstripe.fields.StripeForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.paymentmethod",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.AddField(
                    model_name="invoice",
                    name="default_payment_method",
                    field=djstripe.fields.StripeForeignKey(
                        blank=True,
                        help_text="Default payment method for the invoice. It must belong to the customer associated with the invoice. If not set, defaults to the subscription's default payment method, if any, or to the default payment method in the customer's invoice settings.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="djstripe.paymentmethod",
                        to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                    ),
                ),
                migrations.AddField(
                    model_name="customer",
                    name="default_payment_method",
                    field=djstripe.fields.StripeForeignKey(
                        blank=True,
                        help_text="default payment method used for subscriptions and invoices for the customer.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="djstripe.paymentmethod",
                        to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                    ),
                ),
                migrations.AddField(
                    model_name="charge",
                    name="payment_method",
                    field=djstripe.fields.StripeForeignKey(
                        help_text="PaymentMethod used in this charge.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="charges",
                        to="djstripe.paymentmethod",
                        to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                    ),
                ),
                migrations.CreateModel(
                    name="Payout",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        ("currency", djstripe.fields.StripeCurrencyCodeField(max_length=3)),
                        (
                            "balance_transaction",
                            djstripe.fields.StripeForeignKey(
                                help_text="Balance transaction that describes the impact on your account balance.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.balancetransaction",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "destination",
                            djstripe.fields.StripeForeignKey(
                                help_text="Bank account or card the payout was sent to.",
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                to="djstripe.bankaccount",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "failure_balance_transaction",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="If the payout failed or was canceled, this will be the balance transaction that reversed the initial balance transaction, and puts the funds from the failed payout back in your balance.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="failure_payouts",
                                to="djstripe.balancetransaction",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "original_payout",
                            models.OneToOneField(
                                blank=True,
                                help_text="If this payout reverses another, this is the ID of the original payout.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.payout",
                            ),
                        ),
                        (
                            "reversed_by",
                            models.OneToOneField(
                                blank=True,
                                help_text="If this payout was reversed, this is the ID of the payout that reverses this payout.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="reversed_payout",
                                to="djstripe.payout",
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="Product",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "name",
                            models.TextField(
                                help_text="The product's name, meant to be displayable to the customer. Applicable to both `service` and `good` types.",
                                max_length=5000,
                            ),
                        ),
                        (
                            "active",
                            models.BooleanField(
                                help_text="Whether the product is currently available for purchase. Only applicable to products of `type=good`.",
                                null=True,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="Price",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "active",
                            models.BooleanField(
                                help_text="Whether the price can be used for new purchases."
                            ),
                        ),
                        ("currency", djstripe.fields.StripeCurrencyCodeField(max_length=3)),
                        (
                            "nickname",
                            models.CharField(
                                blank=True,
                                help_text="A brief description of the plan, hidden from customers.",
                                max_length=250,
                            ),
                        ),
                        (
                            "lookup_key",
                            models.CharField(
                                blank=True,
                                help_text="A lookup key used to retrieve prices dynamically from a static string.",
                                max_length=250,
                                null=True,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "product",
                            djstripe.fields.StripeForeignKey(
                                help_text="The product this price is associated with.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="prices",
                                to="djstripe.product",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        # No "abstract": dj-stripe's 0002_2_10 reset these options without it.
                    },
                ),
                migrations.CreateModel(
                    name="ProductFeature",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "entitlement_feature",
                            djstripe.fields.StripeForeignKey(
                                help_text="The feature that this product feature references.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="product_features",
                                to="djstripe.feature",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "product",
                            djstripe.fields.StripeForeignKey(
                                help_text="The product this feature is attached to.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="features",
                                to="djstripe.product",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="PromotionCode",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="Refund",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        ("amount", djstripe.fields.StripeQuantumCurrencyAmountField()),
                        ("currency", djstripe.fields.StripeCurrencyCodeField(max_length=3)),
                        (
                            "balance_transaction",
                            djstripe.fields.StripeForeignKey(
                                help_text="Balance transaction that describes the impact on your account balance.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.balancetransaction",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "charge",
                            djstripe.fields.StripeForeignKey(
                                help_text="The charge that was refunded",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="refunds",
                                to="djstripe.charge",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "failure_balance_transaction",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="If the refund failed, this balance transaction describes the adjustment made on your account balance that reverses the initial balance transaction.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="failure_refunds",
                                to="djstripe.balancetransaction",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="Review",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="ScheduledQueryRun",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        ("data_load_time", djstripe.fields.StripeDateTimeField()),
                        ("error", djstripe.fields.JSONField(blank=True, null=True)),
                        ("result_available_until", djstripe.fields.StripeDateTimeField()),
                        ("sql", models.TextField(help_text="SQL for the query.", max_length=5000)),
                        (
                            "status",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.ScheduledQueryRunStatus, max_length=255
                            ),
                        ),
                        (
                            "title",
                            models.TextField(help_text="Title of the query.", max_length=5000),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "file",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The file object representing the results of the query.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.file",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="SetupIntent",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="Customer this SetupIntent belongs to, if one exists.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "on_behalf_of",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The account (if any) for which the setup is intended.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="setup_intents",
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "payment_method",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="Payment method used in this PaymentIntent.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.paymentmethod",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="Source",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="sources",
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="SourceTransaction",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("ach_credit_transfer", djstripe.fields.JSONField()),
                        (
                            "amount",
                            djstripe.fields.StripeDecimalCurrencyAmountField(
                                blank=True, decimal_places=2, max_digits=14, null=True
                            ),
                        ),
                        ("currency", djstripe.fields.StripeCurrencyCodeField(max_length=3)),
                        ("customer_data", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "status",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.SourceTransactionStatus, max_length=255
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "source",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.source",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="Subscription",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                help_text="The customer associated with this subscription.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="subscriptions",
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="Session",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                help_text="Customer this Checkout is for if one exists.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "payment_intent",
                            djstripe.fields.StripeForeignKey(
                                help_text="PaymentIntent created if SKUs or line items were provided.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.paymentintent",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "setup_intent",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The ID of the SetupIntent for Checkout Sessions in setup mode.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.setupintent",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "subscription",
                            djstripe.fields.StripeForeignKey(
                                help_text="Subscription created if one or more plans were provided.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.subscription",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="InvoiceItem",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                help_text="The customer associated with this invoiceitem.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="invoiceitems",
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "invoice",
                            djstripe.fields.StripeForeignKey(
                                help_text="The invoice to which this invoiceitem is attached.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="invoiceitems",
                                to="djstripe.invoice",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "price",
                            models.ForeignKey(
                                help_text="If the invoice item is a proration, the price of the subscription for which the proration was computed.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="invoiceitems",
                                to="djstripe.price",
                            ),
                        ),
                        (
                            "subscription",
                            djstripe.fields.StripeForeignKey(
                                help_text="The subscription that this invoice item has been created for, if any.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="invoiceitems",
                                to="djstripe.subscription",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.AddField(
                    model_name="invoice",
                    name="subscription",
                    field=djstripe.fields.StripeForeignKey(
                        help_text="The subscription that this invoice was prepared for, if any.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="%(class)ss",
                        to="djstripe.subscription",
                        to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                    ),
                ),
                migrations.CreateModel(
                    name="Discount",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "promotion_code",
                            models.CharField(
                                blank=True,
                                help_text="The promotion code applied to create this discount.",
                                max_length=255,
                            ),
                        ),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The ID of the customer associated with this discount.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="customer_discounts",
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "invoice",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The invoice that the discount’s coupon was applied to, if it was applied directly to a particular invoice.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="invoice_discounts",
                                to="djstripe.invoice",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "subscription",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The subscription that this coupon is applied to, if it is applied to a particular subscription.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="subscription_discounts",
                                to="djstripe.subscription",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="SubscriptionItem",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "price",
                            models.ForeignKey(
                                blank=True,
                                help_text="The price the customer is subscribed to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="subscription_items",
                                to="djstripe.price",
                            ),
                        ),
                        (
                            "subscription",
                            djstripe.fields.StripeForeignKey(
                                help_text="The subscription this subscription item belongs to.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="items",
                                to="djstripe.subscription",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="LineItem",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "invoice_item",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The ID of the invoice item associated with this line item if any.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.invoiceitem",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "subscription",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The subscription that the invoice item pertains to, if any.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.subscription",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "subscription_item",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The subscription item that generated this invoice item. Left empty if the line item is not an explicit result of a subscription.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.subscriptionitem",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="SubscriptionSchedule",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        ("canceled_at", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        (
                            "completed_at",
                            djstripe.fields.StripeDateTimeField(blank=True, null=True),
                        ),
                        ("current_phase", djstripe.fields.JSONField(blank=True, null=True)),
                        ("default_settings", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "end_behavior",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.SubscriptionScheduleEndBehavior, max_length=255
                            ),
                        ),
                        ("phases", djstripe.fields.JSONField(blank=True, null=True)),
                        ("released_at", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        (
                            "status",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.SubscriptionScheduleStatus, max_length=255
                            ),
                        ),
                        (
                            "customer",
                            models.ForeignKey(
                                help_text="The customer who owns the subscription schedule.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="schedules",
                                to="djstripe.customer",
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "released_subscription",
                            models.ForeignKey(
                                blank=True,
                                help_text="The subscription once managed by this subscription schedule (if it is released).",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="released_schedules",
                                to="djstripe.subscription",
                            ),
                        ),
                        (
                            "subscription",
                            models.ForeignKey(
                                blank=True,
                                help_text="ID of the subscription managed by the subscription schedule.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="subscriptions",
                                to="djstripe.subscription",
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="TaxCode",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "Tax Code",
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="ShippingRate",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "tax_code",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The shipping tax code",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.taxcode",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "Shipping Rate",
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="TaxId",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="tax_ids",
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "Tax ID",
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="TaxRate",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "Tax Rate",
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.AddField(
                    model_name="subscriptionitem",
                    name="tax_rates",
                    field=models.ManyToManyField(
                        blank=True,
                        db_table="djstripe_djstripesubscriptionitemtaxrate",
                        help_text="The tax rates which apply to this subscription_item. When set, the default_tax_rates on the subscription do not apply to this subscription_item.",
                        related_name="+",
                        to="djstripe.taxrate",
                    ),
                ),
                migrations.AddField(
                    model_name="invoiceitem",
                    name="tax_rates",
                    field=models.ManyToManyField(
                        blank=True,
                        db_table="djstripe_djstripeinvoiceitemtaxrate",
                        help_text="The tax rates which apply to this invoice item. When set, the default_tax_rates on the invoice do not apply to this invoice item.",
                        related_name="+",
                        to="djstripe.taxrate",
                    ),
                ),
                migrations.AddField(
                    model_name="invoice",
                    name="default_tax_rates",
                    field=models.ManyToManyField(
                        blank=True,
                        db_table="djstripe_djstripeinvoicedefaulttaxrate",
                        help_text="The tax rates applied to this invoice, if any.",
                        related_name="+",
                        to="djstripe.taxrate",
                    ),
                ),
                migrations.CreateModel(
                    name="Transfer",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "balance_transaction",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="Balance transaction that describes the impact on your account balance.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.balancetransaction",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="TransferReversal",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "balance_transaction",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="Balance transaction that describes the impact on your account balance.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="transfer_reversals",
                                to="djstripe.balancetransaction",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "transfer",
                            djstripe.fields.StripeForeignKey(
                                help_text="The transfer that was reversed.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="reversals",
                                to="djstripe.transfer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="UpcomingInvoice",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "charge",
                            models.OneToOneField(
                                help_text="The latest charge generated for this invoice, if any.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="latest_%(class)s",
                                to="djstripe.charge",
                            ),
                        ),
                        (
                            "customer",
                            djstripe.fields.StripeForeignKey(
                                help_text="The customer associated with this invoice.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="%(class)ss",
                                to="djstripe.customer",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "default_payment_method",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="Default payment method for the invoice. It must belong to the customer associated with the invoice. If not set, defaults to the subscription's default payment method, if any, or to the default payment method in the customer's invoice settings.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="djstripe.paymentmethod",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "payment_intent",
                            models.OneToOneField(
                                help_text="The PaymentIntent associated with this invoice. The PaymentIntent is generated when the invoice is finalized, and can then be used to pay the invoice.Note that voiding an invoice will cancel the PaymentIntent",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.paymentintent",
                            ),
                        ),
                        (
                            "subscription",
                            djstripe.fields.StripeForeignKey(
                                help_text="The subscription that this invoice was prepared for, if any.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="%(class)ss",
                                to="djstripe.subscription",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created"],
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="VerificationReport",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        ("document", djstripe.fields.JSONField(blank=True, null=True)),
                        ("id_number", djstripe.fields.JSONField(blank=True, null=True)),
                        ("options", djstripe.fields.JSONField(blank=True, null=True)),
                        ("selfie", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "type",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.VerificationType, max_length=255
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="VerificationSession",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        ("last_error", djstripe.fields.JSONField(blank=True, null=True)),
                        ("redaction", djstripe.fields.JSONField(blank=True, null=True)),
                        ("verified_outputs", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "status",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.VerificationSessionStatus, max_length=255
                            ),
                        ),
                        (
                            "type",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.VerificationType, max_length=255
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "last_verification_report",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.verificationreport",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="WebhookEndpoint",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("id", djstripe.fields.StripeIdField(max_length=255, unique=True)),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        (
                            "api_version",
                            models.CharField(
                                blank=True,
                                help_text="The API version events are rendered as for this webhook endpoint. Defaults to the configured Stripe API Version.",
                                max_length=64,
                            ),
                        ),
                        ("enabled_events", djstripe.fields.JSONField()),
                        (
                            "secret",
                            models.CharField(
                                blank=True,
                                editable=False,
                                help_text="The endpoint's secret, used to generate webhook signatures.",
                                max_length=256,
                            ),
                        ),
                        (
                            "status",
                            djstripe.fields.StripeEnumField(
                                enum=djstripe.enums.WebhookEndpointStatus, max_length=255
                            ),
                        ),
                        (
                            "url",
                            models.URLField(
                                help_text="The URL of the webhook endpoint.", max_length=2048
                            ),
                        ),
                        (
                            "application",
                            models.CharField(
                                blank=True,
                                help_text="The ID of the associated Connect application.",
                                max_length=255,
                            ),
                        ),
                        (
                            "djstripe_uuid",
                            models.UUIDField(
                                default=uuid.uuid4,
                                help_text="A UUID specific to dj-stripe generated for the endpoint",
                                unique=True,
                            ),
                        ),
                        (
                            "djstripe_tolerance",
                            models.PositiveSmallIntegerField(
                                default=300,
                                help_text="Controls the milliseconds tolerance which wards against replay attacks. Leave this to its default value unless you know what you're doing.",
                            ),
                        ),
                        (
                            "djstripe_validation_method",
                            djstripe.fields.StripeEnumField(
                                default="verify_signature",
                                enum=djstripe.enums.WebhookEndpointValidation,
                                max_length=255,
                            ),
                        ),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="WebhookEventTrigger",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "remote_ip",
                            models.GenericIPAddressField(
                                help_text="IP address of the request client."
                            ),
                        ),
                        ("headers", djstripe.fields.JSONField()),
                        ("body", models.TextField(blank=True)),
                        (
                            "valid",
                            models.BooleanField(
                                default=False,
                                help_text="Whether or not the webhook event has passed validation",
                            ),
                        ),
                        (
                            "processed",
                            models.BooleanField(
                                default=False,
                                help_text="Whether or not the webhook event has been successfully processed",
                            ),
                        ),
                        ("exception", models.CharField(blank=True, max_length=128)),
                        (
                            "traceback",
                            models.TextField(
                                blank=True,
                                help_text="Traceback if an exception was thrown during processing",
                            ),
                        ),
                        (
                            "djstripe_version",
                            models.CharField(
                                default=djstripe.models.webhooks._get_version,
                                help_text="The version of dj-stripe when the webhook was received",
                                max_length=32,
                            ),
                        ),
                        ("created", models.DateTimeField(auto_now_add=True)),
                        ("updated", models.DateTimeField(auto_now=True)),
                        (
                            "event",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="Event object contained in the (valid) Webhook",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.event",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "stripe_trigger_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                        (
                            "webhook_endpoint",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The endpoint this webhook was received on",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to="djstripe.webhookendpoint",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                ),
                migrations.CreateModel(
                    name="Coupon",
                    fields=[
                        ("djstripe_created", models.DateTimeField(auto_now_add=True)),
                        ("djstripe_updated", models.DateTimeField(auto_now=True)),
                        ("stripe_data", djstripe.fields.JSONField(default=dict)),
                        (
                            "djstripe_id",
                            models.BigAutoField(
                                primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "livemode",
                            models.BooleanField(
                                blank=True,
                                default=None,
                                help_text="Null here indicates that the livemode status is unknown or was previously unrecorded. Otherwise, this field indicates whether this record comes from Stripe test mode or live mode operation.",
                                null=True,
                            ),
                        ),
                        ("created", djstripe.fields.StripeDateTimeField(blank=True, null=True)),
                        ("metadata", djstripe.fields.JSONField(blank=True, null=True)),
                        ("id", djstripe.fields.StripeIdField(max_length=500)),
                        (
                            "djstripe_owner_account",
                            djstripe.fields.StripeForeignKey(
                                blank=True,
                                help_text="The Stripe Account this object belongs to.",
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="djstripe.account",
                                to_field=settings.DJSTRIPE_FOREIGN_KEY_TO_FIELD,
                            ),
                        ),
                    ],
                    options={
                        "get_latest_by": "created",
                        "abstract": False,
                        "unique_together": {("id", "livemode")},
                    },
                ),
            ]
        )
    ]
