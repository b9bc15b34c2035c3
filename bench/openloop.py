"""An open-loop HTTP sender: requests leave at a fixed rate whatever the server does.

Why not locust here: locust's users are closed loops (a user sends its next request after
the previous answer, ``constant_throughput`` only paces that loop), so a slow answer delays
the arrivals behind it and the latency of the requests that should have been sent meanwhile
is never seen. Stripe delivers webhooks when events happen, not when we are ready.

Request ``i`` is due at ``start + i / rate``. A pool of sender threads, each with its own
keep-alive connection, takes the next due request, waits for its moment and sends it. The
latency of a request is measured from its DUE time to the end of the answer, so a request
that waited for a free sender (the server was slow) carries that wait: no coordinated
omission. Python threads are enough at this rate: a send costs well under a millisecond of
the client's CPU.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.common import percentile


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict = field(default_factory=dict)


@dataclass
class Outcome:
    rate: float
    planned: int
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    late_starts: int = 0  # sent more than 10 ms after their due time (no free sender)
    seconds: float = 0.0

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def failed(self) -> int:
        return self.planned - self.ok

    @property
    def achieved_rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def summary(self) -> str:
        return (f"{self.planned} sent at {self.rate:g}/s (achieved {self.achieved_rate:.1f}/s), "
                f"{self.ok} acknowledged 2xx, {self.failed} failed; latency p50 {self.p(50):.1f}"
                f" ms, p95 {self.p(95):.1f} ms, p99 {self.p(99):.1f} ms, max "
                f"{max(self.latencies_ms, default=0):.1f} ms; {self.late_starts} late starts")


def run(base_url: str, requests: list[Request], *, rate: float, senders: int = 32,
        timeout: float = 30.0) -> Outcome:
    """Send ``requests`` in order at ``rate`` per second; return what happened."""
    parts = urlsplit(base_url)
    outcome = Outcome(rate=rate, planned=len(requests))
    lock = threading.Lock()
    next_index = iter(range(len(requests)))
    start = time.perf_counter() + 0.2  # every sender is waiting before the first is due

    def sender() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                due = start + index / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                late = time.perf_counter() - due > 0.010
                request = requests[index]
                try:
                    connection.request(request.method, request.path, body=request.body,
                                       headers=request.headers)
                    response = connection.getresponse()
                    response.read()
                    status, error = response.status, None
                    if response.will_close:
                        connection.close()  # reopened by the next request()
                except (OSError, http.client.HTTPException) as exc:
                    status, error = None, type(exc).__name__
                    connection.close()
                finished = time.perf_counter()
                with lock:
                    outcome.latencies_ms.append((finished - due) * 1000)
                    outcome.late_starts += late
                    if error:
                        outcome.errors[error] += 1
                    else:
                        outcome.statuses[status] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.seconds = time.perf_counter() - start
    return outcome
