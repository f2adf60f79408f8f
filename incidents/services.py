"""Incident writes: creation and the lifecycle state machine.

Every change runs in one transaction that locks the incident row, bumps `version`,
writes one `IncidentEvent` and announces it (`incident_event_recorded`), so the
timeline, the version and whatever listeners write (the webhook outbox) agree.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.actors import Actor
from incidents.models import Incident, IncidentEvent, Service
from incidents.signals import incident_event_recorded
from opsknight.errors import ConflictError

Status = Incident.Status


class InvalidTransition(ConflictError):
    code = "invalid_transition"


@dataclass(frozen=True)
class Transition:
    action: str
    allowed_from: frozenset[str]
    event_type: str
    apply: Callable[[Incident, datetime], None]


def _acknowledge(incident: Incident, now: datetime) -> None:
    incident.status = Status.ACKNOWLEDGED
    incident.acknowledged_at = now


def _resolve(incident: Incident, now: datetime) -> None:
    incident.status = Status.RESOLVED
    incident.resolved_at = now


def _escalate(incident: Incident, now: datetime) -> None:
    incident.escalation_level += 1


def _reopen(incident: Incident, now: datetime) -> None:
    incident.status = Status.TRIGGERED
    incident.acknowledged_at = None
    incident.resolved_at = None


# The lifecycle table of the design, as data.
ACKNOWLEDGE = Transition("acknowledge", frozenset({Status.TRIGGERED}), IncidentEvent.Type.ACKNOWLEDGED, _acknowledge)
RESOLVE = Transition(
    "resolve", frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED}), IncidentEvent.Type.RESOLVED, _resolve
)
ESCALATE = Transition(
    "escalate", frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED}), IncidentEvent.Type.ESCALATED, _escalate
)
REOPEN = Transition("reopen", frozenset({Status.RESOLVED}), IncidentEvent.Type.REOPENED, _reopen)
TRANSITIONS = {t.action: t for t in (ACKNOWLEDGE, RESOLVE, ESCALATE, REOPEN)}


def _record_event(*, incident: Incident, event_type: str, actor: Actor, now: datetime) -> IncidentEvent:
    event = IncidentEvent.objects.create(
        incident=incident,
        type=event_type,
        version=incident.version,
        occurred_at=now,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
    )
    incident_event_recorded.send(sender=IncidentEvent, event=event)
    return event


def incident_create(
    *,
    title: str,
    actor: Actor,
    idempotency_key: str | None = None,
    summary: str = "",
    severity: str = Incident.Severity.HIGH,
    service: Service | None = None,
    assignee: str | None = None,
    visibility: str = Incident.Visibility.PUBLIC,
    created_by_key=None,
) -> tuple[Incident, bool]:
    """Declare an incident. Returns `(incident, created)`: with an `idempotency_key`
    already used, the first incident and `created=False`, and nothing is emitted."""
    now = timezone.now()
    incident = Incident(
        title=title,
        summary=summary,
        severity=severity,
        service=service,
        assignee=assignee or None,
        visibility=visibility,
        idempotency_key=idempotency_key or None,
        created_at=now,
        updated_at=now,
        created_by_key=created_by_key,
    )
    # Uniqueness is left to the database constraint: a check here would race.
    incident.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            incident.save(force_insert=True)
            _record_event(incident=incident, event_type=IncidentEvent.Type.TRIGGERED, actor=actor, now=now)
    except IntegrityError:
        existing = (
            Incident.objects.filter(idempotency_key=incident.idempotency_key).first()
            if incident.idempotency_key
            else None
        )
        if existing is None:
            raise
        return existing, False
    return incident, True


def incident_transition(*, incident: Incident, transition: Transition, actor: Actor) -> Incident:
    """Apply one lifecycle transition, or raise InvalidTransition naming the current status."""
    with transaction.atomic():
        # The row lock serialises concurrent transitions: each sees the previous
        # one's status and version, so versions never repeat and refusals are exact.
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.status not in transition.allowed_from:
            allowed = " or ".join(sorted(transition.allowed_from))
            raise InvalidTransition(
                f"Cannot {transition.action} incident {locked.id}: its status is '{locked.status}' "
                f"(allowed from {allowed})."
            )
        now = timezone.now()
        transition.apply(locked, now)
        locked.version += 1
        locked.updated_at = now
        # No full_clean: only this module's code set the fields above.
        locked.save()
        _record_event(incident=locked, event_type=transition.event_type, actor=actor, now=now)
    return locked


def incident_acknowledge(*, incident: Incident, actor: Actor) -> Incident:
    return incident_transition(incident=incident, transition=ACKNOWLEDGE, actor=actor)


def incident_resolve(*, incident: Incident, actor: Actor) -> Incident:
    return incident_transition(incident=incident, transition=RESOLVE, actor=actor)


def incident_escalate(*, incident: Incident, actor: Actor) -> Incident:
    return incident_transition(incident=incident, transition=ESCALATE, actor=actor)


def incident_reopen(*, incident: Incident, actor: Actor) -> Incident:
    return incident_transition(incident=incident, transition=REOPEN, actor=actor)


def service_create(*, name: str, description: str = "") -> Service:
    service = Service(name=name, description=description)
    service.full_clean()  # includes the unique name: a clear 400 rather than an IntegrityError
    try:
        with transaction.atomic():
            service.save(force_insert=True)
    except IntegrityError:
        # Lost a race with a concurrent create of the same name: same answer as above.
        raise ValidationError({"name": f"A service named '{name}' already exists."}) from None
    return service
