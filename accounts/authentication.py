"""DRF authentication: ``Authorization: Bearer <api key>`` and browser sessions."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiKey, hash_api_key

# last_used_at is written at most this often per key, to keep hot keys from writing every call.
LAST_USED_RESOLUTION_SECONDS = 60


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme != self.keyword:
            return None
        raw_key = raw_key.strip()
        if not raw_key:
            raise exceptions.AuthenticationFailed("The Authorization header has no key.")
        key = (ApiKey.objects.select_related("user")
               .filter(hashed_key=hash_api_key(raw_key)).first())
        if key is None or not key.is_usable:
            raise exceptions.AuthenticationFailed("This API key is not valid.")
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("This account cannot use the API.")
        now = timezone.now()
        stale_before = now - timezone.timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)
        if key.last_used_at is None or key.last_used_at < stale_before:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.user, key

    def authenticate_header(self, request):
        return self.keyword


class ActiveSessionAuthentication(authentication.SessionAuthentication):
    """Session auth that also refuses users who were suspended mid-session."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and not result[0].is_active:
            raise exceptions.AuthenticationFailed("This account cannot use the API.")
        return result
