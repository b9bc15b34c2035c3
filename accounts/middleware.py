"""Per-request account bookkeeping: request info for audit rows, session last-seen."""

from django.utils import timezone

from accounts.models import LoginSession
from core import request_context

LAST_SEEN_RESOLUTION_SECONDS = 60


class AccountStatusMiddleware:
    """Records who is asking from where, and keeps the login session list current.

    Suspended and deleted users are already refused by Django itself (``is_active`` is false,
    so their session no longer loads a user); this middleware only adds bookkeeping.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_context.set_current(request_context.info_from_request(request))
        try:
            self._touch_login_session(request)
            return self.get_response(request)
        finally:
            request_context.reset_current(token)

    def _touch_login_session(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.session.session_key is None:
            return

        now = timezone.now()
        LoginSession.objects.filter(
            session_key=request.session.session_key,
            last_seen_at__lt=now - timezone.timedelta(seconds=LAST_SEEN_RESOLUTION_SECONDS),
        ).update(last_seen_at=now)
