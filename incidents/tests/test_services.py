"""The incident lifecycle state machine (incidents/services.py)."""

import copy

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import services
from incidents.actors import Actor
from incidents.models import Incident, IncidentEvent
from incidents.signals import incident_event_recorded
from incidents.tests.conftest import move_to
from opsknight.models import Scope
from opsknight.services import api_key_create

S = Incident.Status
T = IncidentEvent.Type

# The design's lifecycle table: action → (allowed from, status after).
TABLE = {
    "acknowledge": ({S.TRIGGERED}, lambda before: S.ACKNOWLEDGED),
    "resolve": ({S.TRIGGERED, S.ACKNOWLEDGED}, lambda before: S.RESOLVED),
    "escalate": ({S.TRIGGERED, S.ACKNOWLEDGED}, lambda before: before),
    "reopen": ({S.RESOLVED}, lambda before: S.TRIGGERED),
}
EVENT_TYPE = {"acknowledge": T.ACKNOWLEDGED, "resolve": T.RESOLVED, "escalate": T.ESCALATED, "reopen": T.REOPENED}
ALL_CASES = [(action, status) for action in TABLE for status in S.values]
ALLOWED = [(action, status) for action, status in ALL_CASES if status in TABLE[action][0]]
REFUSED = [(action, status) for action, status in ALL_CASES if status not in TABLE[action][0]]


def test_the_table_covers_every_pair():
    assert len(ALLOWED) == 6 and len(REFUSED) == 6
    assert set(services.TRANSITIONS) == set(TABLE)
    for action, (allowed_from, _) in TABLE.items():
        assert services.TRANSITIONS[action].allowed_from == allowed_from
        assert services.TRANSITIONS[action].event_type == EVENT_TYPE[action]


# --- create ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_starts_at_version_1_with_one_triggered_event(system_actor, service):
    incident, created = services.incident_create(
        title="Checkout errors", actor=system_actor, idempotency_key="alert-1", severity="critical", service=service
    )

    assert created is True
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.id.startswith("inc_")
    assert incident.status == S.TRIGGERED
    assert incident.version == 1
    assert incident.escalation_level == 0
    assert incident.severity == "critical" and incident.service == service
    assert incident.updated_at == incident.created_at
    assert incident.acknowledged_at is None and incident.resolved_at is None
    event = IncidentEvent.objects.get(incident=incident)
    assert (event.type, event.version) == (T.TRIGGERED, 1)
    assert (event.actor_type, event.actor_name) == ("system", "tests")
    assert event.occurred_at == incident.created_at


@pytest.mark.django_db
def test_create_with_a_used_idempotency_key_returns_the_first_incident_and_emits_nothing(system_actor):
    first, created = services.incident_create(title="first", actor=system_actor, idempotency_key="same")
    again, created_again = services.incident_create(
        title="second", actor=system_actor, idempotency_key="same", severity="low"
    )

    assert created is True and created_again is False
    assert again.pk == first.pk
    assert again.title == "first" and again.severity == "high"
    assert Incident.objects.count() == 1
    assert IncidentEvent.objects.count() == 1


@pytest.mark.django_db
def test_incidents_without_idempotency_key_do_not_collide(system_actor):
    one, _ = services.incident_create(title="a", actor=system_actor)
    two, created = services.incident_create(title="b", actor=system_actor, idempotency_key="")

    assert created is True and one.pk != two.pk
    assert Incident.objects.filter(idempotency_key__isnull=True).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, bad_field",
    [({"title": ""}, "title"), ({"severity": "urgent"}, "severity"), ({"visibility": "secret"}, "visibility")],
)
def test_create_validates_fields(system_actor, fields, bad_field):
    with pytest.raises(ValidationError) as error:
        services.incident_create(actor=system_actor, **{"title": "ok", "idempotency_key": "v", **fields})
    assert bad_field in error.value.message_dict
    assert not Incident.objects.exists() and not IncidentEvent.objects.exists()


def _api_key(*scopes: str):
    key, _ = api_key_create(name="sender", scopes=[Scope.INCIDENTS_WRITE, *scopes])
    return key


