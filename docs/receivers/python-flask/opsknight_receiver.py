"""The framework-independent part of an OpsKnight webhook receiver, shared by the Django
and the Flask example (the same file in both): check a request (both signatures, a
fresh timestamp), skip a `webhook-id` already seen, answer at once, and on a background
thread bring a local copy of the incident up to date from the OpsKnight API.

Configuration, from the environment:

    OPSKNIGHT_WEBHOOK_SECRET      the endpoint's secret, exactly as shown (required)
    OPSKNIGHT_WEBHOOK_OLD_SECRET  a second secret also accepted, while you rotate (optional)
    OPSKNIGHT_API_URL             where OpsKnight runs, e.g. https://opsknight.example.com (required)
    OPSKNIGHT_API_KEY             an API key with incidents:read and incidents:read_private (required)
    WEBHOOK_TOLERANCE_SECONDS     how far webhook-timestamp may be from now: 1 to 300 (default 300)
    API_RETRY_DELAYS              seconds between tries of the API, e.g. "1,5,30" (the default)
    RECEIVER_DB                   SQLite file: webhook ids seen, incident copies (default receiver.sqlite3)
    RECEIVER_LOG                  JSON-lines file, one line per thing done (default receiver-log.jsonl)
"""

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import requests
import verify_opsknight_signature
import verify_standardwebhooks
from standardwebhooks import WebhookVerificationError

logger = logging.getLogger("opsknight_receiver")

# verify_standardwebhooks (the standardwebhooks library) refuses a timestamp more than
# 5 minutes away in any case, so the tolerance can be made smaller, not larger.
MAX_TOLERANCE_SECONDS = 300
REQUIRED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "x-opsknight-signature")


@dataclass(frozen=True)
class Config:
    secrets: tuple[str, ...]
    api_url: str
    api_key: str
    tolerance_seconds: int = MAX_TOLERANCE_SECONDS
    api_retry_delays: tuple[float, ...] = (1, 5, 30)
    db_path: str = "receiver.sqlite3"
    log_path: str = "receiver-log.jsonl"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "Config":
        secrets = (environ["OPSKNIGHT_WEBHOOK_SECRET"], environ.get("OPSKNIGHT_WEBHOOK_OLD_SECRET", ""))
        tolerance = int(environ.get("WEBHOOK_TOLERANCE_SECONDS", MAX_TOLERANCE_SECONDS))
        if not 0 < tolerance <= MAX_TOLERANCE_SECONDS:
            raise ValueError(f"WEBHOOK_TOLERANCE_SECONDS must be between 1 and {MAX_TOLERANCE_SECONDS}")
        delays = environ.get("API_RETRY_DELAYS", "1,5,30")
        return cls(
            secrets=tuple(secret for secret in secrets if secret),
            api_url=environ["OPSKNIGHT_API_URL"].rstrip("/"),
            api_key=environ["OPSKNIGHT_API_KEY"],
            tolerance_seconds=tolerance,
            api_retry_delays=tuple(float(delay) for delay in delays.split(",") if delay.strip()),
            db_path=environ.get("RECEIVER_DB", cls.db_path),
            log_path=environ.get("RECEIVER_LOG", cls.log_path),
        )


@dataclass(frozen=True)
class Answer:
    """What to answer OpsKnight: any 2xx means "got it, do not send it again"."""

    status: int
    body: dict


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def check_request(body: bytes, headers: Mapping[str, str], *, config: Config) -> dict:
    """The event, if the request is fresh and both signatures match one of the secrets;
    raise Refused (400 for a malformed request, 401 for a forged or stale one) otherwise."""
    headers = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in REQUIRED_HEADERS if not headers.get(name)]
    if missing:
        raise Refused(400, f"missing header: {', '.join(missing)}")
    timestamp = headers["webhook-timestamp"]
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise Refused(400, "webhook-timestamp is not a number of seconds")
    # A captured request replayed later (or a badly wrong clock) is refused.
    if abs(time.time() - int(timestamp)) > config.tolerance_seconds:
        raise Refused(401, "webhook-timestamp is too old or too far ahead")
    # Constant-time comparisons inside both verifiers (hmac.compare_digest).
    if not verify_opsknight_signature.verify(body, headers, config.secrets):
        raise Refused(401, "X-OpsKnight-Signature does not match")
    for secret in config.secrets:
        try:
            return verify_standardwebhooks.verify(body, headers, secret)
        except (WebhookVerificationError, ValueError):  # ValueError: a malformed signature header
            continue
    raise Refused(401, "webhook-signature does not match")


