"""An open-loop HTTP sender: requests leave at a fixed rate whatever the server does.

Why not locust here: locust's users are closed loops (a user sends its next request after
the previous answer, ``constant_throughput`` only paces that loop), so a slow answer delays
the arrivals behind it and the latency of the requests that should have been sent meanwhile
is never seen. Stripe delivers webhooks when events happen, not when we are ready.

Request ``i`` is due at ``start + i / rate``. The requests are shared out among
``processes`` sender processes (request i to process i % processes), each with a pool of
sender threads; a thread takes its process's next due request, waits for its moment and
sends it on its own keep-alive connection. Processes, so that the generator is not one
interpreter's GIL: at a few hundred requests a second one process's threads would start
late. The latency of a request is measured from its DUE time to the end of the answer, so a
request that waited for a free sender (the server was slow) carries that wait: no
coordinated omission. ``start`` is the wall clock, which every process reads alike.
"""

from __future__ import annotations

import http.client
import multiprocessing
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
        return (
            f"{self.planned} sent at {self.rate:g}/s (achieved {self.achieved_rate:.1f}/s), "
            f"{self.ok} acknowledged 2xx, {self.failed} failed; latency p50 {self.p(50):.1f}"
            f" ms, p95 {self.p(95):.1f} ms, p99 {self.p(99):.1f} ms, max "
            f"{max(self.latencies_ms, default=0):.1f} ms; {self.late_starts} late starts"
        )


def run(
    base_url: str,
    requests: list[Request],
    *,
    rate: float,
    senders: int = 32,
    processes: int = 2,
    timeout: float = 30.0,
) -> Outcome:
    """Send ``requests`` in order at ``rate`` per second from ``processes`` processes of
    ``senders / processes`` threads each; return what happened."""
    processes = max(1, min(processes, len(requests) or 1))
    context = multiprocessing.get_context("spawn")  # no copy of the caller's threads or sockets
    ready, go = context.Barrier(processes + 1), context.Barrier(processes + 1)
    start = context.Value("d", 0.0)
    results = context.Queue()
    shares = [
        [(i, requests[i]) for i in range(p, len(requests), processes)] for p in range(processes)
    ]
    threads = max(1, senders // processes)
    workers = [
        context.Process(
            target=_sender_process,
            daemon=True,
            args=(base_url, share, rate, threads, timeout, ready, go, start, results),
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    try:
        ready.wait(timeout=60)  # every process imported and waiting
        start.value = time.time() + 0.2  # every thread is waiting before the first is due
        go.wait(timeout=60)
        reports = [results.get(timeout=timeout + len(requests) / rate + 60) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    outcome = Outcome(rate=rate, planned=len(requests))
    for report in reports:
        outcome.latencies_ms.extend(report["latencies_ms"])
        outcome.statuses.update(report["statuses"])
        outcome.errors.update(report["errors"])
        outcome.late_starts += report["late_starts"]
    outcome.seconds = max(report["finished"] for report in reports) - start.value
    return outcome


def _sender_process(base_url, share, rate, threads, timeout, ready, go, start, results):
    ready.wait()
    go.wait()
    results.put(
        _send(base_url, share, rate=rate, start=start.value, threads=threads, timeout=timeout)
    )


def _exchange(connection: http.client.HTTPConnection, request: Request) -> tuple:
    """Send ``request`` and read the answer: (status, None), or (None, the error's name)."""
    try:
        connection.request(request.method, request.path, body=request.body, headers=request.headers)
        response = connection.getresponse()
        response.read()
        status, error = response.status, None
        if response.will_close:
            connection.close()  # reopened by the next request()
    except (OSError, http.client.HTTPException) as exc:
        status, error = None, type(exc).__name__
        connection.close()
    return status, error


def _send(
    base_url: str,
    share: list[tuple[int, Request]],
    *,
    rate: float,
    start: float,
    threads: int,
    timeout: float,
) -> dict:
    """One process's part: its (index, request) pairs, each sent at ``start + index / rate``
    (wall clock) by ``threads`` threads."""
    parts = urlsplit(base_url)
    lock = threading.Lock()
    pending = iter(share)
    report = {
        "latencies_ms": [],
        "statuses": Counter(),
        "errors": Counter(),
        "late_starts": 0,
        "finished": start,
    }

    def sender() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            while True:
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                index, request = item
                due = start + index / rate
                pause = due - time.time()
                if pause > 0:
                    time.sleep(pause)
                late = time.time() - due > 0.010
                status, error = _exchange(connection, request)
                finished = time.time()
                with lock:
                    report["latencies_ms"].append((finished - due) * 1000)
                    report["late_starts"] += late
                    report["finished"] = max(report["finished"], finished)
                    if error:
                        report["errors"][error] += 1
                    else:
                        report["statuses"][status] += 1
        finally:
            connection.close()

    pool = [threading.Thread(target=sender, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return report
