"""The staff console's navigation, by job rather than by app.

Each group lists the pages of one job (Customers, Money, Subscriptions, Credits, Support,
Catalog, Insights, System, and the read-only Stripe mirror); each entry names a registered
model admin (or a page of its own) and is shown only to those who may use it: the model
admin's own module and view permissions, which for staff come from their role
(``accounts.permissions.role_sees_app`` / ``role_has_perm``), and for pages outside the
registry, the staff policy (``accounts.authority``). A group without an entry the user may
use is left out. The theme (django-unfold) renders the groups as its sidebar
(``UNFOLD["SIDEBAR"]["navigation"]``) and the console's index shows them as cards.
"""

from dataclasses import dataclass

from django.apps import apps
from django.contrib import admin
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse

from accounts import authority
from accounts.permissions import role_has_perm, role_sees_app


@dataclass(frozen=True)
class Entry:
    title: str
    icon: str
    model: str = ""  # "app_label.modelname" of a registered model admin
    url_name: str = ""  # or a page of its own (URL name) ...
    policy: str = ""  # ... that the staff policy's action opens
    query: str = ""  # appended to the link (a list's default filter)


@dataclass(frozen=True)
class Group:
    title: str
    icon: str
    description: str
    entries: tuple[Entry, ...]


GROUPS: tuple[Group, ...] = (
    Group(
        "Customers",
        "groups",
        "Find a customer and everything about them.",
        (
            Entry("Customers", "person_search", "console.customer"),
            Entry("Billing profiles", "badge", "billing.customerbillingprofile"),
            Entry("Payment methods", "credit_card", "billing.paymentmethod"),
        ),
    ),
    Group(
        "Money",
        "payments",
        "Orders, invoices, payments, refunds and approvals.",
        (
            Entry("Orders", "shopping_cart", "billing.order"),
            Entry("Invoices", "receipt_long", "billing.invoice"),
            Entry("Payments", "payments", "billing.payment"),
            Entry("Refunds", "undo", "billing.refund"),
            Entry("Credit notes", "request_quote", "billing.creditnote"),
            Entry("Discounts", "sell", "billing.discount"),
            Entry("Promotion codes", "confirmation_number", "billing.promotioncode"),
            Entry("Discount durations", "event_repeat", "coupons.couponduration"),
            Entry("Approval requests", "approval", "support.approvalrequest"),
            Entry("Accounting exports", "download", "console.accountingexport"),
        ),
    ),
    Group(
        "Subscriptions",
        "autorenew",
        "Live subscriptions, renewals and dunning.",
        (
            Entry("Subscriptions", "autorenew", "billing.subscription"),
            Entry("Past due", "warning", "billing.pastduesubscription"),
            Entry("Plans and subscribers", "stacked_bar_chart", "billing.plansubscribers"),
        ),
    ),
    Group(
        "Credits",
        "toll",
        "Balances, the ledger, lots and what features cost.",
        (
            Entry("Balances", "account_balance_wallet", "credits.creditbalance"),
            Entry("Ledger", "list_alt", "credits.credittransaction"),
            Entry("Lots", "inventory_2", "credits.creditgrant"),
            Entry("Feature costs", "price_change", "credits.featurecost"),
        ),
    ),
    Group(
        "Support",
        "support_agent",
        "Tickets, help-bot chats and help articles.",
        (
            Entry("Tickets", "confirmation_number", "support.ticket"),
            Entry("Help-bot conversations", "forum", "support.conversation"),
            Entry("Chat messages", "chat", "support.chatmessage"),
            Entry("Help articles", "article", "support.article"),
            Entry(
                "Help-bot ratings by article", "thumbs_up_down", "helpbot_insights.articlefeedback"
            ),
            Entry("Answers rated not helpful", "thumb_down", "helpbot_insights.rateddownanswer"),
            Entry("Unanswered questions", "help", "helpbot_insights.unansweredquestion"),
        ),
    ),
    Group(
        "Catalog",
        "storefront",
        "Products, plans, prices and reviews.",
        (
            Entry("Products", "inventory", "catalog.product"),
            Entry("Plans", "workspace_premium", "catalog.plan"),
            Entry("Prices", "attach_money", "catalog.price"),
            Entry("Variants", "category", "catalog.variant"),
            Entry("Pricing tiers", "stairs", "catalog.pricingtier"),
            Entry("Categories", "folder", "catalog.category"),
            Entry("Collections", "collections_bookmark", "catalog.collection"),
            Entry("Reviews", "reviews", "catalog.review"),
        ),
    ),
    Group(
        "Insights",
        "insights",
        "Revenue, metrics and reconciliation with Stripe.",
        (
            Entry("Analytics dashboard", "monitoring", "analytics.dashboard"),
            Entry("Daily metrics", "query_stats", "analytics.dailymetric"),
            Entry("Reconciliation drifts", "difference", "billing.stripedrift"),
        ),
    ),
    Group(
        "System",
        "settings",
        "Settings, people, webhooks, queues and the audit log.",
        (
            Entry("Settings", "tune", "core.systemconfig"),
            Entry("Users and roles", "manage_accounts", "accounts.user"),
            Entry("Webhook events", "webhook", "billing.webhookevent"),
            Entry("Webhook endpoints (out)", "send", "webhooks_out.webhookendpoint"),
            Entry("Webhook deliveries (out)", "outgoing_mail", "webhooks_out.webhookdelivery"),
            Entry("Events sent (out)", "event_note", "webhooks_out.webhookevent"),
            Entry("Outbox", "outbox", "outbox.outboxmessage"),
            Entry("Schedules", "schedule", "django_celery_beat.periodictask"),
            Entry("Audit log", "history", "core.auditlog"),
            Entry("Sign-in sessions", "devices", "accounts.loginsession"),
            Entry("API keys", "key", "accounts.apikey"),
            Entry("Stored files", "attach_file", "accounts.storedfile"),
            Entry("E-mail addresses", "alternate_email", "account.emailaddress"),
            Entry("Linked Google and GitHub accounts", "link", "socialaccount.socialaccount"),
            Entry("Operations", "monitor_heart", url_name="ops", policy="system.ops.view"),
            Entry(
                "My console settings",
                "schedule",
                url_name="admin:console_preferences",
                policy="console.preferences",
            ),
        ),
    ),
)

