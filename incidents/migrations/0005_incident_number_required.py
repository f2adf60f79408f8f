from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0004_number_existing_incidents'),
    ]

    operations = [
        migrations.AlterField(
            model_name='incident',
            name='number',
            field=models.PositiveIntegerField(editable=False, unique=True),
        ),
    ]
