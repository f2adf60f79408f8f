"""API shapes for incidents. Input serializers validate; output serializers render.
Neither holds business logic: that is in services.py."""

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.alerts import ALERT_SEVERITIES
from incidents.models import HTTP_URL, ExternalLink, Incident, IncidentEvent, Responder, Service
from incidents.responders import RESPONDER_FIELDS, incident_assignee
from opsknight.api.fields import ChoiceField


class ServiceOutput(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "description", "created_at"]


class ServiceRefOutput(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name"]


class ServiceCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ExternalLinkOutput(serializers.ModelSerializer):
    class Meta:
        model = ExternalLink
        fields = ["id", "system", "key", "url", "created_at"]


class ResponderOutput(serializers.ModelSerializer):
    class Meta:
        model = Responder
        fields = ["id", *RESPONDER_FIELDS, "created_at"]


HANDLE_HELP = {
    "slack_user_id": "`U` or `W` and 8 to 11 upper-case letters or digits, e.g. `U02AYNF2XJM`. Unique.",
    "teams_upn": "The Teams (Entra ID) user principal name, e.g. `ada@contoso.onmicrosoft.com`.",
    "discord_user_id": "17 to 20 digits (a snowflake), e.g. `80351110224678912`.",
    "telegram_username": "5 to 32 letters, digits or `_`, starting with a letter; a leading `@` is dropped.",
}


def handle_field(name: str, *, max_length: int) -> serializers.CharField:
    return serializers.CharField(
        max_length=max_length, required=False, allow_null=True, allow_blank=True, help_text=HANDLE_HELP[name]
    )


class ResponderUpdateInput(serializers.Serializer):
    """Every field optional; `null` or `""` clears a handle."""

    name = serializers.CharField(max_length=200, required=False)
    email = serializers.EmailField(max_length=254, required=False, help_text="Unique, case-insensitively.")
    slack_user_id = handle_field("slack_user_id", max_length=12)
    teams_upn = handle_field("teams_upn", max_length=254)
    discord_user_id = handle_field("discord_user_id", max_length=20)
    telegram_username = handle_field("telegram_username", max_length=33)


class ResponderCreateInput(ResponderUpdateInput):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254, help_text="Unique, case-insensitively.")


class PersonOutput(serializers.Serializer):
    """An incident's assignee: a responder, or (`id` null) the text it was assigned to."""

    id = serializers.CharField(allow_null=True, help_text="`rsp_...`; null when the assignee matched no responder.")
    name = serializers.CharField(help_text="The responder's name, or the assignee text.")
    email = serializers.CharField(allow_null=True)
    slack_user_id = serializers.CharField(allow_null=True)
    teams_upn = serializers.CharField(allow_null=True)
    discord_user_id = serializers.CharField(allow_null=True)
    telegram_username = serializers.CharField(allow_null=True)


class IncidentOutput(serializers.ModelSerializer):
    reference = serializers.CharField(help_text="`INC-42`: INCIDENT_REFERENCE_PREFIX, a dash, the number.")
    service = ServiceRefOutput(allow_null=True)
    assignee = serializers.SerializerMethodField()
    created_by_key = serializers.CharField(source="created_by_key_id", allow_null=True)
    external_links = ExternalLinkOutput(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "reference",
            "title",
            "summary",
            "status",
            "severity",
            "service",
            "assignee",
            "visibility",
            "escalation_level",
            "idempotency_key",
            "dedup_key",
            "version",
            "created_at",
            "updated_at",
            "acknowledged_at",
            "resolved_at",
            "created_by_key",
            "external_links",
        ]

    @extend_schema_field(PersonOutput(allow_null=True))
    def get_assignee(self, incident: Incident) -> dict | None:
        person = incident_assignee(incident)
        return None if person is None else PersonOutput(person).data


class ServiceIdField(serializers.PrimaryKeyRelatedField):
    def to_internal_value(self, data):
        # Checked before the lookup: PostgreSQL refuses NUL bytes in a query.
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", pk_value=data.replace("\x00", "\\x00"))
        return super().to_internal_value(data)


ASSIGNEE_HELP = (
    "A responder id (`rsp_...`), an email or a Slack user id: one that matches a responder assigns it; "
    "one that matches none is kept as a name. An unknown `rsp_` id is a 400."
)