@pytest.mark.django_db
def test_idempotency_keys_are_scoped_per_api_key(system_actor):
    sender, other = _api_key(), _api_key(Scope.INCIDENTS_READ_PRIVATE)
    fields = {"title": "Payroll leak", "idempotency_key": "k-1", "visibility": Incident.Visibility.PRIVATE}
    incident, created = services.incident_create_by_api_key(**fields, api_key=sender)
    assert created and incident.created_by_key_id == sender.pk
    assert (incident.idempotency_scope, incident.events.get().actor_id) == (sender.pk, sender.pk)

    assert services.incident_create_by_api_key(**fields, api_key=sender) == (incident, False)
    # Another key, even one that may read private incidents, has keys of its own.
    theirs, created = services.incident_create_by_api_key(**fields, api_key=other)
    assert created and theirs.pk != incident.pk
    # Incidents declared without a key (the admin, the system) have one scope of their own.
    unscoped, created = services.incident_create(**fields, actor=system_actor)
    assert created and unscoped.idempotency_scope == ""
    assert services.incident_create(**fields, actor=system_actor) == (unscoped, False)
    assert Incident.objects.filter(idempotency_key="k-1").count() == 3


@pytest.mark.django_db
def test_a_deleted_keys_incidents_keep_their_scope():
    sender = _api_key()
    incident, _ = services.incident_create_by_api_key(title="t", idempotency_key="k-2", api_key=sender)
    key_id = sender.pk
    sender.delete()
    incident.refresh_from_db()
    assert (incident.created_by_key_id, incident.idempotency_scope) == (None, key_id)
    # The admin's scope is not the deleted key's: the key "k-2" is free there.
    assert services.incident_create(title="t", idempotency_key="k-2", actor=Actor.system())[1] is True


# --- transitions ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("action, from_status", ALLOWED)
def test_allowed_transition(make_incident, action, from_status):
    incident = make_incident(status=from_status)
    before = Incident.objects.get(pk=incident.pk)
    events_before = IncidentEvent.objects.filter(incident=incident).count()
    actor = Actor("api_key", "key_123", "grafana")

    result = services.incident_transition(incident=incident, transition=services.TRANSITIONS[action], actor=actor)

    after = Incident.objects.get(pk=incident.pk)
    assert result.status == after.status == TABLE[action][1](from_status)
    assert after.version == before.version + 1 == result.version
    assert after.updated_at >= before.updated_at
    expected_level = before.escalation_level + (1 if action == "escalate" else 0)
    assert after.escalation_level == expected_level
    new_events = IncidentEvent.objects.filter(incident=incident, version__gt=before.version)
    assert new_events.count() == 1
    assert IncidentEvent.objects.filter(incident=incident).count() == events_before + 1
    event = new_events.get()
    assert event.type == EVENT_TYPE[action]
    assert event.version == after.version
    assert (event.actor_type, event.actor_id, event.actor_name) == ("api_key", "key_123", "grafana")
    assert event.occurred_at == after.updated_at


@pytest.mark.django_db
@pytest.mark.parametrize("action, from_status", REFUSED)
def test_refused_transition_changes_and_emits_nothing(make_incident, system_actor, action, from_status):
    incident = make_incident(status=from_status)
    before = Incident.objects.get(pk=incident.pk)
    events_before = list(IncidentEvent.objects.filter(incident=incident).values_list("pk", flat=True))

    with pytest.raises(services.InvalidTransition) as error:
        services.incident_transition(incident=incident, transition=services.TRANSITIONS[action], actor=system_actor)

    assert f"'{from_status}'" in error.value.message
    assert action in error.value.message
    assert error.value.code == "invalid_transition"
    after = Incident.objects.get(pk=incident.pk)
    assert (after.status, after.version, after.updated_at, after.escalation_level) == (
        before.status, before.version, before.updated_at, before.escalation_level,
    )  # fmt: skip
    assert list(IncidentEvent.objects.filter(incident=incident).values_list("pk", flat=True)) == events_before


@pytest.mark.django_db
def test_timestamps_and_versions_through_a_full_lifecycle(make_incident, system_actor):
    incident = make_incident()

    acknowledged = services.incident_acknowledge(incident=incident, actor=system_actor)
    assert acknowledged.acknowledged_at == acknowledged.updated_at
    assert acknowledged.resolved_at is None

    escalated = services.incident_escalate(incident=acknowledged, actor=system_actor)
    escalated = services.incident_escalate(incident=escalated, actor=system_actor)
    assert escalated.escalation_level == 2
    assert escalated.status == S.ACKNOWLEDGED
    assert escalated.acknowledged_at == acknowledged.acknowledged_at  # escalation keeps it

    resolved = services.incident_resolve(incident=escalated, actor=system_actor)
    assert resolved.resolved_at == resolved.updated_at
    assert resolved.acknowledged_at == acknowledged.acknowledged_at

    reopened = services.incident_reopen(incident=resolved, actor=system_actor)
    assert reopened.status == S.TRIGGERED
    assert reopened.acknowledged_at is None and reopened.resolved_at is None
    assert reopened.escalation_level == 2
    assert reopened.version == 6

    events = list(IncidentEvent.objects.filter(incident=incident).order_by("version"))
    assert [(e.type, e.version) for e in events] == [
        (T.TRIGGERED, 1), (T.ACKNOWLEDGED, 2), (T.ESCALATED, 3), (T.ESCALATED, 4), (T.RESOLVED, 5), (T.REOPENED, 6),
    ]  # fmt: skip
    occurred = [e.occurred_at for e in events]
    assert occurred == sorted(occurred)
    assert Incident.objects.get(pk=incident.pk).updated_at == events[-1].occurred_at


