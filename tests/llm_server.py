"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for the semantic tests.

It runs ``http.server`` in a thread, records every request body, and answers each
``POST /v1/chat/completions`` by calling ``brain(payload)`` on the JSON payload the client
put in the last message. ``brain`` returns a dict (sent as JSON content), a str (sent
as-is: malformed JSON), or ``Sleep(seconds)`` (answer only after that long).
``GET /<name>`` serves ``files[name]`` (a remote cache).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass(frozen=True)
class Sleep:
    seconds: float


class FakeOpenAI:
    def __init__(self, brain: Callable[[dict[str, Any]], Any]) -> None:
        self.brain = brain
        self.requests: list[dict[str, Any]] = []  # path, headers, raw body text
        self.files: dict[str, bytes] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                body = owner.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                owner.requests.append({"path": self.path, "authorization": self.headers.get("Authorization"), "body": raw})
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                    return
                request = json.loads(raw)
                payload = json.loads(request["messages"][-1]["content"])
                answer = owner.brain(payload)
                if isinstance(answer, Sleep):
                    time.sleep(answer.seconds)
                    answer = {"themes": []}
                content = answer if isinstance(answer, str) else json.dumps(answer)
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(owner.requests)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": request.get("model", "test"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def payloads(self, task: str | None = None) -> list[dict[str, Any]]:
        """The JSON payloads of the chat requests (optionally of one task)."""
        out = []
        for r in self.requests:
            if r["path"].endswith("/chat/completions"):
                payload = json.loads(json.loads(r["body"])["messages"][-1]["content"])
                if task is None or payload.get("task") == task:
                    out.append(payload)
        return out
