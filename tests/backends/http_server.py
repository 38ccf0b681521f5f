"""A real HTTP server on 127.0.0.1 that plays scripted OpenAI-style answers, for the openai tests.

Each request takes the next queued action (answer with JSON, stream server-sent events, fail
with a status, hang, send garbage); every request is recorded for the test to inspect.
Hostile actions play a server that must not be trusted: one that drops the connection
mid-answer (:func:`drop_mid_stream`), never sends ``[DONE]`` (``sse(done=False)``), floods
64 KB chunks every 10 ms (:func:`flood`), trickles bytes without ever ending a line
(:func:`trickle`), or sends one endless line (:func:`endless_line`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Action = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Recorded:
    path: str
    body: Any
    headers: dict[str, str]
    at: float


def json_answer(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Action:
    return raw_answer(json.dumps(obj).encode(), status, "application/json", headers)


def raw_answer(
    body: bytes,
    status: int = 200,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Action:
    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    return act


def sse(events: Sequence[Any], *, done: bool = True, delay: float = 0.0) -> Action:
    """Stream ``events`` (dicts as JSON, strings as they are) as ``data:`` lines."""

    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(b": keep-alive comment\n\n")
        for event in [*events, *(["[DONE]"] if done else [])]:
            data = event if isinstance(event, str) else json.dumps(event)
            h.wfile.write(f"data: {data}\n\n".encode())
            h.wfile.flush()
            if delay:
                time.sleep(delay)

    return act


def drop_mid_stream(events: Sequence[Any], *, declared: int = 1_000_000) -> Action:
    """Announce ``declared`` bytes, stream ``events``, then close the connection (a crash)."""

    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Content-Length", str(declared))
        h.end_headers()
        for event in events:
            h.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            h.wfile.flush()
        h.close_connection = True

    return act


@dataclass
class Flood:
    """What a :func:`flood` action sent before the client hung up."""

    chunks: int = 0
    bytes: int = 0
    ended: threading.Event = field(default_factory=threading.Event)


def flood(
    record: Flood,
    *,
    size: int = 64 * 1024,
    every: float = 0.01,
    most: int = 3000,
    text: bool = True,
) -> Action:
    """Stream chat chunks of ``size`` characters every ``every`` s until the client hangs up.

    With ``text=False`` the chunks are SSE comments of that size: bytes, but no answer.
    """
    piece = "x" * (size - 1) + " "

    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        try:
            for _ in range(most):
                event = f"data: {json.dumps(chat_chunk(piece))}" if text else f": {piece}"
                line = f"{event}\n\n".encode()
                h.wfile.write(line)
                h.wfile.flush()
                record.chunks += 1
                record.bytes += len(line)
                time.sleep(every)
        finally:
            record.ended.set()

    return act


def trickle(*, every: float = 0.05, most: int = 400) -> Action:
    """Send one byte every ``every`` s, never ending a line (defeats per-read timeouts)."""

    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        h.wfile.write(b'data: {"choices": [{"delta": {"content": "')
        for _ in range(most):
            h.wfile.write(b"z")
            h.wfile.flush()
            time.sleep(every)

    return act


def endless_line(*, size: int = 64 * 1024, most: int = 200) -> Action:
    """Send ``most`` blocks of ``size`` bytes with no line end at all."""

    def act(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        for _ in range(most):
            h.wfile.write(b"y" * size)
            h.wfile.flush()

    return act


def hang(seconds: float) -> Action:
    def act(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)

    return act


def chat_chunk(text: str, finish_reason: str | None = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": {"content": text}}
    if finish_reason is not None:
        choice["finish_reason"] = finish_reason
    return {"object": "chat.completion.chunk", "choices": [choice]}


def text_chunk(text: str) -> dict[str, Any]:
    return {"object": "text_completion", "choices": [{"index": 0, "text": text}]}


class ScriptedServer:
    """ThreadingHTTPServer on a free loopback port, running in a daemon thread."""

    def __init__(self) -> None:
        self.actions: deque[Action] = deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw
                with script._lock:
                    script.requests.append(
                        Recorded(self.path, body, dict(self.headers.items()), time.monotonic())
                    )
                    action = script.actions.popleft() if script.actions else None
                if action is None:
                    json_answer({"error": {"message": "no scripted answer"}}, 599)(self)
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    action(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def queue(self, *actions: Action) -> None:
        with self._lock:
            self.actions.extend(actions)

    def reset(self) -> None:
        with self._lock:
            self.actions.clear()
            self.requests.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
