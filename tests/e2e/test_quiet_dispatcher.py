"""Idle, the dispatcher (run every half second in tests) writes nothing to the beat's or
the worker's log; when it enqueues something, one line says what."""

import json
import time

import pytest
from django.utils import timezone

from tests.support.waiting import wait_until
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.e2e


def log_offsets(cluster) -> list[tuple]:
    return [(p.log_path, p.log_path.stat().st_size) for p in [cluster.beat, *cluster.workers]]


def lines_since(offsets) -> list[str]:
    lines = []
    for path, offset in offsets:
        with open(path, "rb") as log:
            log.seek(offset)
            lines += log.read().decode(errors="replace").splitlines()
    return lines


def test_the_dispatcher_logs_only_when_it_did_something(e2e, receiver):
    time.sleep(1)  # whatever the previous test left
    idle = log_offsets(e2e)
    time.sleep(2.5)  # five dispatcher runs (WEBHOOK_DISPATCH_INTERVAL=0.5)
    assert [line for line in lines_since(idle) if "dispatch" in line.lower()] == []

    # A due delivery whose wake-up was lost: the dispatcher sends it, and says so.
    busy = log_offsets(e2e)
    endpoint = endpoint_create(name="lost", url=receiver.url("/lost"))
    event = Event.objects.create(type="incident.triggered", payload="{}")
    Delivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=timezone.now(), enqueued_at=None)
    receiver.wait_for(1, "/lost")

    said = wait_until(lambda: [line for line in lines_since(busy) if "Dispatcher: enqueued" in line])
    (line,) = [json.loads(text) for text in said]
    assert line["logger"] == "webhooks.delivery.dispatcher" and line["deliveries"] == 1
    celery_lines = [text for text in lines_since(busy) if "dispatch_due_deliveries" in text]
    assert celery_lines == []
