"""Helpers shared by the support tests (real threads and connections, no mocks)."""

import threading

from django.db import connection

from core.api import DomainError
from support import approvals


def approve_at_once(approval, approvers) -> list[str]:
    """Every approver approves ``approval`` at the same moment, each on its own thread and
    database connection. Returns the outcomes, sorted: "ok" or the refusal's code."""

    results = []
    barrier = threading.Barrier(len(approvers))

    def approve(user):
        try:
            barrier.wait()
            approvals.approve(approval=approval, approver=user)
            results.append("ok")
        except DomainError as exc:  # the approval flow's refusals and the executor's
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(user,)) for user in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)
