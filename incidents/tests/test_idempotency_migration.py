"""Migration 0006 scopes existing idempotency keys to the API key that declared them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from incidents import services
from incidents.actors import Actor
from incidents.models import Incident, IncidentCounter
from opsknight.models import ApiKey


@pytest.mark.django_db(transaction=True)
def test_migration_scopes_existing_keys_to_the_key_that_declared_them():
    executor = MigrationExecutor(connection)
    before = [("incidents", "0005_incident_number_required")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldIncident, OldKey = old.get_model("incidents", "Incident"), old.get_model("opsknight", "ApiKey")
    key = OldKey.objects.create(pk="key_A", name="a", prefix="opsk_a", hashed_key="a" * 64)
    common = {"creator_type": "api_key", "created_by_key": key, "creator_id": "key_A"}
    OldIncident.objects.create(pk="inc_1", number=1, title="by key", idempotency_key="k-1", **common)
    # Declared by a key deleted since: the copied creator still names it.
    OldIncident.objects.create(
        pk="inc_2",
        number=2,
        title="by a deleted key",
        idempotency_key="k-2",
        creator_type="api_key",
        creator_id="key_Z",
    )
    OldIncident.objects.create(pk="inc_3", number=3, title="admin", idempotency_key="k-3", creator_type="user")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    IncidentCounter.objects.update_or_create(pk=1, defaults={"last_number": 3})

    assert dict(Incident.objects.values_list("pk", "idempotency_scope")) == {
        "inc_1": "key_A", "inc_2": "key_Z", "inc_3": "",
    }  # fmt: skip
    # Key A replays its own key and finds its incident; the admin's scope does not hold k-1.
    replayed, created = services.incident_create_by_api_key(
        title="x", idempotency_key="k-1", api_key=ApiKey.objects.get()
    )
    assert (replayed.pk, created) == ("inc_1", False)
    assert services.incident_create(title="x", idempotency_key="k-1", actor=Actor.system())[1] is True
