"""Fixtures shared by every test suite."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from incidents.actors import Actor
from opsknight.models import Scope
from opsknight.services import api_key_create

ALL_SCOPES = list(Scope.values)


def pytest_sessionstart(session):
    """Metric counters start from 0 in each session (PROMETHEUS_MULTIPROC_DIR is the
    tests' own, see pyproject.toml): files of old runs would pile up otherwise."""
    call_command("metrics_reset", verbosity=0)


@pytest.fixture
def make_api_client(db):
    """make_api_client(scopes=[...]) → an APIClient sending a fresh key with those scopes."""

    def make(scopes=ALL_SCOPES, name="test key"):
        key, raw_key = api_key_create(name=name, scopes=list(scopes))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        client.api_key = key
        return client

    return make


@pytest.fixture
def api_client(make_api_client):
    """A client whose key has every scope."""
    return make_api_client()


@pytest.fixture
def system_actor():
    return Actor.system("tests")


@pytest.fixture
def receiver():
    """A real HTTP receiver on 127.0.0.1 (tests/support/receiver.py)."""
    from tests.support.receiver import Receiver

    server = Receiver()
    yield server
    server.close()
