"""DRF authentication: ``Authorization: Bearer <api key>`` and browser sessions."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts import api_key_cache
from accounts.models import hash_api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <key>``, answered from a small cache of the key and its user
    (accounts.api_key_cache): no query on a hit, the revocation of a key or the suspension of
    its user seen by the next request."""

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
        now = timezone.now()
        entry = api_key_cache.credential(hash_api_key(raw_key), now=now)
        if entry is None or api_key_cache.is_expired(entry, now):
            raise exceptions.AuthenticationFailed("This API key is not valid.")
        if not entry["is_active"]:
            raise exceptions.AuthenticationFailed("This account cannot use the API.")
        return api_key_cache.user_for(entry), api_key_cache.key_for(entry)

    def authenticate_header(self, request):
        return self.keyword


class ActiveSessionAuthentication(authentication.SessionAuthentication):
    """Session auth that also refuses users who were suspended mid-session."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and not result[0].is_active:
            raise exceptions.AuthenticationFailed("This account cannot use the API.")
        return result
