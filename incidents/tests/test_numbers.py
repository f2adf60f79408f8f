"""Incident numbers and references: 1, 2, 3... without gaps, `INC-42` with the prefix
setting, in the API and the admin, and existing incidents numbered by the migration."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from incidents import alerts, selectors, services
from incidents.models import Incident, IncidentCounter

pytestmark = pytest.mark.django_db


def declare(actor, key: str, **fields) -> tuple[Incident, bool]:
    return services.incident_create(title=f"incident {key}", idempotency_key=key, actor=actor, **fields)


def test_incidents_are_numbered_in_order(system_actor):
    numbers = [declare(system_actor, f"k{n}")[0].number for n in range(3)]
    first = numbers[0]
    assert numbers == [first, first + 1, first + 2]
    assert [i.number for i in Incident.objects.order_by("created_at")] == numbers


def test_a_replayed_key_or_dedup_key_takes_no_number(system_actor):
    first, _ = declare(system_actor, "same")
    again, created = declare(system_actor, "same")
    assert (created, again.number) == (False, first.number)
    # A monitoring tool re-sending its trigger (the dedup_key's incident is open) neither.
    alert = {"summary": "disk full", "source": "db-1", "severity": "critical", "actor": system_actor}
    opened = alerts.alert_trigger(dedup_key="disk", **alert).incident
    for _ in range(3):
        assert alerts.alert_trigger(dedup_key="disk", **alert).incident.number == opened.number
    assert declare(system_actor, "next")[0].number == opened.number + 1 == first.number + 2


def test_numbering_continues_after_the_highest_number_without_a_counter_row(system_actor):
    """A database whose tables were emptied has no counter row: numbering goes on."""
    highest = declare(system_actor, "a")[0].number
    IncidentCounter.objects.all().delete()
    assert declare(system_actor, "b")[0].number == highest + 1
    assert declare(system_actor, "c")[0].number == highest + 2
    assert IncidentCounter.objects.get().last_number == highest + 2


def test_reference_is_the_prefix_setting_a_dash_and_the_number(api_client, settings, system_actor):
    incident, _ = declare(system_actor, "ref")
    assert incident.reference == f"INC-{incident.number}"
    settings.INCIDENT_REFERENCE_PREFIX = "OPS"
    body = api_client.get(f"/api/v1/incidents/{incident.id}").json()
    assert (body["number"], body["reference"]) == (incident.number, f"OPS-{incident.number}")
    assert list(body)[:3] == ["id", "number", "reference"]


@pytest.mark.parametrize("prefix", ["", "IN C", "INC-", "1NC", "X" * 17])
def test_a_bad_prefix_setting_stops_the_service_at_start(prefix, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "INCIDENT_REFERENCE_PREFIX": prefix, "DJANGO_SETTINGS_MODULE": "opsknight.settings"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "INCIDENT_REFERENCE_PREFIX" in done.stderr


@pytest.mark.parametrize(
    "text, number",
    [("INC-42", 42), ("inc-42", 42), (" INC-7 ", 7), ("42", 42), ("INC-", None), ("OPS-42", None), ("INC-4x", None)],
)
def test_number_from_reference(text, number):
    assert selectors.incident_number_from_reference(text) == number


def test_number_from_reference_ignores_numbers_beyond_the_column():
    assert selectors.incident_number_from_reference("INC-99999999999") is None
    assert selectors.incident_number_from_reference("INC-2147483648") is None


def test_admin_lists_and_finds_incidents_by_reference(admin_client, system_actor):
    wanted, _ = declare(system_actor, "wanted")
    other, _ = declare(system_actor, "other")
    changelist = reverse("admin:incidents_incident_changelist")
    page = admin_client.get(changelist).content.decode()
    assert f"INC-{wanted.number}" in page and f"INC-{other.number}" in page
    for term in (f"INC-{wanted.number}", f"inc-{wanted.number}"):
        found = admin_client.get(changelist, {"q": term})
        assert [i.pk for i in found.context["cl"].result_list] == [wanted.pk], term
    change = admin_client.get(reverse("admin:incidents_incident_change", args=[wanted.pk])).content.decode()
    assert f"INC-{wanted.number}" in change


# --- The migration numbers existing incidents ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_numbers_existing_incidents_by_creation_order():
    executor = MigrationExecutor(connection)
    before = [("incidents", "0002_incident_dedup_key_external_link")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldIncident, OldEvent = old.get_model("incidents", "Incident"), old.get_model("incidents", "IncidentEvent")
    now = timezone.now()
    # Ids out of creation order: the numbers follow created_at, not the id.
    for pk, minutes in [("inc_C", 0), ("inc_A", 5), ("inc_B", 10)]:
        incident = OldIncident.objects.create(pk=pk, title=pk, created_at=now + timedelta(minutes=minutes))
        OldEvent.objects.create(
            incident=incident, type="incident.triggered", version=1, actor_type="user", actor_id="3", actor_name="maria"
        )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert list(Incident.objects.order_by("number").values_list("pk", "number")) == [
        ("inc_C", 1), ("inc_A", 2), ("inc_B", 3),
    ]  # fmt: skip
    assert set(Incident.objects.values_list("creator_type", "creator_id", "creator_name")) == {("user", "3", "maria")}
    assert IncidentCounter.objects.get().last_number == 3
    from incidents.actors import Actor

    new, _ = services.incident_create(title="after", idempotency_key="after", actor=Actor.system())
    assert new.number == 4
