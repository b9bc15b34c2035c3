"""The staff console's pages of the accounts models: users and roles, API keys, sessions, the
audit log, settings, stored files. Every change goes through accounts.services."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.html import format_html
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from accounts import authority, login_sessions, services
from accounts.models import STAFF_ROLES, ApiKey, LoginSession, Role, Status, StoredFile, User
from accounts.profile import PROFILE_FIELDS, clean_profile
from backoffice.confirm import confirm_first
from backoffice.customers import customer_page_url
from backoffice.policy import policy_action
from backoffice.readonly import ReadOnlyAdmin
from backoffice.search import IndexedValuesFilter, Search, by_user_email, indexed_distinct_values
from backoffice.tables import LargeTableAdmin, LargeTableChangeList
from console.naming import describe_resources
from core import system_config
from core.errors import AccountDeleted, NotAllowed
from core.models import AuditLog, SystemConfig


class HttpsURLField(forms.URLField):
    def __init__(self, **kwargs):
        kwargs.setdefault("assume_scheme", "https")
        super().__init__(**kwargs)


class UserAdminForm(forms.ModelForm):
    class Meta:
        model = User
        fields = [*PROFILE_FIELDS, "role"]
        field_classes = {"billing_address": forms.JSONField, "avatar_url": HttpsURLField}

    def clean(self):
        cleaned = super().clean()
        profile = {name: cleaned[name] for name in PROFILE_FIELDS if name in cleaned}
        try:
            cleaned.update(clean_profile(profile))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


def _user_line(user) -> str:
    return f"{user.email} ({user.get_role_display()}, {user.get_status_display()})"


def _each_user(request, queryset, *, verb, apply) -> None:
    """Call ``apply`` for each user; say how many it was done to, and why not for the rest."""
    done = 0
    for user in queryset:
        try:
            apply(user)
            done += 1
        except (AccountDeleted, NotAllowed, ValueError) as exc:
            messages.error(request, f"{user}: {getattr(exc, 'message', exc)}")
    messages.success(request, f"{verb}: {done} user{'s' if done != 1 else ''}.")


class JoinedFilter(admin.DateFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "joined"


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserAdminForm
    list_display = [
        "email",
        "name",
        "role",
        "status",
        "email_verified",
        "created_at",
        "last_login",
        "customer_page",
    ]
    list_filter = ["role", "status", "email_verified", ("created_at", JoinedFilter)]
    search_fields = ["email", "first_name", "last_name", "display_name"]
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "email",
        "status",
        "email_verified",
        "email_verified_at",
        "last_login",
        "created_at",
        "updated_at",
        "deleted_at",
        "external_id",
        "customer_page",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "email",
                    "customer_page",
                    "role",
                    "status",
                    "email_verified",
                    "email_verified_at",
                ]
            },
        ),
        (
            "Profile",
            {
                "fields": [
                    "first_name",
                    "last_name",
                    "display_name",
                    "avatar_url",
                    "gender",
                    "timezone",
                    "language",
                ]
            },
        ),
        (
            "Personal data (encrypted at rest)",
            {"fields": ["phone", "date_of_birth", "billing_address", "tax_id"]},
        ),
        (
            "History",
            {"fields": ["external_id", "last_login", "created_at", "updated_at", "deleted_at"]},
        ),
    ]
    actions = ["suspend_users", "reactivate_users", "force_logout_users"]

    def get_queryset(self, request):
        # Staff see soft-deleted (anonymised) users too, e.g. to follow an old invoice.
        return User.all_objects.all()

    @admin.display(description="customer page")
    def customer_page(self, user):
        """Everything about a customer on one page (the staff console's customer page)."""
        if user is None or user.pk is None or user.role != Role.CUSTOMER:
            return "—"
        return format_html('<a href="{}">Open the customer page</a>', customer_page_url(user.pk))

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if not request.user.is_admin:
            fields.append("role")
        if obj is not None and obj.deleted_at is not None:
            fields += [*PROFILE_FIELDS, "role"]
        return fields

    def has_add_permission(self, request):
        # Customers sign up themselves; staff accounts come from `manage.py create_admin`.
        return False

    def has_delete_permission(self, request, obj=None):
        # Users are never hard-deleted: financial records point at them.
        return False

    def save_model(self, request, obj, form, change):
        changed = set(form.changed_data)
        profile = {name: form.cleaned_data[name] for name in PROFILE_FIELDS if name in changed}
        if profile:
            services.update_profile(user=obj, data=profile, actor=request.user)
        if "role" in changed and "role" in form.cleaned_data:
            services.change_role(user=obj, role=form.cleaned_data["role"], actor=request.user)

    def save_related(self, request, form, formsets, change):
        """No related objects are edited here."""

    @policy_action(
        "accounts.user.change_status",
        description="Suspend selected users (signs them out everywhere)",
        permissions=["change"],
    )
    @confirm_first("Suspend users?", "Yes, suspend them", describe=_user_line)
    def suspend_users(self, request, queryset):
        def apply(user):
            if user.pk == request.user.pk:
                raise ValueError("you cannot suspend yourself")
            if user.role == Role.ADMIN and not request.user.is_admin:
                raise NotAllowed("Only administrators can suspend administrators.")
            services.change_status(
                user=user, status=Status.SUSPENDED, actor=request.user, reason="staff console"
            )

        _each_user(request, queryset, verb="Suspended", apply=apply)

    @policy_action(
        "accounts.user.change_status",
        description="Reactivate selected users",
        permissions=["change"],
    )
    @confirm_first("Reactivate users?", "Yes, reactivate them", describe=_user_line)
    def reactivate_users(self, request, queryset):
        def apply(user):
            services.change_status(
                user=user, status=Status.ACTIVE, actor=request.user, reason="staff console"
            )

        _each_user(request, queryset, verb="Reactivated", apply=apply)

    @policy_action(
        "accounts.user.end_sessions",
        description="Force logout (end all browser sessions)",
        permissions=["change"],
    )
    @confirm_first("Force logout?", "Yes, sign them out everywhere", describe=_user_line)
    def force_logout_users(self, request, queryset):
        def apply(user):
            services.force_logout(user=user, actor=request.user)

        _each_user(request, queryset, verb="Signed out", apply=apply)


class StaffActorFilter(admin.SimpleListFilter):
    """Who acted: a staff member or the system. A customer's own actions are found by
    searching their e-mail (listing every actor would read the whole log)."""

    title = "actor"
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        staff = User.all_objects.filter(role__in=STAFF_ROLES).order_by("email")
        return [
            ("system", "System (no person)"),
            *((str(pk), email) for pk, email in staff.values_list("pk", "email")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "system":
            return queryset.filter(actor__isnull=True)
        if self.value() and self.value().isdigit():
            return queryset.filter(actor_id=int(self.value()))
        return queryset


def _resource(model, term: str) -> Q:
    """``billing.Order:12`` is that row's history; a bare ``12`` is row 12 of any type (the
    index on (resource_type, resource_id) is read once per type)."""
    resource_type, _, resource_id = term.rpartition(":")
    types = [resource_type] if resource_type else indexed_distinct_values(model, "resource_type")
    return Q(resource_type__in=types, resource_id=resource_id)


class AuditChangeList(LargeTableChangeList):
    """Names the page's rows' resources in one query per type (console.naming)."""

    def get_results(self, request):
        super().get_results(request)
        names = describe_resources(self.result_list)
        for row in self.result_list:
            row.resource_name = names.get((row.resource_type, row.resource_id))


def _resource_shown(row, names=None):
    named = getattr(row, "resource_name", None)
    if named is None and names is not None:
        named = names.get((row.resource_type, row.resource_id))
    if named is None:
        return f"{row.resource_type} {row.resource_id}".strip()
    name, url = named
    return format_html('<a href="{}">{}</a>', url, name) if url else name


@admin.register(AuditLog)
class AuditLogAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["created_at", "action", "what", "who", "ip_address"]
    list_filter = [StaffActorFilter, "action", ("resource_type", IndexedValuesFilter), "created_at"]
    search_by = (
        by_user_email("actor", label="who (e-mail or its beginning)"),
        Search("what (billing.Order:12, or an id)", r"[\w.]+:\S+|\d+", _resource),
    )
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    list_select_related = ["actor"]

    def get_changelist(self, request, **kwargs):
        return AuditChangeList

    @admin.display(description="what")
    def what(self, row):
        """The row acted on, by its name (``Invoice INV-2026-00006``), linked."""
        if getattr(row, "resource_name", None) is None:
            return _resource_shown(row, describe_resources([row]))
        return _resource_shown(row)

    @admin.display(description="who", ordering="actor_email")
    def who(self, row):
        if row.actor is not None and row.actor.role == Role.CUSTOMER:
            return format_html(
                '<a href="{}">{}</a>', customer_page_url(row.actor_id), row.actor_email
            )
        return row.actor_email or "the system"

    def get_readonly_fields(self, request, obj=None):
        return ["what", "who", *(f.name for f in self.model._meta.fields)]


class RevocableAdmin(ReadOnlyAdmin):
    """Rows staff may only end (revoke), through the service, never edit."""

    actions = ["revoke_selected"]

    def has_revoke_permission(self, request):
        return authority.may(request.user, "accounts.user.end_sessions")

    def revoke_one(self, request, obj):
        raise NotImplementedError

    @policy_action(
        "accounts.user.end_sessions",
        description="Revoke selected (takes effect at once)",
        permissions=["revoke"],
    )
    def revoke_selected(self, request, queryset):
        revoked = 0
        for obj in queryset.filter(revoked_at=None).select_related("user"):
            self.revoke_one(request, obj)
            revoked += 1
        messages.success(request, f"Revoked {revoked}.")


@admin.register(LoginSession)
class LoginSessionAdmin(RevocableAdmin):
    list_display = [
        "user",
        "ip_address",
        "user_agent",
        "created_at",
        "last_seen_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "ip_address"]
    exclude = ["session_key"]
    list_select_related = ["user"]

    def revoke_one(self, request, obj):
        login_sessions.revoke_login_session(user=obj.user, session_id=obj.pk, actor=request.user)


@admin.register(ApiKey)
class ApiKeyAdmin(RevocableAdmin):
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "user__email"]
    exclude = ["hashed_key"]  # never shown, not even hashed
    list_select_related = ["user"]

    def revoke_one(self, request, obj):
        services.revoke_api_key(user=obj.user, key_id=obj.pk, actor=request.user)


class SystemConfigForm(forms.ModelForm):
    # The console's own widgets: a key's long description is cut off inside the select
    # rather than widening the page past the window.
    key = forms.ChoiceField(choices=(), widget=UnfoldAdminSelectWidget)
    value = forms.CharField(
        max_length=2000,
        strip=False,
        widget=UnfoldAdminTextInputWidget,
        help_text="Typed by the setting's declaration: whole numbers, decimals (e.g. 0.20), "
        "true/false, or text.",
    )

    class Meta:
        model = SystemConfig
        fields = ["key", "value"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "key" in self.fields:  # only on "add": a row's key never changes
            self.fields["key"].choices = [
                (key, f"{key}: {entry.description}")
                for key, entry in sorted(system_config.REGISTRY.items())
            ]
        if self.instance.pk:
            self.initial["value"] = str(self.instance.value)

    def clean_value(self):
        key = self.cleaned_data.get("key") or self.instance.key
        try:
            typed = system_config.coerce(key, self.cleaned_data["value"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return system_config.to_json(typed)

    def clean_key(self):
        key = self.cleaned_data["key"]
        exists = SystemConfig.objects.filter(key=key).exclude(pk=self.instance.pk).exists()
        if exists:
            raise forms.ValidationError("This setting already has a value: edit that row.")
        return key


@admin.register(SystemConfig)
class SystemConfigAdmin(admin.ModelAdmin):
    form = SystemConfigForm
    list_display = ["key", "value", "description", "updated_by", "updated_at"]
    search_fields = ["key"]

    def get_fields(self, request, obj=None):
        return ["key", "value", "description", "declared_type", "default"]

    def get_readonly_fields(self, request, obj=None):
        info = ["description", "declared_type", "default"]
        return ["key", *info] if obj is not None else info

    @admin.display(description="What it does")
    def description(self, obj):
        entry = system_config.REGISTRY.get(getattr(obj, "key", ""))
        return entry.description if entry else "—"

    @admin.display(description="Type")
    def declared_type(self, obj):
        entry = system_config.REGISTRY.get(getattr(obj, "key", ""))
        return entry.type.__name__ if entry else "—"

    @admin.display(description="Default")
    def default(self, obj):
        entry = system_config.REGISTRY.get(getattr(obj, "key", ""))
        return format_html("<code>{}</code>", entry.default) if entry else "—"

    def has_delete_permission(self, request, obj=None):
        # Deleting would silently fall back to the default without an audit trail.
        return False

    def save_model(self, request, obj, form, change):
        row = services.set_config(key=obj.key, value=form.cleaned_data["value"], actor=request.user)
        obj.pk, obj.value = row.pk, row.value

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form
        form.base_fields.pop("key", None)
        return form


@admin.register(StoredFile)
class StoredFileAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "provider",
        "content_type",
        "size_bytes",
        "created_at",
        "deleted_at",
    ]
    list_filter = ["provider", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "owner__email", "path"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]

    def get_queryset(self, request):
        return StoredFile.all_objects.select_related("owner")

    def has_delete_permission(self, request, obj=None):
        # Files are soft-deleted so storage quotas and audits keep their history.
        return False


# django-axes' "clean up expired attempts" action reads attributes its middleware sets only on
# sign-in requests, so it fails from the admin; expired lockouts are cleaned by axes itself and
# an admin removes one by deleting its row.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    actions: list[str] = []
