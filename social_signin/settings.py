"""allauth's Google and GitHub providers, each enabled when its client id and secret are set
(GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET, GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET).

``provider_settings(env)`` builds ``SOCIALACCOUNT_PROVIDERS``. ``SOCIAL_GITHUB_URL`` (GitHub
Enterprise) and ``SOCIAL_GOOGLE_BASE_URL`` point the providers elsewhere: the tests' fake
provider on 127.0.0.1."""

from typing import Any
from urllib.parse import urlparse

import environ

PROVIDERS = {"google": "GOOGLE", "github": "GITHUB"}


def provider_settings(env: environ.Env) -> dict[str, dict[str, Any]]:
    providers: dict[str, dict[str, Any]] = {}
    for provider, prefix in PROVIDERS.items():
        client_id = env.str(f"{prefix}_CLIENT_ID", default="")
        secret = env.str(f"{prefix}_CLIENT_SECRET", default="")
        if not (client_id and secret):
            continue
        providers[provider] = {"APPS": [{"client_id": client_id, "secret": secret}]}
    if "google" in providers:
        providers["google"].update(
            {"SCOPE": ["openid", "profile", "email"], "AUTH_PARAMS": {"prompt": "select_account"}}
        )
        base = env.str("SOCIAL_GOOGLE_BASE_URL", default="").rstrip("/")
        if base:
            providers["google"].update(
                {
                    "AUTHORIZE_URL": f"{base}/google/authorize",
                    "ACCESS_TOKEN_URL": f"{base}/google/token",
                    "IDENTITY_URL": f"{base}/google/userinfo",
                    "ID_TOKEN_ISSUER": base,
                }
            )
    if "github" in providers:
        providers["github"]["SCOPE"] = ["read:user", "user:email"]
        url = env.str("SOCIAL_GITHUB_URL", default="").rstrip("/")
        if url:
            providers["github"]["GITHUB_URL"] = url
    return providers


def form_action_origins(providers: dict) -> list[str]:
    """Where the sign-in buttons' forms end up (the providers' authorization pages), for the
    Content-Security-Policy's form-action, which browsers also apply to redirects."""
    origins = []
    if "google" in providers:
        origins.append(providers["google"].get("AUTHORIZE_URL", "https://accounts.google.com"))
    if "github" in providers:
        origins.append(providers["github"].get("GITHUB_URL", "https://github.com"))
    return [f"{urlparse(url).scheme}://{urlparse(url).netloc}" for url in origins]
