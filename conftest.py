"""Fixtures shared by every test suite."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from incidents.actors import Actor
from opsknight.models import Scope
from opsknight.services import api_key_create
from tests.support import testhosts

ALL_SCOPES = list(Scope.values)


def pytest_configure(config):
    """Test host names (receiver.opsknight.test, ...) resolve through the real resolver,
    for this process and its children only: a private mount namespace over /etc/hosts
    (tests/support/testhosts.py). First thing, while the process has one thread."""
    testhosts.install()


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
def receiver(request):
    """A real HTTP receiver on 127.0.0.1 (tests/support/receiver.py).

    Parametrize it (`@pytest.mark.parametrize("receiver", ["http", "https"], indirect=True)`)
    to run a test against plain HTTP to 127.0.0.1 and against HTTPS by name: alpha.opsknight.test
    on 127.0.0.2, which also serves beta.opsknight.test with another certificate (SNI
    chooses), certificates from the test CA (WEBHOOK_CA_BUNDLE: the `tls_ca_bundle` fixture
    in this process, the environment of the Celery workers)."""
    from tests.support.receiver import Receiver

    kind = getattr(request, "param", "http")
    if kind == "http":
        server = Receiver()
    elif kind == "https":
        server = _https_receiver(request)
    else:
        raise ValueError(f"receiver kind {kind!r}: 'http' or 'https'")
    yield server
    server.close()


@pytest.fixture
def https_receiver(request):
    """A receiver over HTTPS by name, as the `https` kind of `receiver` (alongside it)."""
    server = _https_receiver(request)
    yield server
    server.close()


def _https_receiver(request):
    from tests.support import tls
    from tests.support.receiver import Receiver

    testhosts.require()
    request.getfixturevalue("tls_ca_bundle")
    certs = {testhosts.ALPHA: tls.server_cert(testhosts.ALPHA), testhosts.BETA: tls.server_cert(testhosts.BETA)}
    return Receiver(host="127.0.0.2", tls=certs, name=testhosts.ALPHA)


@pytest.fixture
def tls_ca_bundle(settings):
    """The test CA's PEM file, trusted by this process's sender (WEBHOOK_CA_BUNDLE)."""
    from tests.support import tls

    settings.WEBHOOK_CA_BUNDLE = tls.ca_bundle()
    return settings.WEBHOOK_CA_BUNDLE
