"""The Events API's rules (`POST /api/v1/events`): alerts from monitoring tools, in
PagerDuty Events API v2 shape, mapped onto the incident lifecycle."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError

from incidents import services
from incidents.actors import Actor
from incidents.models import Incident, Service

# Not to be confused with the timeline (`IncidentEvent`): an alert event here may
# create an incident, acknowledge or resolve one, or change nothing at all.
#
# The rules (docs/integrations.md explains them to users):
# - `trigger` opens an incident for a `dedup_key` that has no open incident, and is a
#   no-op for one that has (a monitoring tool re-sends while the alert fires). After the
#   incident is resolved, the same `dedup_key` opens a new incident, as in PagerDuty.
# - `acknowledge` and `resolve` act on the dedup_key's open incident; on one already in
#   that state (or resolved) they change nothing and still succeed, since tools re-send.

Severity = Incident.Severity

# PagerDuty's four severities onto this project's five (`low` has no PagerDuty twin).
SEVERITY_FROM_PAGERDUTY = {
    "critical": Severity.CRITICAL,
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "info": Severity.INFO,
}
ALERT_SEVERITIES = list(SEVERITY_FROM_PAGERDUTY)

TITLE_MAX = Incident._meta.get_field("title").max_length
SUMMARY_MAX = Incident._meta.get_field("summary").max_length
# A trigger that loses a race with a resolve of the open incident tries again; more
# than a few rounds would mean something else is wrong.
TRIGGER_ATTEMPTS = 3


class UnknownDedupKey(Exception):
    def __init__(self, dedup_key: str):
        super().__init__(f"No incident has the dedup_key '{dedup_key}'. Send a trigger event first.")
        self.message = str(self)


@dataclass(frozen=True)
class AlertOutcome:
    dedup_key: str
    incident: Incident
    changed: bool  # False when the event was a duplicate or found the incident already there


def new_dedup_key() -> str:
    return uuid.uuid4().hex  # 32 hex characters, like the keys PagerDuty generates


def _title(summary: str) -> str:
    return summary if len(summary) <= TITLE_MAX else summary[: TITLE_MAX - 1] + "…"


def _incident_summary(*, summary: str, source: str, component: str, custom_details: Any) -> str:
    """What the alert says beyond its title, as text for people: where it comes from,
    the whole summary when the title had to cut it, and the custom details."""
    lines = [f"Source: {source}"]
    if component:
        lines.append(f"Component: {component}")
    if len(summary) > TITLE_MAX:
        lines += ["", summary]
    if custom_details not in (None, "", {}, []):
        # json.dumps escapes control characters; a string is kept, but PostgreSQL refuses NUL.
        details = (
            custom_details.replace("\x00", "\\u0000")
            if isinstance(custom_details, str)
            else json.dumps(custom_details, indent=2, ensure_ascii=False)
        )
        lines += ["", "Details:", details]
    text = "\n".join(lines)
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def alert_trigger(
    *,
    summary: str,
    source: str,
    severity: str,
    actor: Actor,
    dedup_key: str | None = None,
    component: str = "",
    custom_details: Any = None,
    service: Service | None = None,
    created_by_key=None,
) -> AlertOutcome:
    """Open an incident for the alert, or find the open one with its dedup_key.
    `severity` is PagerDuty's: critical, error, warning or info."""
    dedup_key = dedup_key or new_dedup_key()
    fields = {
        "title": _title(summary),
        "summary": _incident_summary(
            summary=summary, source=source, component=component, custom_details=custom_details
        ),
        "severity": SEVERITY_FROM_PAGERDUTY[severity],
        "service": service,
        "dedup_key": dedup_key,
        "actor": actor,
        "created_by_key": created_by_key,
    }
    for attempt in range(TRIGGER_ATTEMPTS):
        try:
            incident, created = services.incident_create(**fields)
        except IntegrityError:
            # The open incident was resolved between our insert and our look-up: the key
            # is free now, so the next insert should succeed.
            if attempt == TRIGGER_ATTEMPTS - 1:
                raise
            continue
        return AlertOutcome(dedup_key=dedup_key, incident=incident, changed=created)
    raise AssertionError("unreachable")


def _incident_for(dedup_key: str) -> Incident:
    """The dedup_key's open incident, else its newest resolved one."""
    incidents = Incident.objects.filter(dedup_key=dedup_key)
    incident = incidents.exclude(status=Incident.Status.RESOLVED).first() or incidents.order_by("-created_at").first()
    if incident is None:
        raise UnknownDedupKey(dedup_key)
    return incident


def _apply(*, dedup_key: str, transition: services.Transition, actor: Actor) -> AlertOutcome:
    incident = _incident_for(dedup_key)
    try:
        incident = services.incident_transition(incident=incident, transition=transition, actor=actor)
    except services.InvalidTransition:
        # Already acknowledged or resolved (maybe by a concurrent copy of this event).
        incident.refresh_from_db()
        return AlertOutcome(dedup_key=dedup_key, incident=incident, changed=False)
    return AlertOutcome(dedup_key=dedup_key, incident=incident, changed=True)


def alert_acknowledge(*, dedup_key: str, actor: Actor) -> AlertOutcome:
    return _apply(dedup_key=dedup_key, transition=services.ACKNOWLEDGE, actor=actor)


def alert_resolve(*, dedup_key: str, actor: Actor) -> AlertOutcome:
    return _apply(dedup_key=dedup_key, transition=services.RESOLVE, actor=actor)


def alert_event_apply(
    *,
    event_action: str,
    actor: Actor,
    dedup_key: str | None = None,
    payload: dict[str, Any] | None = None,
    service: Service | None = None,
    created_by_key=None,
) -> AlertOutcome:
    """One Events API event: `trigger` (with the alert's `payload`: summary, source,
    severity, ...), `acknowledge` or `resolve`. Raises UnknownDedupKey for an acknowledge
    or resolve whose dedup_key no incident has."""
    if event_action == "trigger":
        return alert_trigger(
            **(payload or {}), dedup_key=dedup_key, service=service, actor=actor, created_by_key=created_by_key
        )
    if event_action == "acknowledge":
        return alert_acknowledge(dedup_key=dedup_key, actor=actor)
    if event_action == "resolve":
        return alert_resolve(dedup_key=dedup_key, actor=actor)
    raise ValueError(f"Unknown event_action '{event_action}': trigger, acknowledge or resolve.")
