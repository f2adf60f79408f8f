"""rows_insert writes what bulk_create would: every column, prepared by its field."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from opsknight.rows import ROWS_PER_STATEMENT, rows_insert
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, DeliveryAttempt, Event, new_event_id

pytestmark = pytest.mark.django_db


def columns(row) -> dict:
    return {field.attname: getattr(row, field.attname) for field in Delivery._meta.concrete_fields}


NOW = timezone.now()


def deliveries(event, endpoint, count: int, now=NOW, **fields) -> list[Delivery]:
    return [
        Delivery(event=event, endpoint=endpoint, message_id=f"m{n}", next_attempt_at=now, enqueued_at=now, **fields)
        for n in range(count)
    ]


@pytest.fixture
def event_and_endpoint():
    event = Event.objects.create(id=new_event_id(), type="incident.triggered", payload="{}", facts={"version": 3})
    return event, endpoint_create(name="rows", url="https://hooks.example.com/rows")


def test_rows_read_back_as_the_orm_writes_them(event_and_endpoint):
    event, endpoint = event_and_endpoint
    fields = {"incident_id": "inc_1", "sequence": 7, "ordered": True, "body": 'é "x"\n', "message_type": "t"}
    raw = deliveries(event, endpoint, 2, **fields)
    orm = deliveries(event, endpoint, 2, **fields)
    for delivery in orm:
        delivery.message_id += "-orm"
        delivery.completed_at = delivery.next_attempt_at + timedelta(seconds=1)
    for delivery in raw:
        delivery.completed_at = delivery.next_attempt_at + timedelta(seconds=1)

    rows_insert(raw)
    Delivery.objects.bulk_create(orm)

    assert all(not d._state.adding for d in raw)
    for written, compared in zip(raw, orm, strict=True):
        mine, theirs = (columns(Delivery.objects.get(pk=d.pk)) for d in (written, compared))
        theirs["message_id"] = theirs["message_id"].removesuffix("-orm")
        assert mine.pop("id") == written.pk
        theirs.pop("id"), mine.pop("created_at"), theirs.pop("created_at")
        assert mine == theirs
        assert Delivery.objects.get(pk=written.pk).created_at == written.created_at


def test_more_rows_than_one_statement_takes(event_and_endpoint):
    event, endpoint = event_and_endpoint
    rows_insert(deliveries(event, endpoint, ROWS_PER_STATEMENT + 3))
    assert Delivery.objects.filter(event=event).count() == ROWS_PER_STATEMENT + 3


def test_a_conflict_raises_and_nothing_is_half_written(event_and_endpoint):
    event, endpoint = event_and_endpoint
    rows_insert(deliveries(event, endpoint, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(deliveries(event, endpoint, 2))  # m0 again: the one-per-message constraint
    assert Delivery.objects.filter(event=event).count() == 1


def test_nothing_to_insert_sends_no_statement(event_and_endpoint, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rows_insert([]) == []


def test_an_auto_primary_key_is_read_back_and_json_is_stored_as_the_orm_stores_it(event_and_endpoint):
    event, endpoint = event_and_endpoint
    (delivery,) = rows_insert(deliveries(event, endpoint, 1))
    headers = {"Content-Type": "application/json", "X-Note": 'é "quoted" \\ back'}

    def attempt(number: int) -> DeliveryAttempt:
        return DeliveryAttempt(
            delivery=delivery, number=number, started_at=NOW, duration_ms=12, url=endpoint.url,
            request_headers=headers, response_headers={"n": [1, None, True]}, response_status=200,
            outcome=DeliveryAttempt.Outcome.SUCCEEDED,
        )  # fmt: skip

    raw = rows_insert([attempt(1), attempt(2)])
    (orm,) = DeliveryAttempt.objects.bulk_create([attempt(3)])

    assert [a.pk for a in raw] == sorted(a.pk for a in raw) and all(a.pk for a in raw)
    stored = {a.number: a for a in DeliveryAttempt.objects.filter(delivery=delivery)}
    assert stored[1].pk == raw[0].pk and stored[2].pk == raw[1].pk
    for number in (1, 2):
        assert stored[number].request_headers == stored[3].request_headers == headers
        assert stored[number].response_headers == stored[3].response_headers == {"n": [1, None, True]}
        assert stored[number].started_at == stored[3].started_at == NOW
    assert orm.pk not in {a.pk for a in raw}
