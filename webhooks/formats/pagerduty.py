"""`pagerduty`: PagerDuty's v3 webhook (`{"event": {...}}`, signed with `X-PagerDuty-Signature`),
so a receiver written against PagerDuty's webhook docs works unchanged. Mapping: docs/formats.md."""

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlsplit

from opsknight.ids import new_id
from webhooks.formats.common import RenderContext, check_options, dumps
from webhooks.formats.opsknight import iso_z
from webhooks.formats.rendered import RenderedMessage

# PagerDuty's names for the five OpsKnight events are the same words; endpoints of this
# format subscribe in them.
EVENT_TYPES = (
    "incident.triggered",
    "incident.acknowledged",
    "incident.escalated",
    "incident.resolved",
    "incident.reopened",
)
# PagerDuty has two urgencies; its default account priorities are P1 (highest) to P5.
URGENCIES = {"critical": "high", "high": "high", "medium": "low", "low": "low", "info": "low"}
PRIORITIES = {"critical": "P1", "high": "P2", "medium": "P3", "low": "P4", "info": "P5"}
# Where the event comes from (PagerDuty's own events say `{"name": "PagerDuty"}`).
CLIENT = {"name": "OpsKnight"}
# PagerDuty's base incident type, the one every incident has unless typed otherwise.
INCIDENT_TYPE = {"name": "incident_default"}
# OpsKnight has escalation levels, not policies: every incident is on this one.
ESCALATION_POLICY = {
    "html_url": None,
    "id": "default",
    "self": None,
    "summary": "Default",
    "type": "escalation_policy_reference",
}
# PagerDuty incidents are always on a service; OpsKnight's may be on none.
NO_SERVICE = {"html_url": None, "id": "none", "self": None, "summary": "No service", "type": "service_reference"}
# OpsKnight actor types → PagerDuty agent reference types (the system is no agent: null).
AGENT_TYPES = {"user": "user_reference", "api_key": "integration_reference"}
PING_MESSAGE = "Hello from your friend Pagey!"
# PagerDuty signs with an HMAC of a shared secret only (no public-key scheme).
SHARED_SECRET_NEEDED = (
    "PagerDuty receivers verify X-PagerDuty-Signature, an HMAC of the shared secret (PagerDuty has "
    "no public-key signature)"
)


def validate_options(options) -> dict:
    return check_options(options, {})


def reference(type_: str, id_: str, summary: str | None, *, api_url: str | None = None, html_url: str | None = None):
    """A PagerDuty resource reference (`self` is its API URL), keys in PagerDuty's order."""
    return {"html_url": html_url, "id": id_, "self": api_url, "summary": summary, "type": type_}


def base_url(context: RenderContext, incident_id: str) -> str:
    """PUBLIC_BASE_URL, read off the incident's page (PUBLIC_BASE_URL + its admin page)."""
    page = f"/admin/incidents/incident/{incident_id}/change/"
    if context.incident_url.endswith(page):
        return context.incident_url.removesuffix(page)
    parts = urlsplit(context.incident_url)
    return f"{parts.scheme}://{parts.netloc}"


def person(assignee) -> dict | None:
    """The assignee as a person: a dict (`id`, `name`, `email`...), or the plain text
    older OpsKnight bodies carry."""
    if not assignee:
        return None
    if isinstance(assignee, str):
        return {"id": None, "name": assignee}
    return assignee


def assignee_reference(assignee: dict, base: str) -> dict:
    """A responder by its id; an assignee that matched no responder by its text (it has
    no page, so no URLs)."""
    if assignee.get("id"):
        return reference(
            "user_reference",
            assignee["id"],
            assignee.get("name"),
            api_url=f"{base}/api/v1/responders/{assignee['id']}",
            html_url=f"{base}/admin/incidents/responder/{assignee['id']}/change/",
        )
    return reference("user_reference", assignee["name"], assignee["name"])


