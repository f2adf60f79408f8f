"""A receiver written the way incident.io's users write theirs: a Flask view that
verifies the request with the `svix` package (unmodified) and reads the incident's
status and role assignments. Served for real on 127.0.0.1 for the e2e tests."""

import threading

from flask import Flask, request
from svix.webhooks import Webhook, WebhookVerificationError
from werkzeug.serving import make_server


def create_app(signing_secret: str) -> Flask:
    app = Flask(__name__)
    app.config["SEEN"] = []

    @app.post("/incident-io")
    def incident_io_webhook():
        try:
            Webhook(signing_secret).verify(request.get_data(), request.headers)
        except WebhookVerificationError:
            return {"error": "invalid signature"}, 400
        payload = request.get_json()
        event_type = payload["event_type"]
        data = payload[event_type]
        if event_type.startswith("private_incident."):
            # Private incidents carry only an id: fetch the rest through the API.
            app.config["SEEN"].append({"event_type": event_type, "id": data["id"]})
            return "", 204
        incident = data["incident"] if event_type.endswith("status_updated_v2") else data
        lead = next(
            (
                assignment["assignee"]["email"]
                for assignment in incident["incident_role_assignments"]
                if assignment["role"]["role_type"] == "lead" and "assignee" in assignment
            ),
            None,
        )
        app.config["SEEN"].append(
            {
                "event_type": event_type,
                "id": incident["id"],
                "status": incident["incident_status"]["name"],
                "category": incident["incident_status"]["category"],
                "previous_status": data["previous_status"]["name"] if "previous_status" in data else None,
                "severity": incident["severity"]["name"],
                "lead": lead,
                "webhook_id": request.headers["webhook-id"],
            }
        )
        return "", 204

    return app


class IncidentIoReceiver:
    def __init__(self, signing_secret: str):
        self.app = create_app(signing_secret)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/incident-io"

    @property
    def seen(self) -> list[dict]:
        return list(self.app.config["SEEN"])

    def close(self) -> None:
        self.server.shutdown()
