"""An OpenAI-compatible HTTP server on loopback, scripted per request, for LiteLLM's real HTTP path.

with OpenAIServer() as server:
    server.enqueue(Reply(content="Hi", prompt_tokens=3))
    litellm.completion(model="openai/gpt-4o-mini", api_base=server.base_url,
                       api_key="sk-test", messages=[...])
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from . import openai_payloads as payloads
from .openai_payloads import ErrorReply, Reply
from .openai_responses_payloads import response_events, response_object
from .ports import LOOPBACK
from .servers import CLIENT_GONE, QuietHttpServer, ThreadedHttpServer

__all__ = ["ErrorReply", "OpenAIServer", "RecordedRequest", "Reply"]

DEFAULT_MODELS = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "dall-e-3"]


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lower-case names
    json: Any  # the parsed body (None when it was not JSON)
    method: str = "POST"


class OpenAIServer(ThreadedHttpServer):
    thread_name = "openai-loopback"

    def __init__(self, models: list[str] | None = None) -> None:
        super().__init__()
        self.models = list(models or DEFAULT_MODELS)
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply | ErrorReply] = deque()
        self._drop_next = False
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.client_disconnects = 0  # answers cut short because the client went away

    def _make_server(self, address: tuple[str, int]) -> _OpenAIHttpServer:
        return _OpenAIHttpServer(address, self)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/v1"

    def enqueue(self, *replies: Reply | ErrorReply) -> None:
        """Script the next answers, FIFO across all POST endpoints; a default Reply when empty."""
        with self._lock:
            self._replies.extend(replies)

    def clear(self) -> None:
        """Forget recorded requests, queued replies, a pending connection drop, disconnects."""
        with self._lock:
            self.requests.clear()
            self._replies.clear()
            self._drop_next = False
            self.client_disconnects = 0

    def drop_connection_next(self) -> None:
        """The next request gets its socket closed without any answer."""
        with self._lock:
            self._drop_next = True

    # -- used by the handler ---------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> bool:
        """Record a request; True when its connection must be dropped."""
        with self._lock:
            self.requests.append(request)
            drop, self._drop_next = self._drop_next, False
            return drop

    def _next_reply(self) -> Reply | ErrorReply:
        with self._lock:
            return self._replies.popleft() if self._replies else Reply()

    def _next_number(self) -> int:
        with self._lock:
            return next(self._ids)

    def _client_gone(self) -> None:
        with self._lock:
            self.client_disconnects += 1


class _OpenAIHttpServer(QuietHttpServer):
    """Answers cut short by a client hanging up are counted by the handler itself."""

    def __init__(self, address: tuple[str, int], owner: OpenAIServer) -> None:
        self.owner = owner
        super().__init__(address, _OpenAIHandler)


class _BrokenStream(Exception):
    pass


class _OpenAIHandler(BaseHTTPRequestHandler):
    server: _OpenAIHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- routing ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        owner = self.server.owner
        route = _route(self.path)
        if owner._record(RecordedRequest(self.path, self._headers(), None, "GET")):
            self._drop()
        elif route == "/models":
            self._send_json(200, payloads.models_list(owner.models))
        else:
            self._send_json(404, _not_found(self.path))

    def do_POST(self) -> None:
        owner = self.server.owner
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        if owner._record(RecordedRequest(self.path, self._headers(), body)):
            self._drop()
            return
        route = _route(self.path)
        if route not in _POST_ROUTES:
            self._send_json(404, _not_found(self.path))
            return
        request = body if isinstance(body, dict) else {}
        reply = owner._next_reply()
        if reply.delay:
            time.sleep(reply.delay)
        try:
            if isinstance(reply, ErrorReply):
                extra = {}
                if reply.retry_after is not None:
                    extra["retry-after"] = f"{reply.retry_after:g}"
                self._send_json(reply.status, reply.body(), extra)
            else:
                _POST_ROUTES[route](self, reply, request)
        except _BrokenStream:
            self._drop()
        except CLIENT_GONE:
            self.close_connection = True
            owner._client_gone()

    # -- endpoints -------------------------------------------------------------------------
    def _chat(self, reply: Reply, request: dict[str, Any]) -> None:
        response_id, model = self._identity(reply, request, "chatcmpl")
        if request.get("stream"):
            chunks = payloads.chat_completion_chunks(
                reply, response_id, model, _include_usage(request)
            )
            self._send_sse(reply, ((None, chunk) for chunk in chunks))
        else:
            self._send_json(200, payloads.chat_completion(reply, response_id, model))

    def _completion(self, reply: Reply, request: dict[str, Any]) -> None:
        response_id, model = self._identity(reply, request, "cmpl")
        if request.get("stream"):
            chunks = payloads.text_completion_chunks(
                reply, response_id, model, _include_usage(request)
            )
            self._send_sse(reply, ((None, chunk) for chunk in chunks))
        else:
            self._send_json(200, payloads.text_completion(reply, response_id, model))

    def _embeddings(self, reply: Reply, request: dict[str, Any]) -> None:
        _, model = self._identity(reply, request, "emb")
        self._send_json(200, payloads.embeddings(reply, request, model))

    def _responses(self, reply: Reply, request: dict[str, Any]) -> None:
        response_id, model = self._identity(reply, request, "resp")
        if not request.get("stream"):
            self._send_json(200, response_object(reply, response_id, model, request))
            return
        events = response_events(reply, response_id, model, request)
        numbered = (
            (event["type"], dict(event, sequence_number=number))
            for number, event in enumerate(events)
        )
        self._send_sse(reply, numbered, done_marker=False)

    def _images(self, reply: Reply, request: dict[str, Any]) -> None:
        number = self._next_number()
        url = f"http://{LOOPBACK}:{self.server.owner.port}/images/{number}.png"
        self._send_json(200, payloads.image_generation(reply, request, url))

    # -- plumbing --------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {key.lower(): value for key, value in self.headers.items()}

    def _next_number(self) -> int:
        return self.server.owner._next_number()

    def _identity(self, reply: Reply, request: dict[str, Any], prefix: str) -> tuple[str, str]:
        response_id = reply.id or f"{prefix}-{self._next_number()}"
        model = reply.model or str(request.get("model") or "loopback-model")
        return response_id, model

    def _send_json(self, status: int, body: Any, extra: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", f"req_{self._next_number()}")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_sse(
        self,
        reply: Reply,
        events: Iterable[tuple[str | None, dict[str, Any]]],
        done_marker: bool = True,
    ) -> None:
        """Server-sent events over chunked transfer encoding, as api.openai.com sends them."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", f"req_{self._next_number()}")
        self.end_headers()
        for sent, (event_name, data) in enumerate(events):
            if reply.break_stream_after is not None and sent >= reply.break_stream_after:
                raise _BrokenStream
            prefix = f"event: {event_name}\n" if event_name else ""
            self._write_chunk(f"{prefix}data: {json.dumps(data)}\n\n".encode())
            if reply.chunk_delay:
                time.sleep(reply.chunk_delay)
        if done_marker:
            self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


_POST_ROUTES = {
    "/chat/completions": _OpenAIHandler._chat,
    "/completions": _OpenAIHandler._completion,
    "/embeddings": _OpenAIHandler._embeddings,
    "/responses": _OpenAIHandler._responses,
    "/images/generations": _OpenAIHandler._images,
}


def _route(path: str) -> str:
    """ "/v1/chat/completions?x=1" -> "/chat/completions" (the /v1 prefix is optional)."""
    bare = path.split("?", 1)[0].rstrip("/")
    return bare[3:] if bare.startswith("/v1/") else bare


def _include_usage(request: dict[str, Any]) -> bool:
    options = request.get("stream_options") or {}
    return bool(isinstance(options, dict) and options.get("include_usage"))


def _not_found(path: str) -> dict[str, Any]:
    return ErrorReply(404, f"Unknown path {path}", "invalid_request_error").body()
