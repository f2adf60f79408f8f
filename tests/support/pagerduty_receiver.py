"""A receiver written against PagerDuty's v3 webhook docs: a Flask view that verifies
`X-PagerDuty-Signature` as the docs' "Verifying Signatures" page shows, then reads the
envelope as a PagerDuty consumer does. Served for real on 127.0.0.1."""

import hashlib
import hmac
import threading

from flask import Flask, request
from werkzeug.serving import make_server


class PagerDutyVerifier:
    """The docs' Python example, as published (an ASCII key, `v1=` + hex, split on `,`,
    each compared in constant time)."""

    def __init__(self, key, version):
        self.key = key
        self.version = version

    def verify(self, payload, signatures):
        comparisons = []
        byte_key = self.key.encode("ASCII")
        signature = hmac.new(byte_key, payload.encode(), hashlib.sha256).hexdigest()
        signature_with_version = self.version + "=" + signature
        signature_list = signatures.split(",")

        for _signature in signature_list:
            comparisons.append(hmac.compare_digest(signature_with_version, _signature))

        return any(comparisons)


def create_app(secret: str) -> Flask:
    app = Flask(__name__)
    app.config["SEEN"] = []
    verifier = PagerDutyVerifier(secret, "v1")

    @app.post("/pagerduty")
    def pagerduty_webhook():
        payload = request.get_data().decode("utf-8")
        if not verifier.verify(payload, request.headers.get("X-PagerDuty-Signature", "")):
            return {"error": "invalid signature"}, 403
        event = request.get_json()["event"]
        seen = {
            "event_type": event["event_type"],
            "event_id": event["id"],
            "occurred_at": event["occurred_at"],
            "webhook_id": request.headers["X-Webhook-Id"],
            "subscription": request.headers["X-Webhook-Subscription"],
            "agent": event["agent"]["summary"] if event["agent"] else None,
        }
        if event["event_type"] == "pagey.ping":
            app.config["SEEN"].append({**seen, "message": event["data"]["message"]})
            return "", 204
        data = event["data"]
        seen["incident_id"] = data["id"]
        seen["self"] = data["self"]
        if "title" in data:
            # What an ITSM connector puts on its ticket.
            seen.update(
                number=data["number"],
                title=data["title"],
                status=data["status"],
                urgency=data["urgency"],
                priority=data["priority"]["summary"] if data["priority"] else None,
                service=data["service"]["summary"],
                assignee=data["assignees"][0]["summary"] if data["assignees"] else None,
                escalation_policy=data["escalation_policy"]["summary"],
                html_url=data["html_url"],
            )
        # Otherwise the details are to be fetched from data["self"] (OpsKnight's private incidents).
        app.config["SEEN"].append(seen)
        return "", 202

    return app


class PagerDutyReceiver:
    def __init__(self, secret: str):
        self.app = create_app(secret)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/pagerduty"

    @property
    def seen(self) -> list[dict]:
        return list(self.app.config["SEEN"])

    def close(self) -> None:
        self.server.shutdown()
