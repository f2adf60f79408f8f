"""Fixtures for the suites that run real Celery processes (tests/e2e, tests/chaos)."""

import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.support.cluster import CeleryCluster


@pytest.fixture(scope="session")
def celery_cluster(django_db_setup, django_db_blocker, tmp_path_factory):
    """One beat and one worker for the whole session, against the test database."""
    if connection.vendor != "postgresql":
        pytest.skip("end-to-end tests need PostgreSQL (a worker process cannot share an in-memory SQLite)")
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    cluster = CeleryCluster(tmp_path_factory.mktemp("celery"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def e2e(celery_cluster, transactional_db):
    """Everything a test commits is visible to the running worker."""
    return celery_cluster
