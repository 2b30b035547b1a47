"""A loopback stand-in for an MLflow tracking server's experiment API and OTLP route, answering
as MLflow 3.5 and 3.6 do (mlflow/server/otel_api.py of those releases): ``Content-Encoding`` is
not looked at, so a gzip body is parsed as protobuf and refused with 400; a request without
``resource_spans`` is refused with 400; spans of more than one trace in a request are refused
with 422 by a 3.5 server; anything else is stored (here: counted) and answered 200.

``refuse_spans``: also answer 400 to every request holding spans, as a misconfigured proxy in
front of a server would, while the bridge's start-up check (no spans) passes. ``refuse_all``:
answer 400 to every OTLP request, as no MLflow release does.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from .servers import ThreadedHttpServer


class OldMlflowStub(ThreadedHttpServer):
    thread_name = "old-mlflow-stub"

    def __init__(
        self, version: str = "3.5.0", *, refuse_spans: bool = False, refuse_all: bool = False
    ) -> None:
        super().__init__()
        self.version = version
        self.refuse_spans = refuse_spans
        self.refuse_all = refuse_all
        self.span_names: list[str] = []
        self.encodings: list[str | None] = []  # Content-Encoding of each OTLP request
        self.refused = 0  # OTLP requests answered 4xx
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/version":
                    self._reply(200, stub.version.encode(), "text/plain")
                elif url.path.startswith("/api/2.0/mlflow/experiments/get"):
                    name = parse_qs(url.query).get("experiment_name", ["Default"])[0]
                    body = {"experiment": {"experiment_id": "1", "name": name}}
                    self._reply(200, json.dumps(body).encode(), "application/json")
                else:
                    self._reply(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/traces":
                    self._reply(404, b"not found", "text/plain")
                    return
                if "x-mlflow-experiment-id" not in self.headers:
                    self._reply(422, b'{"detail": "header missing"}', "application/json")
                    return
                if stub.refuse_all:
                    self._refuse("not today")
                    return
                request = ExportTraceServiceRequest()
                try:
                    request.ParseFromString(body)
                except DecodeError:
                    self._refuse("Invalid OpenTelemetry protobuf format")
                    return
                if not request.resource_spans:
                    self._refuse("Invalid OpenTelemetry protobuf format - no spans found")
                    return
                spans = [
                    span
                    for resource in request.resource_spans
                    for scope in resource.scope_spans
                    for span in scope.spans
                ]
                names = [span.name for span in spans]
                if len({span.trace_id for span in spans}) > 1 and stub.version.startswith("3.5"):
                    detail = "Cannot store OpenTelemetry spans: All spans must belong to the same"
                    stub.refused += 1
                    self._reply(422, json.dumps({"detail": detail + " trace"}).encode(), "json")
                    return
                with stub._lock:
                    stub.encodings.append(self.headers.get("Content-Encoding"))
                    if names and stub.refuse_spans:
                        self._refuse("refused by the proxy")
                        return
                    stub.span_names += names
                self._reply(200, b"", "application/x-protobuf")

            def _refuse(self, detail: str) -> None:
                stub.refused += 1
                self._reply(400, json.dumps({"detail": detail}).encode(), "application/json")

            def _reply(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return ThreadingHTTPServer(address, Handler)
