"""Scenario 1, the limit: the same signed POSTs the engine sends, from a plain loop of
`requests.Session` threads. No Django, no Celery, no database.

Run as a subprocess (one per worker process the engine gets, each with the engine's
thread count), so its CPU is its own and it has its own GIL, like a worker:

    python -m bench.baseline burst --base http://127.0.0.1:PORT --threads 16 --count 10000 --paths 2
    python -m bench.baseline paced --base ... --threads 16 --rate 1000 --duration 10 --paths 5

It prints one JSON line: start/end (time.time()), count, errors, and for `paced` the
latency of each request in ms (from its scheduled send time to its response).
"""

import argparse
import base64
import hashlib
import hmac
import itertools
import json
import os
import secrets
import threading
import time

import requests

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
SIGNING_KEY = base64.b64decode(SECRET[len("whsec_") :])
EVENT_TYPE = "incident.triggered"


def sample_body(event_id: str) -> bytes:
    """An event body of the shape and size the engine sends (DESIGN.md, wire format)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    body = {
        "id": event_id,
        "event": EVENT_TYPE,
        "timestamp": now,
        "incident": {
            "id": "inc_01KBENCHBASELINE0000000000",
            "title": "bench incident 000001",
            "summary": "",
            "status": "triggered",
            "severity": "high",
            "service": None,
            "assignee": None,
            "createdAt": now,
            "updatedAt": now,
            "acknowledgedAt": None,
            "resolvedAt": None,
            "escalationLevel": 0,
            "version": 1,
            "visibility": "public",
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signed_headers(*, delivery_id: str, event_id: str, body: bytes) -> dict[str, str]:
    """The engine's header set, signed per request (the timestamp is per attempt)."""
    timestamp = int(time.time())
    hex_digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    std_digest = hmac.new(SIGNING_KEY, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "OpsKnight-Webhooks/bench-baseline",
        "X-OpsKnight-Event": EVENT_TYPE,
        "X-OpsKnight-Delivery": delivery_id,
        "X-OpsKnight-Signature": f"sha256={hex_digest}",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(std_digest).decode("ascii"),
    }


def run(args) -> dict:
    paths = [f"{args.path_prefix}{n}" for n in range(args.paths)]
    tag = f"{os.getpid()}"
    body = sample_body(f"evt_bl{tag}")
    if args.mode == "burst":
        total, interval = args.count, 0.0
    else:
        total, interval = int(args.rate * args.duration), 1.0 / args.rate
    counter = itertools.count()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    ready = threading.Barrier(args.threads + 1)
    start = [0.0]
    go = threading.Event()

    def worker() -> None:
        session = requests.Session()
        session.trust_env = False
        # Warm-up: one request per thread opens its connection before the clock starts.
        session.post(args.base + paths[0] + "-warmup", data=body, timeout=(3, 10)).content  # noqa: B018
        ready.wait()
        go.wait()
        mine = []
        while True:
            n = next(counter)
            if n >= total:
                break
            scheduled = start[0] + n * interval
            if interval:
                delay = scheduled - time.time()
                if delay > 0:
                    time.sleep(delay)
            event_id = f"evt_bl{tag}_{n}"
            headers = signed_headers(delivery_id=f"dlv_bl{tag}_{n}", event_id=event_id, body=body)
            try:
                response = session.post(
                    args.base + paths[n % len(paths)],
                    data=body,
                    headers=headers,
                    timeout=(3, 10),
                    allow_redirects=False,
                )
                response.content  # noqa: B018 - read the answer, as the engine does
                if not 200 <= response.status_code < 300:
                    raise requests.HTTPError(response.status_code)
            except requests.RequestException:
                with lock:
                    errors[0] += 1
                continue
            if interval:
                mine.append((time.time() - scheduled) * 1000)
        with lock:
            latencies.extend(mine)
        session.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    ready.wait(timeout=30)
    # Several processes start together at --start-at (their connections already open), so
    # one that took longer to start does not stretch the run.
    start[0] = max(time.time() + 0.01, args.start_at or 0.0)
    time.sleep(max(0.0, start[0] - time.time()))
    go.set()
    deadline_at = time.monotonic() + args.deadline
    for thread in threads:
        thread.join(timeout=max(0.0, deadline_at - time.monotonic()))
    end = time.time()
    return {
        "start": start[0],
        "end": end,
        "count": total,
        "errors": errors[0],
        "latencies_ms": latencies,
        "timed_out": any(t.is_alive() for t in threads),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline")
    parser.add_argument("mode", choices=["burst", "paced"])
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--count", type=int, default=10_000, help="burst: how many POSTs")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced: POSTs per second")
    parser.add_argument("--duration", type=float, default=10.0, help="paced: seconds")
    parser.add_argument("--paths", type=int, default=2, help="spread over this many paths")
    parser.add_argument("--path-prefix", default="/baseline/")
    parser.add_argument("--deadline", type=float, default=120.0)
    parser.add_argument("--start-at", type=float, help="time.time() to start at (after the warm-up)")
    args = parser.parse_args()
    if not args.base.startswith("http://127.0.0.1:"):
        parser.error("the baseline only sends to 127.0.0.1")
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