class StateStore:
    """SQLite, safe from several threads and processes: the webhook ids seen (the
    de-duplication) and the local copy of each incident (the "other system" kept in sync)."""

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS webhooks_seen (webhook_id TEXT PRIMARY KEY, received_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS incidents (id TEXT PRIMARY KEY, version INTEGER NOT NULL, data TEXT NOT NULL);
    """

    def __init__(self, path: str):
        self.path = path
        with self._transaction() as db:
            db.executescript(self.SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def claim(self, webhook_id: str) -> bool:
        """True for the first request with this webhook id, False for every repeat: one
        atomic insert, so two requests at once cannot both win."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO webhooks_seen (webhook_id, received_at) VALUES (?, ?)", (webhook_id, now())
            )
            return cursor.rowcount == 1

    def release(self, webhook_id: str) -> None:
        """Forget a webhook id whose processing failed, so that a redelivery is processed."""
        with self._transaction() as db:
            db.execute("DELETE FROM webhooks_seen WHERE webhook_id = ?", (webhook_id,))

    def apply(self, incident: dict) -> bool:
        """Store the incident unless the copy is already at this version or a later one
        (events arrive in any order). True if the copy changed."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO incidents (id, version, data) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE"
                " SET version = excluded.version, data = excluded.data WHERE excluded.version > incidents.version",
                (incident["id"], incident["version"], json.dumps(incident)),
            )
            return cursor.rowcount == 1


class Journal:
    """What the receiver did, one JSON object a line: for you to read, and for the tests."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()

    def write(self, kind: str, **details) -> None:
        line = json.dumps({"at": now(), "kind": kind, **details}, ensure_ascii=False)
        with self._lock, open(self.path, "a", encoding="utf-8") as journal:
            journal.write(line + "\n")


class Receiver:
    """`receive()` for the web view; the processing runs on one background thread."""

    def __init__(self, config: Config):
        self.config = config
        self.store = StateStore(config.db_path)
        self.journal = Journal(config.log_path)
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {config.api_key}"
        self._queue: queue.Queue[dict] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()

    def receive(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        """Check one request, and queue its event unless it was seen before. Quick: the
        API is not called here."""
        webhook_id = {name.lower(): value for name, value in headers.items()}.get("webhook-id")
        try:
            event = check_request(body, headers, config=self.config)
        except Refused as refusal:
            self.journal.write("refused", webhook_id=webhook_id, status=refusal.status, reason=refusal.reason)
            return Answer(refusal.status, {"error": refusal.reason})
        if not self.store.claim(webhook_id):
            self.journal.write("duplicate", webhook_id=webhook_id, event=event["event"])
            return Answer(200, {"duplicate": webhook_id})
        self.journal.write("accepted", webhook_id=webhook_id, event=event["event"])
        self._start_worker()
        self._queue.put(event)
        return Answer(202, {"accepted": webhook_id})

    def _start_worker(self) -> None:
        # Started on first use, in the process that serves requests (not in a parent that forks).
        with self._worker_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="opsknight-receiver", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            event = self._queue.get()
            try:
                self.process(event)
            except Exception as error:
                # Already answered 2xx, so OpsKnight will not retry: let a redelivery through.
                logger.exception("could not process %s", event["id"])
                self.store.release(event["id"])
                self.journal.write("failed", webhook_id=event["id"], event=event["event"], error=repr(error))

    def process(self, event: dict) -> None:
        """Bring the local copy of the event's incident up to date. The incident is always
        fetched: a private incident's payload has only its id, and the API has the latest
        version whatever order the events arrive in."""
        incident_id = event["incident"]["id"]
        if incident_id.startswith("inc_TEST"):  # Send Test: a sample incident, nothing to fetch
            self.journal.write("test", webhook_id=event["id"], event=event["event"])
            return
        incident = self.fetch_incident(incident_id)
        if incident is None:
            self.journal.write("not_found", webhook_id=event["id"], event=event["event"], incident_id=incident_id)
            return
        applied = self.store.apply(incident)
        self.journal.write(
            "processed", webhook_id=event["id"], event=event["event"], incident=incident, applied=applied
        )

    def fetch_incident(self, incident_id: str) -> dict | None:
        """GET /api/v1/incidents/{id}, retried on connection errors, 429 and 5xx; None for
        404 (a key without incidents:read_private does not see private incidents)."""
        url = f"{self.config.api_url}/api/v1/incidents/{incident_id}"
        for delay in (*self.config.api_retry_delays, None):
            try:
                response = self.api.get(url, timeout=(3, 10))
            except (requests.ConnectionError, requests.Timeout):
                if delay is None:
                    raise
            else:
                if response.status_code == 404:
                    return None
                if (response.status_code != 429 and response.status_code < 500) or delay is None:
                    response.raise_for_status()  # 401 or 403: the key is wrong, retrying will not help
                    return response.json()
                if response.status_code == 429:
                    delay = max(delay, float(response.headers.get("Retry-After", 0)))
            time.sleep(delay)
        raise AssertionError("the last try returns or raises")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
