"""Receivers that answer badly (tests/support/hostile.py), through the whole pipeline.

For each behaviour:
- a batch with the hostile endpoint and a healthy one records the hostile attempt with a
  clear status or error, stores nothing PostgreSQL refuses, and delivers to the healthy
  endpoint exactly once;
- Send Test through the API answers JSON (2xx/4xx, never 500) with the outcome and leaves
  no delivery a worker would send again, even once its lease has run out;
- for the slow ones, a real worker sends one request at a time (no second request while
  the first is open, after the lease runs out) and ends the attempt at its deadline.

Timeouts are shrunk (connect 1 s + read 1 s: a 2 s deadline), so each test takes seconds.
`pytest tests/hostile -s` prints the figures docs/reliability.md quotes (outcome and
duration of each behaviour against the deadline).
"""

import json
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.admin.utils import quote
from django.utils import timezone

from incidents import services as incident_services
from tests.support.cluster import FAST_SETTINGS
from tests.support.hostile import ANSWER_TO, OK_BODY, HostileReceiver, overlapping
from tests.support.waiting import wait_until
from webhooks.actions import endpoint_send_test
from webhooks.delivery.dispatcher import deliveries_dispatch_due
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, DeliveryAttempt

# How far past the deadline an attempt (and the socket, seen from the receiver) may last:
# the time to notice it and close.
SLACK = 0.75
# Bounds on what one answer may leave in the log (the contract says "bounded"; these
# are generous, and far below the 10 MB a receiver can send).
MAX_STORED_HEADERS_JSON = 256 * 1024
MAX_ERROR_MESSAGE = 2000


# --- What each behaviour must come to -------------------------------------------------


def _header(attempt: DeliveryAttempt, name: str) -> str | None:
    return next((v for k, v in attempt.response_headers.items() if k.lower() == name.lower()), None)


def answered(excerpt: str | None = None, contains=(), header: str | None = None):
    """The receiver's 200 is the outcome: a succeeded attempt, no error."""

    def check(attempt: DeliveryAttempt, deadline: float) -> None:
        assert attempt.response_status == 200, _show(attempt)
        assert attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED, _show(attempt)
        assert attempt.error_class == "", _show(attempt)
        if excerpt is not None:
            assert attempt.response_body_excerpt == excerpt, _show(attempt)
        for part in contains:
            assert part in attempt.response_body_excerpt, _show(attempt)
        if header is not None:
            value = _header(attempt, header)
            assert value is not None, _show(attempt)
            assert "before" in value and "after" in value or value.startswith("caf"), _show(attempt)

    return check


def timed_out(attempt: DeliveryAttempt, deadline: float) -> None:
    """No status line and headers by the deadline: a ReadTimeout naming the deadline,
    ended at the deadline (not at the receiver's pace)."""
    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED, _show(attempt)
    assert attempt.response_status is None, _show(attempt)
    assert attempt.error_class == "ReadTimeout", _show(attempt)
    seconds = rf"\b{re.escape(f'{deadline:g}')}(\.0+)?\s*s"
    names_deadline = "deadline" in attempt.error_message.lower() or re.search(seconds, attempt.error_message)
    assert names_deadline, _show(attempt)
    assert (deadline - 0.25) * 1000 <= attempt.duration_ms <= (deadline + SLACK) * 1000, _show(attempt)


def status_kept_or_error(pattern: str, body_prefix: bytes = b""):
    """The status line arrived whole (200), the rest went wrong: the attempt keeps the
    status, or fails with an error that says what went wrong (`pattern`). An excerpt is
    what arrived, no more."""

    def check(attempt: DeliveryAttempt, deadline: float) -> None:
        kept = attempt.response_status == 200
        said = bool(attempt.error_class) and re.search(pattern, attempt.error_message, re.IGNORECASE)
        assert kept or said, _show(attempt)
        if attempt.error_class:
            assert attempt.outcome == DeliveryAttempt.Outcome.FAILED, _show(attempt)
        assert body_prefix.decode().startswith(attempt.response_body_excerpt), _show(attempt)

    return check


