"""The transport alone: CPU per POST of `webhooks.transport.send` against a plain
`requests.Session.post` loop (scenario 1's baseline), in the same process and run,
rounds interleaved so that other work on the machine hits both alike.

    python -m bench.sender [--count 4000] [--threads 16] [--rounds 3]

No database, Celery or Redis: the bench receiver on 127.0.0.1 answers `200 ok`.
Prints one line per variant: best-round CPU per POST (this process, all threads), its
ratio to the baseline, and the best rate.
"""

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.baseline import sample_body, signed_headers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sender", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=4000, help="POSTs per variant per round")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsknight.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    os.environ["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "true"
    import django

    django.setup()
    from webhooks import transport

    receiver = subprocess.Popen([sys.executable, "-m", "bench.receiver"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(receiver.stdout.readline().split()[1])
        base = f"http://127.0.0.1:{port}"
        body = sample_body("evt_benchsender")
        plain = requests.Session()
        plain.trust_env = False
        plain.mount("http://", requests.adapters.HTTPAdapter(pool_connections=64, pool_maxsize=64))

        def baseline_post(n: int) -> None:
            headers = signed_headers(delivery_id=f"dlv_{n}", event_id="evt_benchsender", body=body)
            response = plain.post(f"{base}/p{n % 2}", data=body, headers=headers, timeout=(5, 5), allow_redirects=False)
            response.content  # noqa: B018 - read the answer, as the engine does

        secrets = ["whsec_" + "A" * 43 + "="]

        def engine_send(n: int) -> None:
            headers = transport.build_headers(
                delivery_id=f"dlv_{n}",
                event_id="evt_benchsender",
                event_type="incident.triggered",
                body=body,
                secrets=secrets,
                timestamp=int(time.time()),
            )
            result = transport.send(url=f"{base}/p{n % 2}", body=body, headers=headers)
            if not result.succeeded:
                raise RuntimeError(result.summary)

        variants = {"requests.Session.post (baseline)": baseline_post, "webhooks.transport.send": engine_send}
        best: dict[str, tuple[float, float]] = {}
        with ThreadPoolExecutor(args.threads) as pool:
            for _ in range(args.rounds):
                for name, post in variants.items():
                    list(pool.map(post, range(200)))  # warm connections
                    cpu, wall = time.process_time(), time.perf_counter()
                    list(pool.map(post, range(args.count)))
                    cpu_us = (time.process_time() - cpu) / args.count * 1e6
                    rate = args.count / (time.perf_counter() - wall)
                    low_cpu, high_rate = best.get(name, (float("inf"), 0.0))
                    best[name] = (min(low_cpu, cpu_us), max(high_rate, rate))
        baseline_cpu = best["requests.Session.post (baseline)"][0]
        print(f"{args.count:,} POSTs x {args.rounds} rounds, {args.threads} threads, best round:")
        for name, (cpu_us, rate) in best.items():
            print(f"  {name:34s} {cpu_us:6.0f} us CPU/POST  {cpu_us / baseline_cpu:.2f}x   {rate:6,.0f} POSTs/s")
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


if __name__ == "__main__":
    main()
