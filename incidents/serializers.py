"""API shapes for incidents. Input serializers validate; output serializers render.
Neither holds business logic: that is in services.py."""

from rest_framework import serializers

from incidents.models import Incident, IncidentEvent, Service


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


class IncidentOutput(serializers.ModelSerializer):
    service = ServiceRefOutput(allow_null=True)
    created_by_key = serializers.CharField(source="created_by_key_id", allow_null=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "title",
            "summary",
            "status",
            "severity",
            "service",
            "assignee",
            "visibility",
            "escalation_level",
            "idempotency_key",
            "version",
            "created_at",
            "updated_at",
            "acknowledged_at",
            "resolved_at",
            "created_by_key",
        ]


class ServiceIdField(serializers.PrimaryKeyRelatedField):
    def to_internal_value(self, data):
        # Checked before the lookup: PostgreSQL refuses NUL bytes in a query.
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", pk_value=data.replace("\x00", "\\x00"))
        return super().to_internal_value(data)


class IncidentCreateInput(serializers.Serializer):
    # Unknown fields are ignored (not an error), so senders may post richer bodies.
    title = serializers.CharField(max_length=500)
    idempotency_key = serializers.CharField(max_length=255)
    summary = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    severity = serializers.ChoiceField(choices=Incident.Severity.choices, default=Incident.Severity.HIGH)
    service_id = ServiceIdField(
        queryset=Service.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages={"does_not_exist": "No service with id '{pk_value}'."},
    )
    assignee = serializers.CharField(max_length=320, required=False, allow_null=True, allow_blank=True, default=None)
    visibility = serializers.ChoiceField(choices=Incident.Visibility.choices, default=Incident.Visibility.PUBLIC)


class IncidentFilterInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=Incident.Status.choices, required=False)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices, required=False)
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