def dripped_body(attempt: DeliveryAttempt, deadline: float) -> None:
    """Status and headers in time, the body dripped: the status is kept, the excerpt is
    what arrived by the deadline."""
    assert attempt.response_status == 200, _show(attempt)
    assert attempt.response_body_excerpt and set(attempt.response_body_excerpt) == {"y"}, _show(attempt)
    assert (deadline - 0.25) * 1000 <= attempt.duration_ms <= (deadline + SLACK) * 1000, _show(attempt)


def connection_error(pattern: str):
    def check(attempt: DeliveryAttempt, deadline: float) -> None:
        assert attempt.outcome == DeliveryAttempt.Outcome.FAILED, _show(attempt)
        assert attempt.response_status is None, _show(attempt)
        assert attempt.error_class, _show(attempt)
        assert re.search(pattern, attempt.error_message, re.IGNORECASE), _show(attempt)

    return check


def refused_quickly(attempt: DeliveryAttempt, deadline: float) -> None:
    """A 10 MB header block: a failed attempt with an error, long before the deadline,
    without storing the block."""
    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED, _show(attempt)
    assert attempt.error_class, _show(attempt)
    assert re.search(r"header|line|too (long|many|large)", attempt.error_message, re.IGNORECASE), _show(attempt)
    assert attempt.duration_ms <= deadline * 1000, _show(attempt)


@dataclass(frozen=True)
class Case:
    behaviour: str
    check: Callable[[DeliveryAttempt, float], None]
    slow: bool = False  # holds the attempt open: checked against a real worker too
    params: dict = field(default_factory=dict)
    name: str = ""  # when one behaviour is tried with other parameters

    def __str__(self) -> str:
        return self.name or self.behaviour


CASES = [
    Case("nul_body", answered(contains=('{"note":"before', 'after"}'))),
    Case("nul_header", answered(excerpt=OK_BODY.decode(), header="X-Nul")),
    Case("invalid_utf8_body", answered(contains=("caf", "utf-8"))),
    Case("invalid_utf8_header", answered(excerpt=OK_BODY.decode(), header="X-Bytes")),
    Case("truncated_body", status_kept_or_error(r"incomplete|truncat|content.?length|ended|closed", b"0123456789")),
    Case("bad_gzip", status_kept_or_error(r"gzip|decod|encoding")),
    Case("drip_status", timed_out, slow=True),
    # Fast enough that "HTTP/1.1 200 " is out before the deadline, not the end of the line.
    Case("drip_status", timed_out, slow=True, params={"interval": 0.1}, name="drip_status_past_the_code"),
    Case("drip_headers", timed_out, slow=True),
    Case("endless_headers", timed_out, slow=True),
    Case("drip_body", dripped_body, slow=True),
    Case("continue_100", answered(excerpt=OK_BODY.decode())),
    Case("early_hints_103", answered(excerpt=OK_BODY.decode())),
    Case("http10_close", answered(excerpt="accepted, see you")),
    Case("reset_in_headers", connection_error(r"reset|closed")),
    Case("reset_in_body", status_kept_or_error(r"reset|closed|incomplete", b"0123456789")),
    Case("huge_header_block", refused_quickly),
    Case("huge_header_line", refused_quickly),
]
SLOW_CASES = [case for case in CASES if case.slow]


def _show(attempt: DeliveryAttempt) -> str:
    return (
        f"status={attempt.response_status} outcome={attempt.outcome} error={attempt.error_class}: "
        f"{attempt.error_message[:300]!r} duration={attempt.duration_ms} ms "
        f"excerpt={attempt.response_body_excerpt[:80]!r} headers={str(attempt.response_headers)[:200]}"
    )


