"""Incident writes: creation, the lifecycle state machine, external links and services."""

# Every change runs in one transaction that locks the incident row, bumps `version`,
# writes one `IncidentEvent` and announces it (`incident_event_recorded`), so the
# timeline, the version and whatever listeners write (the webhook outbox) agree.

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from incidents.actors import Actor
from incidents.models import ExternalLink, Incident, IncidentCounter, IncidentEvent, Service
from incidents.responders import Assignee, assignee_resolve
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


_COUNTER = IncidentCounter._meta.db_table
_INCIDENTS = Incident._meta.db_table


def _next_incident_number() -> int:
    """The next incident number, in the caller's transaction. The counter row stays locked
    until it ends, so concurrent creates take numbers one after the other; a create that
    rolls back (an idempotency_key or dedup_key already used) gives its number back."""
    with connection.cursor() as cursor:
        # One statement on PostgreSQL and SQLite (3.35+): increment and read under the row lock.
        cursor.execute(f"UPDATE {_COUNTER} SET last_number = last_number + 1 WHERE id = 1 RETURNING last_number")
        row = cursor.fetchone()
        if row is not None:
            return row[0]
        # No counter row: a database whose tables were emptied (the migration makes it).
        # Start after the highest number; a concurrent create doing the same waits on the
        # primary key, fails, and takes the row's next number.
        try:
            with transaction.atomic():
                cursor.execute(
                    f"INSERT INTO {_COUNTER} (id, last_number) "
                    f"SELECT 1, COALESCE(MAX(number), 0) + 1 FROM {_INCIDENTS} RETURNING last_number"
                )
                return cursor.fetchone()[0]
        except IntegrityError:
            cursor.execute(f"UPDATE {_COUNTER} SET last_number = last_number + 1 WHERE id = 1 RETURNING last_number")
            return cursor.fetchone()[0]


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
    dedup_key: str | None = None,
    created_by_key=None,
) -> tuple[Incident, bool]:
    """Declare an incident. Returns `(incident, created)`: with an `idempotency_key`
    already used in its scope (the `created_by_key`'s own keys, or those of incidents
    declared without a key), or a `dedup_key` an open incident has, that incident and
    `created=False`, and nothing is emitted. `assignee` is a responder id, an email or a
    Slack user id (see responders.assignee_resolve)."""
    now = timezone.now()
    person = assignee_resolve(value=assignee)
    incident = Incident(
        title=title,
        summary=summary,
        severity=severity,
        service=service,
        assignee=person.text,
        assignee_responder=person.responder,
        visibility=visibility,
        idempotency_key=idempotency_key or None,
        idempotency_scope=created_by_key.pk if created_by_key is not None else "",
        dedup_key=dedup_key or None,
        created_at=now,
        updated_at=now,
        created_by_key=created_by_key,
        creator_type=actor.type,
        creator_id=actor.id,
        creator_name=actor.name,
    )
    # Uniqueness is left to the database constraint: a check here would race. The number
    # is taken in the transaction below; the responder, the service and the API key were
    # just read by the caller (no second look-up each: the foreign keys still hold).
    incident.full_clean(
        exclude=["number", "assignee_responder", "service", "created_by_key"],
        validate_unique=False,
        validate_constraints=False,
    )
    # A new incident has no external links: neither its webhook payload nor its API
    # answer queries them.
    incident._prefetched_objects_cache = {"external_links": ExternalLink.objects.none()}
    try:
        with transaction.atomic():
            incident.number = _next_incident_number()
            incident.save(force_insert=True)
            _record_event(incident=incident, event_type=IncidentEvent.Type.TRIGGERED, actor=actor, now=now)
    except IntegrityError:
        incident.number = None
        existing = _incident_holding_keys(incident)
        if existing is None:
            raise
        return existing, False
    return incident, True


def incident_create_by_api_key(*, api_key, **fields) -> tuple[Incident, bool]:
    """`incident_create` for an API key (the fields are its own). Its idempotency_keys are
    its own too: a replay finds only an incident this key declared, whose body it was
    given at creation, so no key ever reads, or learns of, another key's incident
    through its idempotency_key."""
    return incident_create(**fields, actor=Actor.from_api_key(api_key), created_by_key=api_key)


def _incident_holding_keys(incident: Incident) -> Incident | None:
    """The incident whose idempotency_key or open dedup_key made `incident`'s insert fail."""
    if incident.idempotency_key:
        existing = Incident.objects.filter(
            idempotency_scope=incident.idempotency_scope, idempotency_key=incident.idempotency_key
        ).first()
        if existing is not None:
            return existing
    if incident.dedup_key:
        return Incident.objects.filter(dedup_key=incident.dedup_key).exclude(status=Status.RESOLVED).first()
    return None


