"""A tiny ITSM receiver for OpsKnight webhooks: it opens a ticket on incident.triggered,
links the ticket back to the incident, and finds it again through the payload's
`externalLinks` on later events, so it keeps no incident-to-ticket table of its own.

Standard library only. `TicketDesk` stands in for Jira or ServiceNow: replace its three
methods with calls to your tool's API. Run it with:
    OPSKNIGHT_URL=http://127.0.0.1:8000 KEY=<API key with incidents:write> \\
    WEBHOOK_SECRET=<the endpoint's secret> python3 itsm_receiver.py
"""

import hashlib
import hmac
import itertools
import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SYSTEM = "itsm"  # the `system` of the links this receiver adds
TICKET_STATUS = {
    "incident.acknowledged": "In Progress",
    "incident.resolved": "Resolved",
    "incident.reopened": "Reopened",
}


class TicketDesk:
    """Tickets in memory, keyed ITSM-1, ITSM-2, ..."""

    def __init__(self, base_url: str = "https://itsm.example.com/tickets/"):
        self.base_url = base_url
        self.tickets: dict[str, dict] = {}
        self._numbers = itertools.count(1)

    def create(self, *, title: str, correlation_id: str) -> dict:
        key = f"ITSM-{next(self._numbers)}"
        ticket = {"key": key, "title": title, "status": "New", "correlation_id": correlation_id}
        ticket["url"] = self.base_url + key
        self.tickets[key] = ticket
        return ticket

    def find(self, *, correlation_id: str) -> dict | None:
        # Most ticketing tools can search by a correlation field; used only as a fallback.
        return next((t for t in self.tickets.values() if t["correlation_id"] == correlation_id), None)

    def update(self, key: str, *, status: str) -> None:
        self.tickets[key]["status"] = status


class OpsKnight:
    def __init__(self, url: str, api_key: str):
        self.url, self.api_key = url.rstrip("/"), api_key

    def link(self, incident_id: str, *, key: str, url: str) -> dict:
        """POST /api/v1/incidents/{id}/links: idempotent on system + key, so a retry is safe."""
        body = json.dumps({"system": SYSTEM, "key": key, "url": url}).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v1/incidents/{incident_id}/links",
            data=body,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)


def signature_ok(body: bytes, header: str, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header or "")


def handle(event: dict, *, desk: TicketDesk, opsknight: OpsKnight) -> None:
    incident = event["incident"]
    if "title" not in incident:
        return  # a private incident: fetch it with GET /api/v1/incidents/{id} if you need it
    if event["event"] == "incident.triggered":
        # A retried delivery must not open a second ticket.
        ticket = desk.find(correlation_id=incident["id"]) or desk.create(
            title=incident["title"], correlation_id=incident["id"]
        )
        opsknight.link(incident["id"], key=ticket["key"], url=ticket["url"])
        return
    status = TICKET_STATUS.get(event["event"])
    if status is None:
        return
    keys = [link["key"] for link in incident["externalLinks"] if link["system"] == SYSTEM]
    if not keys:
        # The change happened before our link was added: its payload has no link yet.
        ticket = desk.find(correlation_id=incident["id"])
        keys = [ticket["key"]] if ticket else []
    for key in keys:
        desk.update(key, status=status)


def make_server(*, host: str, port: int, secret: str, desk: TicketDesk, opsknight: OpsKnight):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not signature_ok(body, self.headers.get("X-OpsKnight-Signature"), secret):
                self.send_response(401)
            else:
                try:
                    handle(json.loads(body), desk=desk, opsknight=opsknight)
                    self.send_response(204)
                except Exception:  # noqa: BLE001 - any failure: answer 500 so OpsKnight retries
                    self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return ThreadingHTTPServer((host, port), Handler)


if __name__ == "__main__":
    server = make_server(
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "8080")),
        secret=os.environ["WEBHOOK_SECRET"],
        desk=TicketDesk(),
        opsknight=OpsKnight(os.environ.get("OPSKNIGHT_URL", "http://127.0.0.1:8000"), os.environ["KEY"]),
    )
    server.serve_forever()