def assert_storable(attempt: DeliveryAttempt) -> DeliveryAttempt:
    """What the log keeps of the answer came back from PostgreSQL as it was written,
    without NUL, valid UTF-8, bounded. Returns the stored row."""
    stored = DeliveryAttempt.objects.get(pk=attempt.pk)
    texts = [stored.response_body_excerpt, stored.error_class, stored.error_message]
    for name, value in stored.response_headers.items():
        texts += [name, value]
    for text in texts:
        assert isinstance(text, str)
        assert "\x00" not in text, _show(stored)
        text.encode("utf-8")  # no lone surrogates
    assert len(stored.response_body_excerpt) <= 4 * django_settings.WEBHOOK_RESPONSE_EXCERPT_BYTES
    assert len(json.dumps(stored.response_headers)) <= MAX_STORED_HEADERS_JSON, len(json.dumps(stored.response_headers))
    assert len(stored.error_message) <= MAX_ERROR_MESSAGE
    for name in ("response_status", "response_headers", "response_body_excerpt", "error_class", "error_message"):
        assert getattr(stored, name) == getattr(attempt, name), name
    # The answer is to this attempt's request, not one left over on a kept-alive connection.
    answer_to = _header(stored, ANSWER_TO)
    assert answer_to in (None, stored.delivery_id), f"the answer to {answer_to} was recorded for {stored.delivery_id}"
    return stored


# --- Figures for docs/reliability.md -----------------------------------------------------

FIGURES: list[dict] = []


@pytest.fixture(scope="module", autouse=True)
def print_figures(request):
    yield
    if not FIGURES:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        _print_figures()


def _print_figures() -> None:
    write = print
    write("")
    write("hostile receivers: outcome and attempt duration against the deadline")
    write(f"{'suite':9} {'behaviour':26} {'outcome':9} {'status':6} {'error':16} {'attempt':>8} {'deadline':>8} "
          f"{'socket open':>11}  {'requests':>8}")  # fmt: skip
    for row in FIGURES:
        write(
            f"{row['suite']:9} {row['behaviour']:26} {row['outcome']:9} {row['status']!s:6} {row['error'][:16]:16} "
            f"{row['duration_ms']:>6} ms {row['deadline_ms']:>5} ms {row['open_s']:>9} s  {row['requests']:>8}"
        )


def _figure(suite, case: Case, attempt: DeliveryAttempt | None, deadline: float, hostile: HostileReceiver, error=""):
    seen = hostile.received()
    for request in seen:
        hostile.wait_ended(request, timeout=SLACK)
    opened = [r.open_seconds for r in seen if r.open_seconds is not None]
    FIGURES.append(
        {
            "suite": suite,
            "behaviour": str(case),
            "outcome": attempt.outcome if attempt else "-",
            "status": attempt.response_status if attempt else "-",
            "error": attempt.error_class if attempt else error or "(not recorded)",
            "duration_ms": attempt.duration_ms if attempt else -1,
            "deadline_ms": int(deadline * 1000),
            "open_s": f"{max(opened):.2f}" if opened else "?",
            "requests": len(seen),
        }
    )


# --- Fixtures -----------------------------------------------------------------------------