# dj-stripe's tables are a read-only mirror of Stripe: one group, listing whichever of them
# (or of the proxies of them another app declares) are registered in the console.
STRIPE_MIRROR = Group("Stripe mirror", "sync_alt", "Stripe's own records, read-only.", ())
STRIPE_MIRROR_APP = "djstripe"


def _model_admin(label: str):
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return None
    return admin.site._registry.get(model)


def _role_may_view(user, model) -> bool:
    """The role's own answer (accounts.permissions) before the model admin's: a model of an
    app the role does not see is never listed, whatever its admin says."""
    role = getattr(user, "role", None)
    opts = model._meta
    return role_sees_app(role, opts.app_label) and (
        role_has_perm(role, f"{opts.app_label}.view_{opts.model_name}")
        or role_has_perm(role, f"{opts.app_label}.change_{opts.model_name}")
    )


def may_open(request, entry: Entry) -> bool:
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    if entry.model:
        model_admin = _model_admin(entry.model)
        return bool(
            model_admin is not None
            and _role_may_view(user, model_admin.model)
            and model_admin.has_module_permission(request)
            and model_admin.has_view_or_change_permission(request)
        )
    return authority.may(user, entry.policy)


def entry_link(entry: Entry) -> str:
    try:
        if entry.model:
            app_label, model_name = entry.model.split(".")
            return reverse(f"admin:{app_label}_{model_name}_changelist") + entry.query
        return reverse(entry.url_name) + entry.query
    except NoReverseMatch:
        return ""


def _stripe_mirror_entries() -> tuple[Entry, ...]:
    models = sorted(
        (
            model
            for model in admin.site._registry
            # concrete_model is None only on abstract models, which are never registered
            if (model._meta.concrete_model or model)._meta.app_label == STRIPE_MIRROR_APP
        ),
        key=lambda model: str(model._meta.verbose_name_plural),
    )
    return tuple(
        Entry(str(model._meta.verbose_name_plural).capitalize(), "cloud", model._meta.label_lower)
        for model in models
    )


def groups_for(request) -> list[dict]:
    """The groups and entries ``request.user`` may open, each entry with its link."""
    groups = [
        *GROUPS,
        Group(
            STRIPE_MIRROR.title,
            STRIPE_MIRROR.icon,
            STRIPE_MIRROR.description,
            _stripe_mirror_entries(),
        ),
    ]
    shown = []
    for group in groups:
        items = []
        for entry in group.entries:
            link = entry_link(entry)
            if link and may_open(request, entry):
                items.append(
                    {"title": entry.title, "icon": entry.icon, "link": link, "entry": entry}
                )
        if items:
            shown.append(
                {
                    "title": group.title,
                    "icon": group.icon,
                    "description": group.description,
                    "items": items,
                }
            )
    return shown


def sidebar(request) -> list[dict]:
    """``UNFOLD["SIDEBAR"]["navigation"]``: the groups as the theme's sidebar, each entry
    with its permission callback (the theme asks it again as it renders)."""
    return [
        {
            "title": group["title"],
            "collapsible": False,
            "items": [
                {
                    "title": item["title"],
                    "icon": item["icon"],
                    "link": item["link"],
                    "permission": _permission(item["entry"]),
                }
                for item in group["items"]
            ],
        }
        for group in groups_for(request)
    ]


def _permission(entry: Entry):
    def permitted(request) -> bool:
        return may_open(request, entry)

    return permitted


def account_links(request) -> list[dict]:
    """The links under the staff member's name in the console's header."""
    links = []
    if authority.may(request.user, "console.preferences"):
        links.append(
            {
                "title": "My console settings (time zone)",
                "link": reverse("admin:console_preferences"),
            }
        )
    return links


def stylesheet(request) -> str:
    """The console's own stylesheet (its pages, wrapping of long values), after the theme's."""
    return static("console/console.css")


def favicon(request) -> str:
    return static("console/favicon.svg")