class IncidentCreateInput(serializers.Serializer):
    # Unknown fields are ignored (not an error), so senders may post richer bodies.
    title = serializers.CharField(max_length=500)
    idempotency_key = serializers.CharField(max_length=255)
    summary = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    severity = ChoiceField(choices=Incident.Severity.choices, default=Incident.Severity.HIGH)
    service_id = ServiceIdField(
        queryset=Service.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages={"does_not_exist": "No service with id '{pk_value}'."},
    )
    assignee = serializers.CharField(
        max_length=320,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text=ASSIGNEE_HELP,
    )
    visibility = ChoiceField(choices=Incident.Visibility.choices, default=Incident.Visibility.PUBLIC)


class IncidentAcknowledgeInput(serializers.Serializer):
    """The body is optional: `{}` or none at all acknowledges without changing the assignee."""

    assignee = serializers.CharField(
        max_length=320,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="Who takes the incident. " + ASSIGNEE_HELP + " Absent or null: the assignee is kept.",
    )


class ExternalLinkCreateInput(serializers.Serializer):
    system = serializers.CharField(
        max_length=50, help_text="The other system, e.g. `jira` or `servicenow`; stored in lower case."
    )
    key = serializers.CharField(max_length=255, help_text="The record's key in that system, e.g. `OPS-123`.")
    url = serializers.URLField(
        max_length=2000, validators=[HTTP_URL], help_text="Where a person opens the record: http or https."
    )

    def validate_system(self, value: str) -> str:
        return value.lower()


class AlertPayloadInput(serializers.Serializer):
    summary = serializers.CharField(max_length=1024, help_text="Becomes the incident's title (cut to 500).")
    source = serializers.CharField(max_length=255, help_text="The affected host or system.")
    severity = ChoiceField(
        choices=ALERT_SEVERITIES,
        help_text="critical → critical, error → high, warning → medium, info → info.",
    )
    component = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    custom_details = serializers.JSONField(required=False, allow_null=True, default=None)


class AlertEventInput(serializers.Serializer):
    """PagerDuty Events API v2 shape. Unknown fields (`client`, `links`, `images`,
    `payload.group`, ...) are ignored, so tools send their usual body."""

    event_action = ChoiceField(choices=["trigger", "acknowledge", "resolve"])
    dedup_key = serializers.CharField(
        max_length=255,
        required=False,
        allow_null=True,
        default=None,
        help_text="Optional on trigger (one is generated and returned); required for acknowledge and resolve.",
    )
    routing_key = ServiceIdField(
        queryset=Service.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="The id of the service (`svc_...`) a triggered incident belongs to; optional.",
        error_messages={"does_not_exist": "No service with id '{pk_value}'."},
    )
    payload = AlertPayloadInput(required=False, help_text="Required for trigger; ignored otherwise.")

    def to_internal_value(self, data):
        # Tools send acknowledge and resolve with whatever payload they have (or a partial
        # one): it is ignored, so it must not fail validation either.
        if isinstance(data, Mapping) and data.get("event_action") in ("acknowledge", "resolve"):
            data = {name: value for name, value in data.items() if name != "payload"}
        return super().to_internal_value(data)

    def validate(self, data: dict) -> dict:
        if data["event_action"] == "trigger":
            if "payload" not in data:
                raise serializers.ValidationError({"payload": ["This field is required for a trigger event."]})
        elif not data.get("dedup_key"):
            raise serializers.ValidationError(
                {"dedup_key": [f"This field is required for an {data['event_action']} event."]}
            )
        return data


class AlertEventOutput(serializers.Serializer):
    status = serializers.CharField(help_text="Always `success`.")
    message = serializers.CharField(help_text="Always `Event processed`.")
    dedup_key = serializers.CharField()
    incident_id = serializers.CharField(help_text="The incident the event opened or acted on (an extension).")


class IncidentFilterInput(serializers.Serializer):
    status = ChoiceField(choices=Incident.Status.choices, required=False)
    severity = ChoiceField(choices=Incident.Severity.choices, required=False)
    service_id = serializers.CharField(required=False)
    created_after = serializers.DateTimeField(required=False)


class ActorOutput(serializers.Serializer):
    type = serializers.CharField(source="actor_type")
    id = serializers.CharField(source="actor_id")
    name = serializers.CharField(source="actor_name")


class IncidentEventOutput(serializers.ModelSerializer):
    actor = ActorOutput(source="*")

    class Meta:
        model = IncidentEvent
        fields = ["type", "version", "occurred_at", "actor"]
