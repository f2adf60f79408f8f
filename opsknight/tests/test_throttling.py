"""Per-key rate limiting on the Redis cache: 429 with Retry-After, one budget per key,
and the API keeps answering when the cache is down."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def limit(settings):
    settings.API_RATE_LIMIT = "3/min"
    return settings


def test_over_the_limit_answers_429_with_retry_after(limit, make_api_client):
    client = make_api_client()
    assert [client.get("/api/v1/incidents").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/api/v1/incidents")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "throttled"
    assert "Expected available in" in response.json()["error"]["message"]


def test_each_key_has_its_own_budget(limit, make_api_client):
    first, second = make_api_client(), make_api_client()
    for _ in range(3):
        first.get("/api/v1/incidents")
    assert first.get("/api/v1/incidents").status_code == 429
    assert second.get("/api/v1/incidents").status_code == 200


def test_an_unreachable_cache_lets_requests_through(limit, settings, make_api_client):
    # Django resets its cache handler when the setting changes (django.test.signals).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    client = make_api_client()
    assert [client.get("/api/v1/incidents").status_code for _ in range(5)] == [200] * 5