@pytest.fixture
def fast(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOK_READ_TIMEOUT = 1.0
    return settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT


@pytest.fixture
def hostile(request):
    receivers = []

    def start(case: Case, **params) -> HostileReceiver:
        receiver = HostileReceiver(case.behaviour, **{"drip_for": 6.0, **case.params, **params})
        receivers.append(receiver)
        return receiver

    yield start
    for receiver in receivers:
        receiver.close()
        assert not receiver.errors, receiver.errors


def _declare(system_actor, key: str) -> str:
    incident, _ = incident_services.incident_create(title="Hostile receivers", idempotency_key=key, actor=system_actor)
    return incident.id


# --- a. The delivery pipeline, in process -------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_batch_records_the_hostile_answer_and_delivers_to_the_healthy_endpoint_once(
    case, db, fast, hostile, receiver, system_actor
):
    deadline = fast
    bad_receiver = hostile(case)
    bad = endpoint_create(name="hostile", url=bad_receiver.url("/hook"))
    good = endpoint_create(name="healthy", url=receiver.url("/healthy"))
    _declare(system_actor, f"batch-{case}")
    deliveries = {d.endpoint_id: d for d in Delivery.objects.filter(endpoint__in=[bad, good])}
    assert set(deliveries) == {bad.pk, good.pk}

    try:
        attempts = deliveries_attempt(delivery_ids=[d.pk for d in deliveries.values()])
    except Exception as error:  # noqa: BLE001 - the point: say which behaviour broke the batch
        _figure("batch", case, None, deadline, bad_receiver, error=type(error).__name__)
        pytest.fail(
            f"recording the batch failed because of one answer ({case}): {error!r}\n" + traceback.format_exc()[-2000:]
        )

    by_endpoint = {a.delivery.endpoint_id: a for a in attempts}
    assert set(by_endpoint) == {bad.pk, good.pk}, "both deliveries are attempted and recorded"
    attempt = assert_storable(by_endpoint[bad.pk])
    _figure("batch", case, attempt, deadline, bad_receiver)
    case.check(attempt, deadline)
    assert DeliveryAttempt.objects.filter(delivery__endpoint=bad).count() == 1

    # The receiver saw one request, and its socket was closed by the deadline.
    (request,) = bad_receiver.received()
    assert bad_receiver.wait_ended(request, timeout=SLACK), "the hostile exchange is still open after the attempt"
    assert request.open_seconds <= deadline + SLACK, request.open_seconds
    # The delivery is not left leased: it is finished, or due again later for a retry.
    hostile_delivery = Delivery.objects.get(pk=deliveries[bad.pk].pk)
    assert hostile_delivery.locked_until is None
    assert hostile_delivery.status in ("succeeded", "failed") or hostile_delivery.next_attempt_at > timezone.now()

    # The healthy endpoint got the event once, and its delivery succeeded.
    (healthy_request,) = receiver.received("/healthy")
    assert healthy_request.header("X-OpsKnight-Delivery") == deliveries[good.pk].pk
    healthy_delivery = Delivery.objects.get(pk=deliveries[good.pk].pk)
    assert healthy_delivery.status == Delivery.Status.SUCCEEDED
    assert assert_storable(by_endpoint[good.pk]).response_status == 200


# --- b. Send Test through the API -------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=str)
def test_send_test_answers_json_with_the_outcome_and_leaves_nothing_to_resend(case, db, fast, hostile, api_client):
    deadline = fast
    bad_receiver = hostile(case)
    endpoint = endpoint_create(name="hostile", url=bad_receiver.url("/hook"))
    api_client.raise_request_exception = False  # a crash is a 500 to check, not an exception here

    response = api_client.post(f"/api/v1/webhooks/{endpoint.id}/test", {}, format="json")

    if not 200 <= response.status_code < 300:
        _figure("send-test", case, None, deadline, bad_receiver, error=f"API {response.status_code}")
    assert response.status_code < 500, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    outcome = response.json()
    attempt = None
    if 200 <= response.status_code < 300:
        attempt = assert_storable(DeliveryAttempt.objects.get(delivery_id=outcome["delivery_id"]))
        _figure("send-test", case, attempt, deadline, bad_receiver)
        case.check(attempt, deadline)
        assert outcome["status_code"] == attempt.response_status
        assert outcome["succeeded"] is (attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED)
        assert outcome["duration_ms"] == attempt.duration_ms
        if not outcome["succeeded"]:
            assert outcome["error"], outcome
    else:
        assert "error" in outcome and outcome["error"]["message"], outcome
    assert len(bad_receiver.received()) == 1

    # Nothing a worker would send again: every delivery of the endpoint is finished...
    pending = Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING)
    assert not pending.exists(), f"Send Test left a pending delivery ({response.status_code}: {response.content[:300]})"
    assert deliveries_dispatch_due() == 0
    # ...also once any lease has run out.
    ids = list(Delivery.objects.filter(endpoint=endpoint).values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids, locked_until__isnull=False).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    assert deliveries_dispatch_due() == 0
    assert deliveries_attempt(delivery_ids=ids) == []
    assert len(bad_receiver.received()) == 1


