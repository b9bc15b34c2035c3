"""Customer account pages under /account/: profile, sessions, API keys, data rights."""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import (
    deletion,
    entitlements,
    login_sessions,
    reauth,
    selectors,
    services,
    user_extras,
)
from accounts.forms import (
    ApiKeyCreateForm,
    DeleteAccountForm,
    DeleteWithoutPasswordForm,
    ProfileForm,
)
from accounts.models import ApiKey, LoginSession
from core.api import DomainError

PAGE_SIZE = 20


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


@login_required
def overview(request):
    return render(
        request,
        "accounts/overview.html",
        {
            "session_count": selectors.active_sessions_for(user=request.user).count(),
            "key_count": selectors.api_keys_for(user=request.user).count(),
            "membership": user_extras.named("membership").page_value(user=request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                services.update_profile(
                    user=request.user, data=form.profile_data(), actor=request.user
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, "Your profile was saved.")
                return redirect("accounts:profile")
    else:
        form = ProfileForm(initial=ProfileForm.initial_for(request.user))
    return render(
        request, "accounts/profile.html", {"form": form}, status=400 if form.errors else 200
    )


@login_required
def sessions(request):
    return render(
        request,
        "accounts/sessions.html",
        {
            "page": _page(request, selectors.active_sessions_for(user=request.user)),
            "current_key": request.session.session_key,
        },
    )


def _own_session(request, session_id) -> LoginSession:
    session = selectors.active_sessions_for(user=request.user).filter(pk=session_id).first()
    if session is None:
        raise Http404("No such session")
    return session


@login_required
@require_http_methods(["GET", "POST"])
def revoke_session(request, session_id):
    session = _own_session(request, session_id)
    is_current = session.session_key == request.session.session_key
    if request.method == "GET":
        return render(
            request,
            "accounts/session_revoke.html",
            {"login_session": session, "is_current": is_current},
        )
    login_sessions.revoke_login_session(
        user=request.user, session_id=session.pk, actor=request.user
    )
    if is_current:
        logout(request)
        return redirect("account_login")
    messages.success(request, "That session was signed out.")
    return redirect("accounts:sessions")


@login_required
def api_keys(request):
    return render(
        request,
        "accounts/api_keys.html",
        {
            "page": _page(request, selectors.api_keys_for(user=request.user)),
            "form": ApiKeyCreateForm(),
            # A key works only with a plan that includes API access: say so instead of
            # offering keys that would be refused.
            "upgrade": entitlements.upgrade_prompt(request.user, entitlements.API_ACCESS),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def create_api_key(request):
    form = ApiKeyCreateForm(request.POST or None)
    upgrade = entitlements.upgrade_prompt(request.user, entitlements.API_ACCESS)
    if upgrade is not None:
        if request.method == "POST":
            form.is_valid()
            form.add_error(None, "Your plan does not include API access: upgrade to create keys.")
        return render(
            request,
            "accounts/api_key_new.html",
            {"form": form, "upgrade": upgrade},
            status=403 if request.method == "POST" else 200,
        )
    if request.method == "POST" and form.is_valid():
        key, raw = services.create_api_key(user=request.user, name=form.cleaned_data["name"])
        # The raw key is rendered in this response only: it is stored hashed.
        return render(
            request, "accounts/api_key_created.html", {"key": key, "raw_key": raw}, status=201
        )
    return render(
        request, "accounts/api_key_new.html", {"form": form}, status=400 if form.errors else 200
    )


def _own_key(request, key_id) -> ApiKey:
    key = selectors.api_keys_for(user=request.user).filter(pk=key_id).first()
    if key is None:
        raise Http404("No such API key")
    return key


@login_required
@require_http_methods(["GET", "POST"])
def revoke_api_key(request, key_id):
    key = _own_key(request, key_id)
    if request.method == "GET":
        return render(request, "accounts/api_key_revoke.html", {"key": key})
    services.revoke_api_key(user=request.user, key_id=key.pk, actor=request.user)
    messages.success(request, f"The key {key.prefix}… was revoked.")
    return redirect("accounts:api_keys")


@login_required
def export(request):
    return render(request, "accounts/export.html")


@never_cache
@login_required
def export_download(request):
    # Streamed: the document is written as its rows are read, whatever the history's size.
    stamp = timezone.now().strftime("%Y%m%d")
    response = StreamingHttpResponse(
        services.export_user_data(user=request.user), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="my-data-{stamp}.json"'
    return response


def _delete_form(request) -> DeleteAccountForm | DeleteWithoutPasswordForm:
    """The password confirms it is the owner; without one (Google or GitHub sign-in only), a
    sign-in with the provider in the last few minutes and the typed e-mail address do."""
    data = request.POST if request.method == "POST" else None
    if request.user.has_usable_password():
        return DeleteAccountForm(data, user=request.user)
    return DeleteWithoutPasswordForm(
        data,
        user=request.user,
        recently_signed_in=reauth.recent_provider_sign_in(request) is not None,
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    form = _delete_form(request)
    status = 400 if form.errors else 200
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_account(user=request.user, actor=request.user)
        except DomainError as exc:
            # E.g. the payment provider could not cancel a subscription: nothing was erased.
            form.add_error(None, f"Your account was not deleted. {exc.message}")
            status = exc.status_code
        else:
            logout(request)
            messages.success(request, "Your account was closed and your personal data erased.")
            return redirect("/")
    # What else deleting the account does (subscriptions cancelled, invoices voided), listed
    # by the apps that hold it, so the customer reads it before confirming.
    return render(
        request,
        "accounts/delete.html",
        {
            "form": form,
            "consequences": deletion.preview(request.user),
            "has_password": request.user.has_usable_password(),
            "sign_in_again": reauth.needs_provider_sign_in(request),
            "window_minutes": reauth.window_minutes(),
        },
        status=status,
    )
