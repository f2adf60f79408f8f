"""A load-generating process that declares incidents through the REST API, as
integrators do: `POST /api/v1/incidents` over HTTP, each thread one client with its own
kept-alive `requests.Session` and its own API key. Several of these run at once.

    python -m bench.api_client closed --base URL --keys-file F --threads 4 --count 750 --start-at EPOCH
    python -m bench.api_client paced --base URL --keys-file F --threads 8 --rate 50 --duration 30 --start-at EPOCH

`closed`: each thread sends its next request when the last one is answered, until the
process has sent `--count` or `--deadline` passes. `paced`: requests at `--rate` per
second on a fixed schedule (`--offset` shifts it); a request a thread could not send by
the end of `--duration` is skipped and counted. Prints one JSON line: requests sent,
answers by status, errors (no answer: refused, timed out), latencies in ms (send →
answer), start, end, max_lag (how late a paced request went out), skipped, cpu.
"""

import argparse
import itertools
import json
import os
import threading
import time
import uuid

import requests

TIMEOUT = (5, 60)  # connect, read: generous, a slow answer is a figure, not an error


def run(args) -> dict:
    keys = [line.strip() for line in open(args.keys_file) if line.strip()][args.key_offset :]
    if len(keys) < args.threads:
        raise SystemExit(f"{args.threads} threads need as many keys, the file has {len(keys)}")
    base = args.base.rstrip("/")
    paced = args.mode == "paced"
    total = int(args.rate * args.duration) if paced else args.count
    counter = itertools.count()
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    start = args.start_at + args.offset
    # No request is started after this (time.time()).
    until = start + (args.duration + 1.0 if paced else args.deadline)
    lock = threading.Lock()
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    lags: list[float] = []
    errors: list[str] = []
    sent = [0]

    def client(key: str) -> None:
        session = requests.Session()
        session.trust_env = False
        headers = {"Authorization": f"Bearer {key}"}
        # Warm-up: the connection, the key's look-up, a gunicorn thread; before the clock.
        session.get(f"{base}/api/v1/incidents?limit=1", headers=headers, timeout=TIMEOUT).content  # noqa: B018
        delay = start - time.time()
        if delay > 0:
            time.sleep(delay)
        mine_latency, mine_lag, mine_status, mine_errors = [], [], {}, []
        while (n := next(counter)) < total:
            if paced:
                scheduled = start + n / args.rate
                delay = scheduled - time.time()
                if delay > 0:
                    time.sleep(delay)
                mine_lag.append(max(0.0, -delay))
            if time.time() >= until:
                break
            body = {"title": f"bench api incident {n}", "idempotency_key": f"bench-{tag}-{n}", "severity": "high"}
            began = time.perf_counter()
            try:
                response = session.post(f"{base}/api/v1/incidents", json=body, headers=headers, timeout=TIMEOUT)
                response.content  # noqa: B018 - read the answer, as a client does
            except requests.RequestException as error:
                mine_errors.append(f"{type(error).__name__}: {error}"[:200])
                continue
            finally:
                with lock:
                    sent[0] += 1
            mine_latency.append((time.perf_counter() - began) * 1000)
            code = str(response.status_code)
            mine_status[code] = mine_status.get(code, 0) + 1
        session.close()
        with lock:
            latencies.extend(mine_latency)
            lags.extend(mine_lag)
            errors.extend(mine_errors)
            for code, count in mine_status.items():
                statuses[code] = statuses.get(code, 0) + count

    threads = [threading.Thread(target=client, args=(keys[n],), daemon=True) for n in range(args.threads)]
    for thread in threads:
        thread.start()
    delay = start - time.time()
    if delay > 0:
        time.sleep(delay)
    cpu_at_start = time.process_time()
    for thread in threads:
        thread.join(timeout=max(0.0, until + TIMEOUT[1] + 5 - time.time()))
    return {
        "sent": sent[0],
        "statuses": statuses,
        "errors": len(errors),
        "first_errors": errors[:3],
        "latencies_ms": latencies,
        "start": start,
        "end": time.time(),
        "max_lag": max(lags, default=0.0),
        "skipped": max(0, total - sent[0]),
        "cpu": time.process_time() - cpu_at_start,
        "timed_out": any(thread.is_alive() for thread in threads),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api_client")
    parser.add_argument("mode", choices=["closed", "paced"])
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT of the web process")
    parser.add_argument("--keys-file", required=True, help="API keys, one a line (one per thread)")
    parser.add_argument("--key-offset", type=int, default=0, help="skip this many keys of the file")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--count", type=int, default=0, help="closed: requests in all")
    parser.add_argument("--rate", type=float, default=0.0, help="paced: requests per second")
    parser.add_argument("--duration", type=float, default=0.0, help="paced: seconds")
    parser.add_argument("--offset", type=float, default=0.0, help="paced: shift this process's schedule")
    parser.add_argument("--start-at", type=float, required=True, help="time.time() to start at")
    parser.add_argument("--deadline", type=float, default=120.0, help="closed: no request after this many seconds")
    args = parser.parse_args()
    if not args.base.startswith("http://127.0.0.1:"):
        parser.error("the API client only talks to 127.0.0.1")
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
