"""A receiver written the way incident.io's users write theirs, knowing nothing of
OpsKnight: a Flask view that verifies with `svix`, validates the envelope of the one event
it handles (`public_incident.incident_updated_v2`) with marshmallow, reads the status
category, and on a closed incident notifies its lead by Slack user id. Served on 127.0.0.1."""

import threading

from flask import Flask, request
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate
from svix.webhooks import Webhook, WebhookVerificationError
from werkzeug.serving import make_server

INCIDENT_UPDATED = "public_incident.incident_updated_v2"


class IncidentStatus(Schema):
    class Meta:
        unknown = INCLUDE

    id = fields.Str(required=True)
    name = fields.Str(required=True)
    category = fields.Str(required=True)


class Incident(Schema):
    class Meta:
        unknown = INCLUDE

    id = fields.Str(required=True)
    reference = fields.Str(required=True)
    name = fields.Str(required=True)
    permalink = fields.Str(required=True)
    incident_status = fields.Nested(IncidentStatus, required=True)
    incident_role_assignments = fields.List(fields.Dict(), required=True)


class IncidentUpdatedEvent(Schema):
    """The envelope: `{"event_type": ..., "public_incident.incident_updated_v2": {...}}`."""

    event_type = fields.Str(required=True, validate=validate.Equal(INCIDENT_UPDATED))
    incident = fields.Nested(Incident, required=True, data_key=INCIDENT_UPDATED)


def create_app(signing_secret: str) -> Flask:
    app = Flask(__name__)
    app.config["SEEN"] = []
    app.config["PAGED_LEADS"] = []

    @app.post("/incident-io")
    def incident_io_webhook():
        try:
            Webhook(signing_secret).verify(request.get_data(), request.headers)
        except WebhookVerificationError:
            return {"error": "invalid signature"}, 400
        try:
            event = IncidentUpdatedEvent().load(request.get_json())
        except ValidationError as error:
            return {"errors": error.messages}, 422
        incident = event["incident"]
        category = incident["incident_status"]["category"]
        app.config["SEEN"].append(
            {
                "webhook_id": request.headers["webhook-id"],
                "reference": incident["reference"],
                "status": incident["incident_status"]["name"],
                "category": category,
            }
        )
        if category == "closed":
            for assignment in incident["incident_role_assignments"]:
                if assignment["role"]["role_type"] == "lead":
                    # In production: Slack's chat.postMessage to this user.
                    app.config["PAGED_LEADS"].append((incident["reference"], assignment["assignee"]["slack_user_id"]))
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

    @property
    def paged_leads(self) -> list[tuple[str, str]]:
        return list(self.app.config["PAGED_LEADS"])

    def close(self) -> None:
        self.server.shutdown()