# --- c. A real worker: one request at a time, ended at the deadline --------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("case", SLOW_CASES, ids=str)
def test_a_worker_sends_one_request_at_a_time_and_ends_the_attempt_at_its_deadline(
    case, e2e, hostile, receiver, system_actor
):
    deadline = float(FAST_SETTINGS["WEBHOOK_CONNECT_TIMEOUT"]) + float(FAST_SETTINGS["WEBHOOK_READ_TIMEOUT"])
    lease = float(FAST_SETTINGS["WEBHOOK_LEASE_SECONDS"])
    # The receiver drips for longer than the lease: a sender without a total deadline
    # would still be reading when the lease runs out and the dispatcher sends again.
    bad_receiver = hostile(case, drip_for=lease + 3)
    bad = endpoint_create(name="hostile", url=bad_receiver.url("/hook"))
    good = endpoint_create(name="healthy", url=receiver.url("/healthy"))
    try:
        _declare(system_actor, f"e2e-{case}")
        first = bad_receiver.wait_for(1, timeout=15)[0]
        ended = bad_receiver.wait_ended(first, timeout=lease + 5)
        attempt = wait_until(
            lambda: DeliveryAttempt.objects.filter(delivery__endpoint=bad).order_by("started_at").first(),
            timeout=lease + 5,
        )
        _figure("worker", case, attempt, deadline, bad_receiver)
        seen = bad_receiver.received()

        assert ended, "the first exchange was still open long after the lease"
        assert not overlapping(seen), [(r.received_at - first.received_at, r.open_seconds) for r in seen]
        assert first.open_seconds <= deadline + SLACK, f"the socket stayed open {first.open_seconds:.2f} s"
        assert attempt.duration_ms <= (deadline + SLACK) * 1000, _show(attempt)
        case.check(assert_storable(attempt), deadline)

        (healthy_request,) = receiver.wait_for(1, "/healthy")
        wait_until(lambda: Delivery.objects.filter(endpoint=good, status=Delivery.Status.SUCCEEDED).exists())
        assert len(receiver.received("/healthy")) == 1
    finally:
        # No more retries to a receiver about to close.
        Delivery.objects.filter(endpoint=bad).update(status=Delivery.Status.FAILED, next_attempt_at=None)


@pytest.mark.e2e
def test_a_worker_batch_with_every_unruly_answer_records_them_all_and_delivers_to_the_healthy_endpoint_once(
    e2e, hostile, receiver, system_actor
):
    """One event to an endpoint of each behaviour that answers at once, plus a healthy
    one, through a real worker: every attempt is recorded, and nothing is sent again when
    the lease runs out (the healthy endpoint gets the event once)."""
    lease = float(FAST_SETTINGS["WEBHOOK_LEASE_SECONDS"])
    fast_cases = [case for case in CASES if not case.slow]
    endpoints = {str(case): endpoint_create(name=str(case), url=hostile(case).url("/hook")) for case in fast_cases}
    good = endpoint_create(name="healthy", url=receiver.url("/healthy"))
    try:
        _declare(system_actor, "e2e-unruly")
        started = time.monotonic()
        receiver.wait_for(1, "/healthy")

        def unrecorded():
            recorded = set(
                DeliveryAttempt.objects.filter(delivery__endpoint__in=endpoints.values()).values_list(
                    "delivery__endpoint__name", flat=True
                )
            )
            return sorted(set(endpoints) - recorded)

        try:
            wait_until(lambda: not unrecorded(), timeout=lease + 3)
        except AssertionError:
            errors = [line for line in e2e.logs().splitlines() if '"level": "ERROR"' in line or "Error" in line]
            pytest.fail(
                f"attempts never recorded for: {unrecorded()}; the healthy endpoint got the event "
                f"{len(receiver.received('/healthy'))} times\n" + "\n".join(errors[-5:])[-3000:]
            )
        # Past the lease (and a dispatcher round): a batch whose recording failed would
        # have been sent again by now.
        time.sleep(max(0.0, started + lease + 2 - time.monotonic()))
        assert len(receiver.received("/healthy")) == 1
        assert Delivery.objects.get(endpoint=good).status == Delivery.Status.SUCCEEDED
        for attempt in DeliveryAttempt.objects.filter(delivery__endpoint__in=endpoints.values()):
            assert_storable(attempt)
    finally:
        Delivery.objects.filter(endpoint__in=endpoints.values()).update(
            status=Delivery.Status.FAILED, next_attempt_at=None
        )


