"""API shapes for webhooks. The secret appears only in the answers to create and rotate."""

import json

from rest_framework import serializers

from incidents.models import Incident
from webhooks import formats, transport
from webhooks.endpoints import MIN_TYPED_SECRET_LENGTH
from webhooks.models import EVENT_TYPES, ORDERINGS, VISIBILITY_FILTERS, Delivery, DeliveryAttempt, WebhookEndpoint


def format_field(**kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=formats.NAMES,
        error_messages={"invalid_choice": f'Unknown format "{{input}}". Valid formats: {", ".join(formats.NAMES)}.'},
        help_text="What the endpoint receives: `opsknight` (the signed OpsKnight JSON, the default), a chat "
        "message (`slack`, `msteams`, `google_chat`, `discord`, `telegram`) or the incident.io envelope "
        "(`incidentio`). See docs/formats.md.",
        **kwargs,
    )


def event_types_field(**kwargs) -> serializers.ListField:
    # Checked against the endpoint's format by webhooks.endpoints: each format has its names.
    return serializers.ListField(
        child=serializers.CharField(max_length=100),
        help_text="Empty (the default) means every event type. In OpsKnight's names "
        f"({', '.join(EVENT_TYPES.values)}), or in the format's own for a format that has them "
        "(`incidentio`: incident.io's, e.g. `public_incident.incident_updated_v2`). Others are refused, "
        "listing the valid ones.",
        **kwargs,
    )


FORMAT_OPTIONS_HELP = (
    'What the format needs, e.g. `{"chat_id": "-1001234567890"}` for `telegram`. Unknown options are refused.'
)


def format_options_field(*, help_text: str = FORMAT_OPTIONS_HELP, **kwargs) -> serializers.DictField:
    return serializers.DictField(help_text=help_text, **kwargs)


