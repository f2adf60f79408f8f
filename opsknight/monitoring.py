"""For load balancers, orchestrators and Prometheus: /healthz, /readyz and /metrics, where
apps add their collectors (`register_collector`) from their AppConfig.ready()."""

# Outside /api/: no API key, no rate limit, and nothing here reveals data (ids, URLs,
# payloads). /healthz: the process answers; /readyz: it reaches the database and Redis.

import hmac
import logging
from functools import lru_cache

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from opsknight.api.errors import error_body

logger = logging.getLogger(__name__)

# A probe must answer well within the load balancer's own timeout.
CHECK_TIMEOUT_SECONDS = 2


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when both the database and Redis (the Celery broker) answer, else 503 with
    the failed check(s). Only the error's class is shown; the log has the message."""
    checks = {"database": _check("database", _ping_database), "redis": _check("redis", _ping_redis)}
    ready = all(result == "ok" for result in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def _check(name: str, ping) -> str:
    try:
        ping()
    except (DatabaseError, redis.RedisError) as error:
        logger.warning("Readiness check failed: %s: %s: %s", name, type(error).__name__, error)
        return f"error: {type(error).__name__}"
    return "ok"


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_redis() -> None:
    _redis_client(settings.CELERY_BROKER_URL).ping()


@lru_cache(maxsize=4)
def _redis_client(url: str) -> redis.Redis:
    # One connection pool per process (per URL), reused by every probe.
    return redis.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS)


# Collectors that compute their figures when scraped (e.g. from the database), added by
# the apps from AppConfig.ready(): this module serves them without importing the apps.
_collectors: list[Collector] = []


def register_collector(collector: Collector) -> None:
    """Serve `collector` on /metrics, after every process's counters. Once per instance."""
    if collector not in _collectors:
        _collectors.append(collector)


def metrics_exposition() -> bytes:
    """The text a scrape gets: the counters every process wrote to PROMETHEUS_MULTIPROC_DIR,
    then the registered collectors' figures."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    for collector in _collectors:
        registry.register(collector)
    return generate_latest(registry)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format. With METRICS_TOKEN set, only for "Bearer <token>"."""
    if settings.METRICS_TOKEN and not _has_metrics_token(request):
        response = JsonResponse(
            error_body(code="not_authenticated", message="Send the METRICS_TOKEN as 'Authorization: Bearer <token>'."),
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)


def _has_metrics_token(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), settings.METRICS_TOKEN.encode())
