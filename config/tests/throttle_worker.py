"""One web process for test_throttling.test_limit_holds_across_processes.

Sets Django up with the test settings, the shared cache on Redis and the sign-up limit
from the environment, waits for the common start time, then sends sign-ups through the
whole stack (middleware, DRF, throttles) with Django's test client, all from one client
IP, and prints the error codes of the answers as one JSON line. The bodies are invalid on
purpose: a request the limit lets through is answered 400 by validation without touching
the database."""

import json
import os
import time

import django
from django.conf import settings
from django.test import Client


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"

    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": os.environ["THROTTLE_REDIS_URL"],
            "KEY_PREFIX": os.environ["THROTTLE_KEY_PREFIX"],
        }
    }
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "signup": os.environ["THROTTLE_RATE"]}
    # Never the development database, should anything query.
    settings.DATABASES["default"]["NAME"] = settings.DATABASES["default"]["TEST"]["NAME"]
    django.setup()

    client = Client()
    body = json.dumps({"email": "not an address", "password": "x"})
    while time.time() < float(os.environ["THROTTLE_START_AT"]):
        time.sleep(0.002)
    answers = []
    for _ in range(int(os.environ["THROTTLE_REQUESTS"])):
        response = client.post(
            "/api/v1/auth/signup/",
            body,
            content_type="application/json",
            HTTP_HOST="localhost",
            REMOTE_ADDR="198.51.100.20",
        )
        answers.append(response.json()["code"])
    print(json.dumps(answers), flush=True)


if __name__ == "__main__":
    main()