class CustomHeadersField(serializers.DictField):
    """Extra headers, {name: value}. Values of sensitive-looking names (auth, token, key,
    secret, ...) are shown as "[redacted]"; sending "[redacted]" back keeps the stored value."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            f"Extra HTTP headers sent on every attempt, at most {transport.MAX_CUSTOM_HEADERS}. Names are "
            "RFC 7230 tokens; Content-Type, User-Agent, Host, Content-Length, webhook-* and X-OpsKnight-* "
            "(and other headers OpsKnight or HTTP sets) are refused. Values are visible ASCII, no line breaks. "
            f'Values of names that look like credentials are shown as "{transport.REDACTED}".',
        )
        super().__init__(child=serializers.CharField(allow_blank=True, trim_whitespace=False), **kwargs)

    def to_representation(self, value):
        return transport.redact_headers(value or {}, custom=value or {})


class EndpointOutput(serializers.ModelSerializer):
    headers = CustomHeadersField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "name",
            "url",
            "event_types",
            "format",
            "format_options",
            "is_active",
            "description",
            "headers",
            "services",
            "min_severity",
            "visibility",
            "ordering",
            "disabled_reason",
            "disabled_at",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]


class EndpointWithSecretOutput(EndpointOutput):
    class Meta(EndpointOutput.Meta):
        fields = [*EndpointOutput.Meta.fields, "secret"]


class EndpointFiltersInput(serializers.Serializer):
    """The content filters and ordering (optional on create and update alike)."""

    services = serializers.ListField(
        child=serializers.CharField(max_length=40),
        max_length=200,
        required=False,
        help_text="Service ids: only incidents of these services. Empty: every service.",
    )
    min_severity = serializers.ChoiceField(
        choices=[("", "any"), *Incident.Severity.choices],
        allow_blank=True,
        required=False,
        help_text="Only incidents of this severity or higher (info < low < medium < high < critical). "
        "Empty: every severity.",
    )
    visibility = serializers.ChoiceField(
        choices=VISIBILITY_FILTERS, required=False, help_text="Which incidents: public, private or both."
    )
    ordering = serializers.ChoiceField(
        choices=ORDERINGS,
        required=False,
        help_text="per_incident: an incident's deliveries to this endpoint are sent one at a time, in version "
        "order; a delivery waits until every earlier one has succeeded or failed for good.",
    )


class EndpointCreateInput(EndpointFiltersInput):
    name = serializers.CharField(max_length=200)
    url = serializers.CharField(max_length=2048)
    event_types = event_types_field(required=False, default=list)
    is_active = serializers.BooleanField(required=False, default=True)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    headers = CustomHeadersField(required=False, default=dict)
    secret = serializers.CharField(
        min_length=MIN_TYPED_SECRET_LENGTH,
        max_length=200,
        required=False,
        help_text="Leave out to have a `whsec_` secret generated (recommended). For an `incidentio` endpoint "
        "a typed secret must be `whsec_` + base64 (what Svix receivers take); others are refused.",
    )
    format = format_field(required=False, default=formats.DEFAULT)
    format_options = format_options_field(required=False, default=dict)


class EndpointUpdateInput(EndpointFiltersInput):
    name = serializers.CharField(max_length=200, required=False)
    url = serializers.CharField(max_length=2048, required=False)
    event_types = event_types_field(required=False)
    is_active = serializers.BooleanField(required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    format = format_field(required=False)
    format_options = format_options_field(
        required=False, help_text=FORMAT_OPTIONS_HELP + " Changing `format` without giving these resets them to `{}`."
    )
    headers = CustomHeadersField(required=False)


class RotateSecretInput(serializers.Serializer):
    secret = serializers.CharField(min_length=MIN_TYPED_SECRET_LENGTH, max_length=200, required=False)


class SendTestInput(serializers.Serializer):
    event_type = serializers.ChoiceField(choices=EVENT_TYPES.choices, required=False, default=EVENT_TYPES.TRIGGERED)


class ReplayInput(serializers.Serializer):
    since = serializers.DateTimeField()


class ReplayOutput(serializers.Serializer):
    deliveries = serializers.IntegerField(help_text="How many deliveries were queued.")


class DeliveryFilterInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Delivery.Status.choices, required=False)
    event_type = serializers.ChoiceField(choices=EVENT_TYPES.choices, required=False)
    is_test = serializers.BooleanField(required=False, allow_null=True, default=None)


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "url",
            "outcome",
            "request_headers",
            "response_status",
            "response_headers",
            "response_body_excerpt",
            "error_class",
            "error_message",
        ]


class DeliveryOutput(serializers.ModelSerializer):
    event_id = serializers.CharField()
    event_type = serializers.CharField(source="event.type")
    webhook_id = serializers.CharField(help_text="The `webhook-id` header: the event's id, or the message's.")
    message_type = serializers.CharField(
        source="type_sent", help_text="The message's type in the endpoint format's own event names."
    )
    endpoint_id = serializers.CharField()
    waiting_behind = serializers.CharField(
        allow_null=True,
        default=None,
        help_text="For an endpoint with per-incident ordering: the earlier delivery of the same incident this "
        "one waits for (null when it does not wait).",
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "webhook_id",
            "message_type",
            "endpoint_id",
            "waiting_behind",
            "status",
            "origin",
            "is_test",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "completed_at",
        ]


class DeliveryDetailOutput(DeliveryOutput):
    payload = serializers.SerializerMethodField(help_text="The body, as sent (in the endpoint's format).")
    attempts = AttemptOutput(many=True)

    class Meta(DeliveryOutput.Meta):
        fields = [*DeliveryOutput.Meta.fields, "payload", "attempts"]

    def get_payload(self, delivery: Delivery) -> dict:
        return json.loads(delivery.sent_body)


class TestOutcomeOutput(serializers.Serializer):
    delivery_id = serializers.CharField(source="delivery.id")
    event_id = serializers.CharField(source="delivery.event_id")
    succeeded = serializers.SerializerMethodField()
    status_code = serializers.IntegerField(source="response_status", allow_null=True)
    duration_ms = serializers.IntegerField()
    response_body_excerpt = serializers.CharField()
    error = serializers.SerializerMethodField()

    def get_succeeded(self, attempt: DeliveryAttempt) -> bool:
        return attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED

    def get_error(self, attempt: DeliveryAttempt) -> str | None:
        return attempt.delivery.last_error or None