# Raw, not Exists(): the ORM takes a third of a millisecond of CPU to compile that
# subquery, as much as the query it saves (`python -m bench.emit_parts`).
HAS_EXTERNAL_LINKS = RawSQL(
    f'EXISTS (SELECT 1 FROM "{ExternalLink._meta.db_table}" link '
    f'WHERE link."incident_id" = "{Incident._meta.db_table}"."id")',
    (),
    output_field=BooleanField(),
)


def incident_lock(*, incident_id: str) -> Incident:
    """The incident, row-locked until the caller's transaction ends. The lock serialises
    concurrent transitions: each sees the previous one's status and version, so versions
    never repeat and refusals are exact. Service and assignee come along for the webhook
    payload (only the incident is locked). Whether it has external links is read in the
    same statement: most incidents have none, and then neither the webhook payload nor
    the API answer queries them."""
    locked = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("service", "assignee_responder")
        .annotate(has_external_links=HAS_EXTERNAL_LINKS)
        .get(pk=incident_id)
    )
    if not locked.has_external_links:
        locked._prefetched_objects_cache = {"external_links": ExternalLink.objects.none()}
    return locked


TRANSITION_FIELDS = [
    "status", "acknowledged_at", "resolved_at", "escalation_level", "assignee", "assignee_responder",
    "version", "updated_at",
]  # fmt: skip


def incident_transition(
    *, incident: Incident, transition: Transition, actor: Actor, assignee: Assignee | None = None
) -> Incident:
    """Apply one lifecycle transition, or raise InvalidTransition naming the current status.
    With `assignee` (from responders.assignee_resolve), the change also assigns it."""
    try:
        with transaction.atomic():
            locked = incident_lock(incident_id=incident.pk)
            if locked.status not in transition.allowed_from:
                allowed = " or ".join(sorted(transition.allowed_from))
                raise InvalidTransition(
                    f"Cannot {transition.action} incident {locked.id}: its status is '{locked.status}' "
                    f"(allowed from {allowed})."
                )
            now = timezone.now()
            transition.apply(locked, now)
            if assignee is not None and assignee.text:
                locked.assignee, locked.assignee_responder = assignee.text, assignee.responder
            locked.version += 1
            locked.updated_at = now
            # No full_clean: only this module's code set the fields above. Only what a
            # transition may change is written (a shorter UPDATE to build and send).
            locked.save(update_fields=TRANSITION_FIELDS)
            _record_event(incident=locked, event_type=transition.event_type, actor=actor, now=now)
    except IntegrityError:
        # Only a reopen can collide: with an open incident that took its dedup_key meanwhile.
        if not (transition is REOPEN and locked.dedup_key):
            raise
        raise InvalidTransition(
            f"Cannot reopen incident {locked.id}: another open incident has its dedup_key "
            f"'{locked.dedup_key}'. Resolve that one first."
        ) from None
    return locked


def incident_acknowledge(*, incident: Incident, actor: Actor, assignee: str | None = None) -> Incident:
    """`assignee` (optional): who takes the incident, as for incident_create; none keeps
    the current assignee."""
    person = assignee_resolve(value=assignee)
    return incident_transition(incident=incident, transition=ACKNOWLEDGE, actor=actor, assignee=person)


def incident_resolve(*, incident: Incident, actor: Actor) -> Incident:
    return incident_transition(incident=incident, transition=RESOLVE, actor=actor)


def incident_escalate(*, incident: Incident, actor: Actor) -> Incident:
    return incident_transition(incident=incident, transition=ESCALATE, actor=actor)


def incident_reopen(*, incident: Incident, actor: Actor) -> Incident:
    return incident_transition(incident=incident, transition=REOPEN, actor=actor)


def external_link_add(*, incident: Incident, system: str, key: str, url: str) -> tuple[ExternalLink, bool]:
    """Link the incident to a record in another system. Returns `(link, created)`: a
    second add of the same system and key returns the first link, unchanged. Adding a
    link emits no lifecycle event; the link rides along in the incident's next ones."""
    link = ExternalLink(incident=incident, system=system, key=key, url=url)
    link.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            link.save(force_insert=True)
    except IntegrityError:
        existing = ExternalLink.objects.filter(incident=incident, system=system, key=key).first()
        if existing is None:
            raise
        return existing, False
    return link, True


def external_link_remove(*, link: ExternalLink) -> None:
    link.delete()


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
