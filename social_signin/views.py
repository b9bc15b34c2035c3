"""Removing a linked Google or GitHub account from the profile page."""

from allauth.socialaccount.internal.flows.connect import disconnect, validate_disconnect
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods


@login_required
@require_http_methods(["GET", "POST"])
def unlink(request, account_id):
    account = SocialAccount.objects.filter(
        user=request.user, pk=int(account_id) if str(account_id).isdigit() else 0
    ).first()
    if account is None:
        raise Http404("No such linked account.")
    error = ""
    try:
        validate_disconnect(request, account)
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if request.method == "GET" or error:
        return render(
            request,
            "social_signin/unlink.html",
            {"account": account, "error": error},
            status=400 if error and request.method == "POST" else 200,
        )
    disconnect(request, account)
    return redirect("accounts:profile")
