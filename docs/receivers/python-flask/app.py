"""An OpsKnight webhook receiver in Flask: `flask --app app run --port 5000`.

The view only hands the raw body and the headers to opsknight_receiver.py, which checks
them, de-duplicates and queues the event, and answers at once."""

from flask import Flask, jsonify, request
from opsknight_receiver import Config, Receiver

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # OpsKnight's bodies are a few KB
receiver = Receiver(Config.from_environment())


@app.post("/hooks/opsknight")
def opsknight_webhook():
    # get_data(): the raw bytes, as signed; never re-serialize request.json.
    answer = receiver.receive(request.get_data(), request.headers)
    return jsonify(answer.body), answer.status
