"""Authentication by e-mail (case-insensitive) and the hooks django-axes calls."""

from django.contrib.auth.backends import ModelBackend
from django.http import JsonResponse
from django.shortcuts import render

from accounts.models import User, normalize_email


class EmailBackend(ModelBackend):
    """Accepts ``email=`` or ``username=``; refuses users who may not sign in."""

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        login = email or username
        if not login or password is None:
            return None
        try:
            user = User.objects.get(email=normalize_email(login))
        except User.DoesNotExist:
            User().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def axes_username(request, credentials) -> str:
    """The e-mail an attempt was for, however the form named it (login, email, username)."""
    credentials = credentials or {}
    raw = credentials.get("email") or credentials.get("username") or credentials.get("login")
    if not raw and request is not None and request.method == "POST":
        raw = request.POST.get("login") or request.POST.get("email")
    return normalize_email(raw or "")


LOCKOUT_MESSAGE = (
    "Too many failed sign-in attempts for this account from your address. "
    "Try again in 15 minutes or reset your password."
)


def axes_lockout_response(request, credentials=None, *args, **kwargs):
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "locked_out", "detail": LOCKOUT_MESSAGE, "fields": {}}, status=429
        )
    return render(request, "account/lockout.html", {"message": LOCKOUT_MESSAGE}, status=429)
