"""The secret shown once, with POST/redirect/GET: a creation or a rotation leaves a one-time
ticket in the session (endpoint ids and a keyed fingerprint of each new secret, never the
secret) and redirects to a page that redeems it, so a reload repeats nothing and shows nothing."""

import secrets
import time
from dataclasses import dataclass

from django.utils.crypto import constant_time_compare, salted_hmac

from webhooks.models import WebhookEndpoint

SESSION_KEY = "webhooks_secret_tickets"
# The redirect is followed at once; a ticket nobody redeemed soon after is dropped.
TICKET_SECONDS = 600
MAX_TICKETS = 10


@dataclass(frozen=True)
class Shown:
    endpoints: list[WebhookEndpoint]
    created: bool


def _fingerprint(secret: str) -> str:
    # Keyed with SECRET_KEY: the session table learns nothing that helps guess a typed secret.
    return salted_hmac("webhooks.admin.secrets", secret).hexdigest()


def secret_ticket_issue(*, session, endpoints: list[WebhookEndpoint], created: bool) -> str:
    """Remember that these endpoints' current secrets may be shown once, in this session."""
    token = secrets.token_urlsafe(16)
    now = time.time()
    tickets = {k: v for k, v in session.get(SESSION_KEY, {}).items() if now - v["issued"] < TICKET_SECONDS}
    tickets[token] = {
        "endpoints": [[endpoint.pk, _fingerprint(endpoint.secret)] for endpoint in endpoints],
        "created": created,
        "issued": now,
    }
    session[SESSION_KEY] = dict(sorted(tickets.items(), key=lambda item: item[1]["issued"])[-MAX_TICKETS:])
    return token


def secret_ticket_redeem(*, session, token: str) -> Shown | None:
    """The endpoints whose secret the ticket shows, once: the ticket is gone afterwards. None
    for an unknown, used or old ticket. An endpoint whose secret changed since (rotated
    again) is left out: only the secret the ticket was issued for is ever shown."""
    tickets = dict(session.get(SESSION_KEY, {}))
    ticket = tickets.pop(token, None)
    session[SESSION_KEY] = tickets
    if ticket is None or time.time() - ticket["issued"] >= TICKET_SECONDS:
        return None
    stored = WebhookEndpoint.objects.in_bulk([pk for pk, _ in ticket["endpoints"]])
    shown = [
        stored[pk]
        for pk, fingerprint in ticket["endpoints"]
        if pk in stored and constant_time_compare(_fingerprint(stored[pk].secret), fingerprint)
    ]
    return Shown(endpoints=shown, created=ticket["created"]) if shown else None
