"""Drive one gunicorn with locust (library mode) and write what it measured as JSON.

Runs in a process of its own (``python -m bench.locust_driver SPEC.json OUT.json``) because
importing locust patches the standard library for gevent, which the Django side of the
benchmarks (threads, psycopg) must not get.

SPEC: ``{"host": ..., "users": N, "warmup": s, "seconds": s, "targets": [{"name", "method",
"path", "headers", "body", "expect"}]}``. Each target is run on its own, one after another:
N users in a closed loop (each sends its next request when the previous answer arrives, no
think time), ``warmup`` seconds discarded, then ``seconds`` measured. A response whose status
is not ``expect`` counts as a failure.
"""

import json
import sys
import time
from pathlib import Path

import gevent
from locust import FastHttpUser, constant, task
from locust.env import Environment


def _user_class(host: str, target: dict) -> type:
    method, path = target["method"], target["path"]
    headers = target.get("headers") or {}
    body = target.get("body")
    data = json.dumps(body) if body is not None else None
    expect = target.get("expect", 200)

    class Client(FastHttpUser):
        wait_time = constant(0)

        @task
        def call(self):
            with self.client.request(
                method, path, headers=headers, data=data, name=target["name"], catch_response=True
            ) as response:
                if response.status_code != expect:
                    response.failure(f"status {response.status_code}")

    Client.host = host
    return Client


def run_target(spec: dict, target: dict) -> dict:
    environment = Environment(user_classes=[_user_class(spec["host"], target)])
    runner = environment.create_local_runner()
    runner.start(spec["users"], spawn_rate=spec["users"] * 4)
    gevent.sleep(spec["warmup"])
    environment.stats.reset_all()
    began = time.perf_counter()
    gevent.sleep(spec["seconds"])
    total = environment.stats.total
    elapsed = time.perf_counter() - began
    result = {
        "name": target["name"],
        "requests": total.num_requests,
        "failures": total.num_failures,
        "seconds": elapsed,
        "rps": total.num_requests / elapsed,
        # locust keeps response times in ms, rounded to 2 significant figures above 100 ms.
        "p50_ms": total.get_response_time_percentile(0.50),
        "p95_ms": total.get_response_time_percentile(0.95),
        "p99_ms": total.get_response_time_percentile(0.99),
        "avg_ms": total.avg_response_time,
        "errors": [f"{e.error} x{e.occurrences}" for e in environment.stats.errors.values()][:5],
    }
    runner.quit()
    return result


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    results = [run_target(spec, target) for target in spec["targets"]]
    Path(sys.argv[2]).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
