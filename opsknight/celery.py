"""The Celery application. Configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsknight.settings")

app = Celery("opsknight")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def recycle_database_connections(**kwargs) -> None:
    """What Django does at the start of every web request, at the start of every task:
    close a connection that is broken (a PostgreSQL restart) or older than CONN_MAX_AGE,
    and health-check the rest before use. CELERY_DB_REUSE_MAX stops the Django fix-up
    from closing every connection instead."""
    from django.db import close_old_connections

    close_old_connections()
