"""Chat platform simulators: one real HTTP server on 127.0.0.1 per platform that checks
each body by that platform's published rules and answers as the platform does.

    slack = PlatformSimulator("slack")
    endpoint_create(name="s", url=slack.url("/hook"), format="slack")
    ...
    slack.accepted   # what people would see of each accepted message (a Seen)
    slack.refused    # (body, Verdict) of each refused one
    slack.close()

Each platform module has `check(body: bytes, headers: dict) -> Verdict`; the checks can
be called directly too (`check_body("discord", body)`), without a server.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.chat_platforms import discord, google_chat, slack, teams, telegram
from tests.support.chat_platforms.base import Seen, Verdict

PLATFORMS = {"slack": slack, "msteams": teams, "google_chat": google_chat, "discord": discord, "telegram": telegram}


def check_body(platform: str, body: bytes, headers: dict | None = None) -> Verdict:
    return PLATFORMS[platform].check(body, headers or {"Content-Type": "application/json"})


class PlatformSimulator:
    def __init__(self, platform: str):
        self.platform = platform
        self.accepted: list[Seen] = []
        self.refused: list[tuple[bytes, Verdict]] = []
        self._lock = threading.Lock()
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                verdict = check_body(platform, body, dict(self.headers.items()))
                with simulator._lock:
                    if verdict.ok:
                        simulator.accepted.append(verdict.seen)
                    else:
                        simulator.refused.append((body, verdict))
                self.send_response(verdict.status)
                self.send_header("Content-Type", verdict.content_type)
                self.send_header("Content-Length", str(len(verdict.body)))
                self.end_headers()
                self.wfile.write(verdict.body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


__all__ = ["PLATFORMS", "PlatformSimulator", "Seen", "Verdict", "check_body"]
