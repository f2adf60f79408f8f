"""idempotency_key becomes unique per API key (its `idempotency_scope`), not across the
whole service. Existing incidents take the scope of the key that declared them, so a key
replaying one of its own keys still finds its incident."""

from django.db import migrations, models
from django.db.models import F


def scope_existing_incidents(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    Incident.objects.filter(created_by_key__isnull=False).update(idempotency_scope=F("created_by_key_id"))
    # A key deleted since: its id is still in the copied creator.
    Incident.objects.filter(created_by_key__isnull=True, creator_type="api_key").update(
        idempotency_scope=F("creator_id")
    )


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0005_incident_number_required'),
        ('opsknight', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='incident',
            name='idempotency_scope',
            field=models.CharField(blank=True, default='', editable=False, max_length=64),
        ),
        migrations.RunPython(scope_existing_incidents, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='incident',
            name='idempotency_key',
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddConstraint(
            model_name='incident',
            constraint=models.UniqueConstraint(fields=('idempotency_scope', 'idempotency_key'), name='incident_idempotency_key_unique_per_scope', violation_error_message='An incident with this idempotency_key already exists.'),
        ),
    ]
