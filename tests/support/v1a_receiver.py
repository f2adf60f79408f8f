"""A receiver that trusts public keys only: a Flask view that verifies `v1a` with its list
of `whpk_` keys (tests/support/standard_webhooks_v1a.py), answers 401 to anything else,
and records what it accepted. Served for real on 127.0.0.1."""

import threading

from flask import Flask, request
from werkzeug.serving import make_server

from tests.support.standard_webhooks_v1a import AsymmetricWebhook, WebhookVerificationError


def create_app(public_keys: list[str]) -> Flask:
    app = Flask(__name__)
    app.config["SEEN"], app.config["REFUSED"] = [], []
    verifiers = [AsymmetricWebhook(key) for key in public_keys]

    @app.post("/v1a")
    def webhook():
        body, headers = request.get_data(), dict(request.headers)
        for verifier in verifiers:
            try:
                event = verifier.verify(body, headers)
            except WebhookVerificationError:
                continue
            app.config["SEEN"].append({"event": event, "headers": headers})
            return "", 204
        app.config["REFUSED"].append(headers)
        return {"error": "no valid v1a signature"}, 401

    return app


class V1aReceiver:
    def __init__(self, public_keys: list[str]):
        self.app = create_app(public_keys)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1a"

    @property
    def seen(self) -> list[dict]:
        return list(self.app.config["SEEN"])

    @property
    def refused(self) -> list[dict]:
        return list(self.app.config["REFUSED"])

    def close(self) -> None:
        self.server.shutdown()
