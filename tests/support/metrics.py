"""Read /metrics the way Prometheus does (the client library's own parser)."""

from prometheus_client.parser import text_string_to_metric_families


def scrape(client, **headers) -> dict[tuple, float]:
    """{(sample name, (label, value), ...): value} of one GET /metrics."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return samples


def delta(before: dict, after: dict, name: str, **labels) -> float:
    """How much a sample grew between two scrapes (a series not there yet counts as 0)."""
    key = (name, *sorted(labels.items()))
    return after.get(key, 0) - before.get(key, 0)
