"""What an incident.io organisation configures, built into OpsKnight: statuses, severities,
the lead role, custom fields and timestamps. Fixed objects with stable ids."""

from webhooks.formats.incidentio.ids import derived_ulid

# When these objects were defined; they never change, so neither does this.
BUILT_IN_AT = "2026-11-30T00:00:00.000Z"


def _built_in(kind: str, key: str, **fields) -> dict:
    return {"id": derived_ulid(f"opsknight:{kind}:{key}"), **fields}


def _dated(fields: dict) -> dict:
    return {**fields, "created_at": BUILT_IN_AT, "updated_at": BUILT_IN_AT}


# OpsKnight status → incident.io status, in incident.io's categories.
STATUSES = {
    "triggered": _dated(
        _built_in(
            "status",
            "triggered",
            name="Triggered",
            description="Paged in OpsKnight: nobody has acknowledged it yet.",
            rank=1,
            category="triage",
        )
    ),
    "acknowledged": _dated(
        _built_in(
            "status",
            "acknowledged",
            name="Acknowledged",
            description="A responder has acknowledged it and is working on it.",
            rank=2,
            category="live",
        )
    ),
    "resolved": _dated(
        _built_in(
            "status",
            "resolved",
            name="Resolved",
            description="Resolved in OpsKnight. It may be reopened.",
            rank=3,
            category="closed",
        )
    ),
}

# OpsKnight severity → incident.io severity; as in incident.io, a lower rank is less severe.
_SEVERITIES = [
    ("info", "Info", "Informational: no impact on users."),
    ("low", "Low", "Minor impact, no urgency."),
    ("medium", "Medium", "Some users are affected."),
    ("high", "High", "Many users are affected, or an important feature is down."),
    ("critical", "Critical", "A full outage or data at risk: all hands."),
]
SEVERITIES = {
    key: _dated(_built_in("severity", key, name=name, description=description, rank=rank))
    for rank, (key, name, description) in enumerate(_SEVERITIES, start=1)
}

LEAD_ROLE = _dated(
    _built_in(
        "role",
        "lead",
        name="Incident Lead",
        shortform="lead",
        description="The responder the incident is assigned to in OpsKnight.",
        instructions="Acknowledge the incident in OpsKnight, then coordinate the response until it is resolved.",
        role_type="lead",
    )
)

SERVICE_FIELD = _built_in(
    "custom_field",
    "service",
    name="Service",
    description="The OpsKnight service the incident is about.",
    field_type="single_select",
)
ESCALATION_FIELD = _built_in(
    "custom_field",
    "escalation_level",
    name="Escalation level",
    description="How many times the incident has been escalated in OpsKnight.",
    field_type="numeric",
    options=[],
)

# (OpsKnight incident field, incident.io timestamp), in their order.
TIMESTAMPS = [
    ("createdAt", _built_in("timestamp", "reported_at", name="Reported at", rank=1)),
    ("acknowledgedAt", _built_in("timestamp", "acknowledged_at", name="Acknowledged at", rank=2)),
    ("resolvedAt", _built_in("timestamp", "resolved_at", name="Resolved at", rank=3)),
]
