"""Real local receivers for notification tests: an HTTP webhook (Apprise's `json://`) and
an SMTP server (aiosmtpd, for `mailto://`), each on a free loopback port in a thread."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class WebhookReceiver:
    """Records every POST; answers each with the next of `statuses` (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)  # delivered (2xx) bodies
    attempts: int = 0
    server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    receiver.attempts += 1
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    if status < 300:
                        receiver.received.append({"path": self.path, **json.loads(body)})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str = "/hook") -> str:
        assert self.server is not None
        return f"json://127.0.0.1:{self.server.server_address[1]}{path}"

    def reset(self) -> None:
        self.statuses.clear()
        self.received.clear()
        self.attempts = 0

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _Handler:
    def __init__(self, box: list[Message]) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.box.append(message)
        return "250 OK"


class _AnyPortController(Controller):
    """aiosmtpd's Controller checks readiness by connecting to `port`: with port 0 it must
    first learn which port the server got."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpReceiver:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.controller = _AnyPortController(_Handler(self.messages), hostname="127.0.0.1", port=0)

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def url(self, to: str = "ops@example.com") -> str:
        # mailto:// (not mailtos://): plain SMTP, no TLS; the host:port is the server.
        return f"mailto://127.0.0.1:{self.controller.port}?from=gatehouse@example.com&to={to}"

    @staticmethod
    def text(message: Message) -> str:
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode()
        return ""

    def stop(self) -> None:
        self.controller.stop()
