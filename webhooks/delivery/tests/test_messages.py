"""A format may turn one event into several messages, in its own event names: each
message is its own delivery with its own `webhook-id`, filtered by the endpoint's
subscription, signed with the format's extra headers, redelivered as itself."""

import json
import types

import pytest
from django.core.exceptions import ValidationError
from standardwebhooks import Webhook

from webhooks import formats
from webhooks.actions import delivery_redeliver, endpoint_send_test
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoints import endpoint_create
from webhooks.formats.common import check_options
from webhooks.formats.rendered import RenderedMessage
from webhooks.models import Delivery, WebhookEndpoint
from webhooks.tests.support import declare

pytestmark = pytest.mark.django_db


def _render_messages(event, options, context):
    body = {"kind": event["event"], "incident": event["incident"]["id"]}
    return [
        RenderedMessage(type="thing.created", body=json.dumps({**body, "n": 0}).encode()),
        RenderedMessage(type="thing.updated", body=json.dumps({**body, "n": 1}).encode()),
    ]


def _headers(*, message_id, body, secrets, endpoint_id):
    return {"X-Two-Id": message_id, "X-Two-Length": str(len(body))}


TWO = types.SimpleNamespace(
    EVENT_TYPES=("thing.created", "thing.updated"),
    validate_options=lambda options: check_options(options, {}),
    render_messages=_render_messages,
    headers=_headers,
    test_messages=lambda options, context: [RenderedMessage(type="thing.ping", body=b'{"ping":true}')],
)


@pytest.fixture(autouse=True)
def two_message_format(monkeypatch):
    monkeypatch.setitem(formats.FORMATS, "two", TWO)
    field = WebhookEndpoint._meta.get_field("format")
    monkeypatch.setattr(field, "choices", [*field.choices, ("two", "two")])


def test_each_subscribed_message_is_its_own_delivery_with_its_own_webhook_id(system_actor, receiver):
    both = endpoint_create(name="both", url=receiver.url("/both"), format="two")
    updated_only = endpoint_create(name="upd", url=receiver.url("/upd"), format="two", event_types=["thing.updated"])
    declare(system_actor)
    deliveries = list(Delivery.objects.order_by("endpoint_id", "message_id"))
    assert sorted((d.endpoint_id, d.message_type) for d in deliveries) == sorted(
        [(both.pk, "thing.created"), (both.pk, "thing.updated"), (updated_only.pk, "thing.updated")]
    )
    event_id = deliveries[0].event_id
    assert {d.webhook_id for d in deliveries} == {event_id, f"{event_id}_1"}

    deliveries_attempt(delivery_ids=[d.pk for d in deliveries])

    sent = {(r.path, r.header("webhook-id")): json.loads(r.body) for r in receiver.wait_for(3)}
    assert sent[("/both", event_id)]["n"] == 0
    assert sent[("/both", f"{event_id}_1")]["n"] == 1
    assert sent[("/upd", f"{event_id}_1")]["n"] == 1
    for request in receiver.received():
        assert request.header("X-Two-Id") == request.header("webhook-id")
        assert request.header("X-Two-Length") == str(len(request.body))
        Webhook(both.secret if request.path == "/both" else updated_only.secret).verify(request.body, request.headers)


def test_a_redelivery_sends_the_same_message_again(system_actor, receiver):
    endpoint = endpoint_create(name="both", url=receiver.url("/both"), format="two")
    declare(system_actor)
    second = Delivery.objects.get(message_type="thing.updated")

    again = delivery_redeliver(delivery=second)

    assert (again.message_id, again.message_type, again.body) == (second.message_id, second.message_type, second.body)
    assert again.endpoint_id == endpoint.pk


def test_send_test_sends_the_formats_own_test_message(receiver):
    endpoint = endpoint_create(name="both", url=receiver.url("/both"), format="two")
    attempt = endpoint_send_test(endpoint=endpoint)
    assert attempt.response_status == 200
    (request,) = receiver.received("/both")
    assert request.body == b'{"ping":true}'


def test_an_endpoint_of_such_a_format_subscribes_in_its_names_only(receiver):
    with pytest.raises(ValidationError) as refused:
        endpoint_create(name="x", url=receiver.url("/x"), format="two", event_types=["incident.triggered"])
    message = refused.value.message_dict["event_types"][0]
    assert "incident.triggered" in message and "thing.created, thing.updated" in message
