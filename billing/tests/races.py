"""Requests that start together: each in its own thread and database connection, released
at once by a barrier, the way several browser tabs or API clients arrive."""

import threading

from django.db import connection
from rest_framework.test import APIClient

CHECKOUT = ("/api/v1/checkout/", {"payment_method": "manual"})


def post_together(requests: list[tuple]) -> list[tuple[int, str | None]]:
    """POST each ``(user, path, data)`` at the same moment; returns each answer's
    ``(status, code)`` in the order they came back."""
    barrier = threading.Barrier(len(requests))
    results = []

    def post(user, path, data):
        try:
            client = APIClient()
            client.force_authenticate(user=user)
            barrier.wait()
            response = client.post(path, data, format="json")
            results.append((response.status_code, response.json().get("code")))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
