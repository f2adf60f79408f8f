"""The REST API from the bench's side: API keys for the client threads, one client in
the bench process for single timed calls (a transition), and the figures of a load run
of `bench/api_client.py` processes."""

import math
import time
import uuid
from pathlib import Path

import requests

from bench.results import ms, percentile

API_SCOPES = ["incidents:read", "incidents:write"]


def api_keys(*, count: int, tag: str, folder: Path) -> Path:
    """`count` fresh API keys (bench keys of earlier scenarios revoked by deletion), one a
    line in a file only this user can read."""
    from opsknight.models import ApiKey
    from opsknight.services import api_key_create

    ApiKey.objects.filter(name__startswith="bench ").delete()
    keys = [api_key_create(name=f"bench {tag} {n}", scopes=API_SCOPES)[1] for n in range(count)]
    path = folder / f"api-keys-{tag}.txt"
    path.touch(mode=0o600)
    path.write_text("\n".join(keys) + "\n")
    return path


class ApiClient:
    """One kept-alive session, one key: timed calls from the bench process."""

    def __init__(self, base: str, keys_file: Path):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        key = keys_file.read_text().split()[0]
        self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, path: str, body: dict | None = None) -> tuple[dict, float]:
        """The answer's JSON and the call's wall time in seconds; an error answer raises."""
        began = time.perf_counter()
        response = self.session.post(f"{self.base}/api/v1/{path}", json=body or {}, timeout=(5, 60))
        seconds = time.perf_counter() - began
        if not response.ok:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")
        return response.json(), seconds

    def incident_create(self) -> dict:
        body = {"title": "bench fan-out incident", "idempotency_key": f"bench-{uuid.uuid4().hex}", "severity": "high"}
        return self.post("incidents", body)[0]


def load_figures(results: list[dict], *, start_at: float) -> dict:
    """One load run's figures from its client processes' JSON lines."""
    statuses: dict[str, int] = {}
    for result in results:
        for code, count in result["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    latencies = [x / 1000 for result in results for x in result["latencies_ms"]]
    elapsed = max(result["end"] for result in results) - start_at
    created = statuses.get("201", 0)
    return {
        "sent": sum(result["sent"] for result in results),
        "statuses": statuses,
        "created": created,
        "server_errors": sum(count for code, count in statuses.items() if code.startswith("5")),
        "other": sum(count for code, count in statuses.items() if code not in ("200", "201") and code[0] != "5"),
        "errors": sum(result["errors"] for result in results),
        "first_errors": [error for result in results for error in result["first_errors"]][:2],
        "skipped": sum(result["skipped"] for result in results),
        "max_lag": max(result["max_lag"] for result in results),
        "timed_out": any(result["timed_out"] for result in results),
        "seconds": elapsed,
        "rate": created / elapsed if elapsed > 0 else 0.0,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "cpu": sum(result["cpu"] for result in results),
    }


def answers_note(load: dict) -> str:
    """What the clients got back, for the notes."""
    codes = ", ".join(f"{code}: {count:,}" for code, count in sorted(load["statuses"].items()))
    parts = [f"{load['sent']:,} requests ({codes or 'no answer'})"]
    if load["errors"]:
        parts.append(f"**{load['errors']:,} unanswered** (e.g. {load['first_errors'][0]})")
    if load["skipped"]:
        parts.append(f"{load['skipped']:,} not sent by the deadline")
    return "; ".join(parts)


def latency_pair(load: dict) -> str:
    p50, p99 = load["p50"], load["p99"]
    if math.isnan(p50):
        return "—"
    return f"{ms(p50)} / {ms(p99)}"
