"""/healthz and /readyz for load balancers, /metrics' collector registry, and the log formatters (LOG_FORMAT)."""

import ast
import importlib
import json
import logging
import socket
import sys
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import OperationalError
from django.test import override_settings
from prometheus_client.core import GaugeMetricFamily

from opsknight import monitoring
from opsknight.logs import JsonFormatter, TextFormatter


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_healthz_answers_without_touching_the_database_or_redis(client):
    # No django_db mark: any database access here would raise.
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_the_database_and_redis_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_and_names_redis_when_redis_is_unreachable(client, caplog):
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": "ok", "redis": "error: ConnectionError"}
    assert "Readiness check failed: redis" in caplog.text


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_database_when_it_is_unreachable(client):
    # The shared test database cannot be stopped here: the ping is made to fail as a
    # lost connection would.
    lost = OperationalError("connection to server at 127.0.0.1 failed")
    with mock.patch.object(monitoring, "_ping_database", side_effect=lost):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "error: OperationalError", "redis": "ok"}
    assert "127.0.0.1" not in response.content.decode()  # the details are in the log only


def test_probes_answer_get_only(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


# --- Log formatters -------------------------------------------------------------------


def record(message="Could not enqueue %d deliveries", args=(3,), **extra) -> logging.LogRecord:
    made = logging.makeLogRecord(
        {"name": "webhooks.delivery.wakeups", "levelno": logging.WARNING, "levelname": "WARNING"}
    )
    made.msg, made.args = message, args
    made.__dict__.update(extra)
    return made


def test_the_json_formatter_writes_one_object_per_line_with_the_extra_fields():
    line = JsonFormatter().format(record(delivery_id="dlv_1", status=None, duration_ms=12))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "Could not enqueue 3 deliveries"
    assert (parsed["level"], parsed["logger"]) == ("WARNING", "webhooks.delivery.wakeups")
    assert (parsed["delivery_id"], parsed["status"], parsed["duration_ms"]) == ("dlv_1", None, 12)


def test_the_json_formatter_keeps_a_traceback_on_the_same_line():
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record(exc_info=sys.exc_info())
    line = JsonFormatter().format(failed)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_the_text_formatter_appends_the_extra_fields_as_key_value():
    formatter = TextFormatter("%(levelname)s %(name)s %(message)s")
    line = formatter.format(record(delivery_id="dlv_1", status=None, error_class="Read Timeout"))
    assert (
        line == "WARNING webhooks.delivery.wakeups Could not enqueue 3 deliveries "
        'delivery_id=dlv_1 status=- error_class="Read Timeout"'
    )
    assert formatter.format(record()) == "WARNING webhooks.delivery.wakeups Could not enqueue 3 deliveries"


def test_log_format_must_be_json_or_text(monkeypatch):
    import opsknight.settings

    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        importlib.reload(opsknight.settings)
    monkeypatch.setenv("LOG_FORMAT", "text")
    importlib.reload(opsknight.settings)
    assert opsknight.settings.LOGGING["handlers"]["console"]["formatter"] == "text"


def test_metrics_reset_empties_the_metric_directory(settings, tmp_path):
    settings.PROMETHEUS_MULTIPROC_DIR = tmp_path
    (tmp_path / "counter_host-123.db").write_bytes(b"x")
    (tmp_path / "histogram_host-123.db").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not ours")
    out = StringIO()
    call_command("metrics_reset", stdout=out)
    assert f"Removed 2 metric file(s) from {tmp_path}" in out.getvalue()
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.django_db
def test_metrics_serves_the_collectors_apps_register(client, monkeypatch):
    class Answer:
        def collect(self):
            yield GaugeMetricFamily("opsknight_test_answer", "A collector an app registered.", value=42)

    monkeypatch.setattr(monitoring, "_collectors", [])
    answer = Answer()
    monitoring.register_collector(answer)
    monitoring.register_collector(answer)  # once per instance, however often ready() runs
    body = client.get("/metrics").content.decode()
    assert body.count("opsknight_test_answer 42.0") == 1


def test_the_project_package_imports_no_app():
    """Apps import opsknight (API plumbing, errors, monitoring), never the other way round."""
    package = Path(monitoring.__file__).parent
    for path in package.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [n for n in names if n.split(".")[0] in ("incidents", "webhooks")], path