def test_the_lease_outlasts_the_attempt_deadline(settings):
    assert settings.WEBHOOK_LEASE_SECONDS > settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT
    fast = {name: float(value) for name, value in FAST_SETTINGS.items() if name != "WEBHOOK_RETRY_DELAYS"}
    assert fast["WEBHOOK_LEASE_SECONDS"] > fast["WEBHOOK_CONNECT_TIMEOUT"] + fast["WEBHOOK_READ_TIMEOUT"]


# --- d. The admin's Send Test button ---------------------------------------------------------


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", None)
    client.force_login(user)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_admin_send_test_button_shows_the_outcome_and_leaves_nothing_to_resend(case, db, fast, hostile, admin):
    deadline = fast
    bad_receiver = hostile(case)
    endpoint = endpoint_create(name="hostile", url=bad_receiver.url("/hook"))
    change = f"/admin/webhooks/webhookendpoint/{quote(endpoint.pk)}/change/"

    response = admin.post(f"/admin/webhooks/webhookendpoint/{quote(endpoint.pk)}/send-test/", {})

    assert response.status_code == 302, response.content[:500]
    attempt = assert_storable(DeliveryAttempt.objects.get(delivery__endpoint=endpoint))
    case.check(attempt, deadline)
    assert response["Location"] == f"{change}?test_delivery={attempt.delivery_id}#send-test"
    page = admin.get(response["Location"])
    assert page.status_code == 200
    assert 'id="test-outcome"' in page.content.decode()
    assert not Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).exists()
    assert len(bad_receiver.received()) == 1


# --- e. A kept-alive connection after a hostile answer ---------------------------------------

# The behaviours whose answer is complete and leaves the connection open for another request.
KEPT_ALIVE_BEHAVIOURS = ("nul_body", "nul_header", "invalid_utf8_body", "invalid_utf8_header", "bad_gzip")
KEPT_ALIVE = [case for case in CASES if case.behaviour in (*KEPT_ALIVE_BEHAVIOURS, "continue_100", "early_hints_103")]


@pytest.mark.parametrize("case", KEPT_ALIVE, ids=str)
def test_each_attempt_on_a_kept_alive_connection_gets_its_own_answer(case, db, fast, hostile):
    """Three Send Tests in a row to a receiver that keeps the connection open: each
    attempt records the answer to its own request (ANSWER_TO), all alike."""
    deadline = fast
    bad_receiver = hostile(case)
    endpoint = endpoint_create(name="hostile", url=bad_receiver.url("/hook"))

    attempts = []
    for _ in range(3):
        try:
            attempt = endpoint_send_test(endpoint=endpoint)
        except Exception as error:  # noqa: BLE001
            pytest.fail(f"Send Test raised ({case}): {error!r}")
        attempts.append(assert_storable(attempt))

    for attempt in attempts:
        case.check(attempt, deadline)
    outcomes = {(a.response_status, a.outcome, a.response_body_excerpt) for a in attempts}
    assert len(outcomes) == 1, outcomes
    assert len(bad_receiver.received()) == 3