def agent(event: dict) -> dict | None:
    """Who made the change: the event's `actor` (the incident's creator for a trigger,
    from bodies without one). Null for the system and for an actor without a name (a
    private incident's), as PagerDuty sends null for automation."""
    actor = event.get("actor")
    if actor is None and event["event"] == "incident.triggered":
        actor = event["incident"].get("createdBy")
    if not isinstance(actor, dict) or actor.get("type") not in AGENT_TYPES or not actor.get("id"):
        return None
    return reference(AGENT_TYPES[actor["type"]], actor["id"], actor.get("name"))


def service_reference(service: dict, base: str) -> dict:
    return reference(
        "service_reference",
        service["id"],
        service.get("name"),
        api_url=f"{base}/api/v1/services/{service['id']}",
        html_url=f"{base}/admin/incidents/service/{service['id']}/change/",
    )


def priority(severity: str | None) -> dict | None:
    name = PRIORITIES.get(severity or "")
    return reference("priority_reference", name, name) if name else None


def incident_data(event: dict, context: RenderContext) -> dict:
    """The `incident` data type of PagerDuty's docs, key for key."""
    incident = event["incident"]
    incident_id = incident["id"]
    base = base_url(context, incident_id)
    links = {
        "id": incident_id,
        "type": "incident",
        "self": f"{base}/api/v1/incidents/{incident_id}",
        "html_url": context.incident_url,
    }
    if incident.get("visibility") == "private":
        # Only what the OpsKnight body has: receivers fetch the rest from `self`.
        return links
    service = incident.get("service")
    assignee = person(incident.get("assignee"))
    severity = incident.get("severity")
    return {
        **links,
        "number": incident.get("number"),
        "status": incident["status"],
        "incident_key": incident_id,
        "created_at": incident.get("createdAt"),
        "reopened_at": event["timestamp"] if event["event"] == "incident.reopened" else None,
        "title": incident.get("title") or "",
        "incident_type": INCIDENT_TYPE,
        "service": service_reference(service, base) if service else NO_SERVICE,
        # A resolved PagerDuty incident has no assignments left.
        "assignees": [assignee_reference(assignee, base)] if assignee and incident["status"] != "resolved" else [],
        "escalation_policy": ESCALATION_POLICY,
        "teams": [],
        "priority": priority(severity),
        "urgency": URGENCIES.get(severity or "", "high"),
        "conference_bridge": None,
        "resolve_reason": None,
    }


def envelope(*, event_id: str, event_type: str, resource_type: str, occurred_at, agent_, client, data) -> dict:
    return {
        "event": {
            "id": event_id,
            "event_type": event_type,
            "resource_type": resource_type,
            "occurred_at": occurred_at,
            "agent": agent_,
            "client": client,
            "data": data,
        }
    }


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    return dumps(
        envelope(
            event_id=event["id"],
            event_type=event["event"],
            resource_type="incident",
            occurred_at=event["timestamp"],
            agent_=agent(event),
            client=CLIENT,
            data=incident_data(event, context),
        )
    )


def ping_body(*, event_id: str, occurred_at: str) -> bytes:
    """PagerDuty's `pagey.ping`, what it sends when a subscription is tested."""
    return dumps(
        envelope(
            event_id=event_id,
            event_type="pagey.ping",
            resource_type="pagey",
            occurred_at=occurred_at,
            agent_=None,
            client=None,
            data={"message": PING_MESSAGE, "type": "ping"},
        )
    )


def test_messages(options: dict, context: RenderContext) -> list[RenderedMessage]:
    """Send Test sends a ping, as PagerDuty's "Send Test Event" does: a new id, now."""
    body = ping_body(event_id=new_id("evt"), occurred_at=iso_z(datetime.now(UTC)))
    return [RenderedMessage(type="pagey.ping", body=body)]


def signature(*, body: bytes, secrets: list[str]) -> str:
    """`v1=<hex HMAC-SHA256(secret as UTF-8, raw body)>` per secret (current first),
    comma-separated without spaces, as PagerDuty's verifiers split them."""
    return ",".join("v1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest() for secret in secrets)


def headers(*, message_id: str, body: bytes, secrets: list[str], endpoint_id: str) -> dict[str, str]:
    return {
        "X-PagerDuty-Signature": signature(body=body, secrets=secrets),
        "X-Webhook-Id": message_id,
        "X-Webhook-Subscription": endpoint_id,
    }
