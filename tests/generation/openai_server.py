"""A tiny real OpenAI-compatible HTTP server on 127.0.0.1 for tests: /v1/models and /v1/chat/completions (SSE streaming)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class FakeLLMServer:
    """`reply(messages) -> text` decides the answer; `behaviour` is one of ok, slow, error, hang_midstream."""

    def __init__(self, reply: Callable[[list[dict]], str] | None = None, behaviour: str = "ok", delay_s: float = 0.0):
        self.reply = reply or (lambda messages: "The answer is in the passages [1].")
        self.behaviour = behaviour
        self.delay_s = delay_s
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.rstrip("/").endswith("/v1/models"):
                    self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "test"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(body)
                if server.behaviour == "error":
                    self._json(500, {"error": {"message": "model crashed", "type": "server_error"}})
                    return
                if server.behaviour == "slow":
                    time.sleep(server.delay_s)
                text = server.reply(body.get("messages", []))
                if not body.get("stream"):
                    self._json(200, {
                        "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body.get("model"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 11, "completion_tokens": len(text.split()), "total_tokens": 11 + len(text.split())},
                    })
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                words = text.split(" ")
                try:
                    for i, word in enumerate(words):
                        piece = word if i == 0 else " " + word
                        self._event({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}, body)
                        if server.behaviour == "hang_midstream" and i == 1:
                            time.sleep(server.delay_s)
                    self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, body)
                    self._event({"choices": [], "usage": {"prompt_tokens": 123, "completion_tokens": len(words), "total_tokens": 123 + len(words)}}, body)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _event(self, payload: dict, body: dict) -> None:
                payload = {"id": "chunk-1", "object": "chat.completion.chunk", "created": 0, "model": body.get("model"), **payload}
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeLLMServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def chat_requests(self) -> list[dict]:
        return self.requests


def closed_port_url() -> str:
    """A loopback URL nothing listens on (bound then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