@pytest.mark.django_db
def test_transition_on_a_stale_object_uses_the_stored_state(make_incident, system_actor):
    incident = make_incident()
    stale = Incident.objects.get(pk=incident.pk)
    services.incident_resolve(incident=incident, actor=system_actor)

    with pytest.raises(services.InvalidTransition) as error:
        services.incident_acknowledge(incident=stale, actor=system_actor)
    assert "'resolved'" in error.value.message

    reopened = services.incident_reopen(incident=stale, actor=system_actor)
    assert (reopened.status, reopened.version) == (S.TRIGGERED, 3)


# --- the signal ----------------------------------------------------------------------------


class Boom(Exception):
    pass


@pytest.fixture
def receiver_log():
    """Connects a receiver that records each event it sees and whether the row is already
    written; `log.fail = True` makes it raise."""

    class Log(list):
        fail = False

    log = Log()

    def record(sender, event, **kwargs):
        log.append((event.type, event.version, IncidentEvent.objects.filter(pk=event.pk).exists()))
        if log.fail:
            raise Boom("listener failed")

    incident_event_recorded.connect(record, sender=IncidentEvent, dispatch_uid="tests.receiver_log")
    yield log
    incident_event_recorded.disconnect(sender=IncidentEvent, dispatch_uid="tests.receiver_log")


@pytest.mark.django_db
def test_signal_is_sent_once_per_change_after_the_event_row_is_written(make_incident, system_actor, receiver_log):
    incident = make_incident()
    services.incident_acknowledge(incident=incident, actor=system_actor)
    with pytest.raises(services.InvalidTransition):
        services.incident_acknowledge(incident=incident, actor=system_actor)
    services.incident_create(title="again", actor=system_actor, idempotency_key=incident.idempotency_key)

    assert receiver_log == [(T.TRIGGERED, 1, True), (T.ACKNOWLEDGED, 2, True)]


@pytest.mark.django_db
def test_a_failing_receiver_rolls_back_the_create(system_actor, receiver_log):
    receiver_log.fail = True
    with pytest.raises(Boom):
        services.incident_create(title="doomed", actor=system_actor, idempotency_key="doomed")

    assert receiver_log == [(T.TRIGGERED, 1, True)]
    assert not Incident.objects.filter(idempotency_key="doomed").exists()
    assert not IncidentEvent.objects.exists()


@pytest.mark.django_db
def test_a_failing_receiver_rolls_back_the_transition(make_incident, system_actor, receiver_log):
    incident = make_incident()
    receiver_log.fail = True

    with pytest.raises(Boom):
        services.incident_acknowledge(incident=incident, actor=system_actor)

    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.status, stored.version, stored.acknowledged_at) == (S.TRIGGERED, 1, None)
    assert list(IncidentEvent.objects.filter(incident=incident).values_list("type", flat=True)) == [T.TRIGGERED]

    receiver_log.fail = False
    assert services.incident_acknowledge(incident=incident, actor=system_actor).version == 2


# --- services (the incident's owning service) ---------------------------------------------


@pytest.mark.django_db
def test_service_create_refuses_a_duplicate_name(service):
    assert service.id.startswith("svc_")
    with pytest.raises(ValidationError) as error:
        services.service_create(name=service.name)
    assert "name" in error.value.message_dict


@pytest.mark.django_db
def test_move_to_helper_reaches_each_status(make_incident, system_actor):
    for status in S.values:
        assert move_to(make_incident(), status, system_actor).status == status


def test_transitions_change_only_the_fields_they_save():
    """incident_transition writes TRANSITION_FIELDS only: a transition that changed another
    field would lose it silently."""
    now = timezone.now()
    for transition in services.TRANSITIONS.values():
        before = Incident(title="t", status=next(iter(transition.allowed_from)), escalation_level=1, version=3)
        after = copy.deepcopy(before)
        transition.apply(after, now)
        changed = {
            f.attname for f in Incident._meta.concrete_fields if getattr(before, f.attname) != getattr(after, f.attname)
        }
        assert changed, transition.action
        assert changed <= {Incident._meta.get_field(name).attname for name in services.TRANSITION_FIELDS}
