"""Number existing incidents 1, 2, 3... in creation order, start the counter after them,
and copy each one's creator from its first timeline entry."""

from django.db import migrations

# UPDATE ... FROM works on PostgreSQL and on SQLite (3.33+); one statement, however many rows.
NUMBER_BY_CREATION = """
UPDATE incidents_incident SET number = numbered.n
FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM incidents_incident) AS numbered
WHERE incidents_incident.id = numbered.id
"""
CREATOR_FROM_FIRST_EVENT = """
UPDATE incidents_incident SET creator_type = e.actor_type, creator_id = e.actor_id, creator_name = e.actor_name
FROM incidents_incidentevent AS e
WHERE e.incident_id = incidents_incident.id AND e.version = 1
"""
START_COUNTER = """
INSERT INTO incidents_incidentcounter (id, last_number)
SELECT 1, COALESCE(MAX(number), 0) FROM incidents_incident
"""


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_responders_incident_number")]

    operations = [
        migrations.RunSQL(NUMBER_BY_CREATION, migrations.RunSQL.noop),
        migrations.RunSQL(CREATOR_FROM_FIRST_EVENT, migrations.RunSQL.noop),
        migrations.RunSQL(START_COUNTER, "DELETE FROM incidents_incidentcounter"),
    ]
