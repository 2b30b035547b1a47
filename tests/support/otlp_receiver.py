"""A real OTLP receiver on loopback, traces and metrics: gRPC (official service definitions) and
OTLP/HTTP (POST /v1/traces, /v1/metrics).

with OtlpReceiver() as receiver:
    exporter = OTLPSpanExporter(endpoint=receiver.grpc_endpoint, insecure=True)
    ...
    [span] = receiver.wait_for_spans(1)
    points = receiver.wait_for_histograms(lambda p: p.name == "gen_ai.client.operation.duration")

with OtlpReceiver(tls=make_tls_files(tmp_path).server_tls()) as receiver:  # tests.support.tls
    ...  # both sides speak TLS (gRPC with TLS, https); grpc_endpoint / http_endpoint say https
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, NamedTuple

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .otlp_decode import (
    Protocol,
    ReceivedSpan,
    request_from_otlp_json,
    spans_from_request,
)
from .otlp_faults import Fault, FaultPlan
from .otlp_metrics import HistogramPoint, histograms_from_request
from .ports import LOOPBACK
from .servers import QuietHttpServer, ThreadedHttpServer

if TYPE_CHECKING:
    from .tls import ServerTls

__all__ = ["HistogramPoint", "OtlpReceiver", "ReceivedRequest", "ReceivedSpan"]

TRACES_PATH = "/v1/traces"
METRICS_PATH = "/v1/metrics"
SpanPredicate = Callable[[ReceivedSpan], bool]
PointPredicate = Callable[[HistogramPoint], bool]


class ReceivedRequest(NamedTuple):
    protocol: Protocol
    headers: dict[str, str]
    request: ExportTraceServiceRequest


class OtlpReceiver(ThreadedHttpServer):
    """In-process OTLP/gRPC + OTLP/HTTP trace receiver bound to 127.0.0.1 on OS-chosen ports
    (the OTLP/HTTP side is the ThreadedHttpServer: ``port`` is ``http_port``)."""

    thread_name = "otlp-http"

    def __init__(self, tls: ServerTls | None = None) -> None:
        """``tls``: serve gRPC with TLS and HTTPS (a client certificate required when it names a
        client CA) instead of plaintext."""
        super().__init__()
        self.tls = tls
        self.handshake_failures = 0  # HTTPS connections whose TLS handshake failed
        self.grpc_port = 0
        self.requests: list[ReceivedRequest] = []
        self.rejected_requests = 0
        self._spans: list[ReceivedSpan] = []
        self._points: list[HistogramPoint] = []
        self._changed = threading.Condition()
        self._faults = FaultPlan()
        self._grpc_server: grpc.Server | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> OtlpReceiver:
        server = grpc.server(ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-grpc"))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(self), server)
        if self.tls is None:
            self.grpc_port = server.add_insecure_port(f"{LOOPBACK}:0")
        else:
            self.grpc_port = server.add_secure_port(f"{LOOPBACK}:0", self.tls.grpc_credentials())
        server.start()
        self._grpc_server = server
        return super().start()

    def _make_server(self, address: tuple[str, int]) -> _OtlpHttpServer:
        return _OtlpHttpServer(address, self)

    def stop(self) -> None:
        super().stop()
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=1).wait(timeout=5)
            self._grpc_server = None

    @property
    def http_port(self) -> int:
        return self.port

    @property
    def scheme(self) -> str:
        return "http" if self.tls is None else "https"

    @property
    def grpc_endpoint(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.grpc_port}"

    @property
    def http_base(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.http_port}"

    @property
    def http_endpoint(self) -> str:
        return f"{self.http_base}{TRACES_PATH}"

    # -- what arrived ----------------------------------------------------------------------
    def spans(self) -> list[ReceivedSpan]:
        with self._changed:
            return list(self._spans)

    def wait_for_spans(
        self, count: int = 1, predicate: SpanPredicate | None = None, timeout: float = 15.0
    ) -> list[ReceivedSpan]:
        """The matching spans once at least `count` of them arrived; AssertionError on timeout."""

        def matching() -> list[ReceivedSpan]:
            return [s for s in self._spans if predicate is None or predicate(s)]

        def received() -> str:
            return (
                f"received {len(self._spans)} span(s): "
                f"{[(s.name, s.protocol, s.attributes) for s in self._spans]!r}; "
                f"rejected requests: {self.rejected_requests}"
            )

        return self._wait(matching, count, timeout, "span(s)", received)

    def histograms(self) -> list[HistogramPoint]:
        """The newest point of each series (metric and attributes) received so far."""
        with self._changed:
            return self._newest_points()

    def wait_for_histograms(
        self, predicate: PointPredicate, count: int = 1, timeout: float = 15.0
    ) -> list[HistogramPoint]:
        """Newest points of the matching series once ``predicate`` holds for at least ``count``
        of them (a cumulative series is sent again at every export: wait for what is expected,
        e.g. ``p.count == 3``); AssertionError on timeout."""

        def received() -> str:
            return f"received: {[(p.name, p.attributes, p.count) for p in self._newest_points()]!r}"

        def matching() -> list[HistogramPoint]:
            return [p for p in self._newest_points() if predicate(p)]

        return self._wait(matching, count, timeout, "histogram series", received)

    def _newest_points(self) -> list[HistogramPoint]:
        return list({point.key: point for point in self._points}.values())

    def _wait(
        self,
        matching: Callable[[], list[Any]],
        count: int,
        timeout: float,
        what: str,
        received: Callable[[], str],
    ) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = matching()
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} matching {what} within {timeout}s, got "
                        f"{len(found)}; {received()}"
                    )
                self._changed.wait(remaining)

    def clear(self) -> None:
        with self._changed:
            self._points.clear()
            self._spans.clear()
            self.requests.clear()
            self.rejected_requests = 0

    # -- fault injection -------------------------------------------------------------------
    def fail_with(
        self,
        http_status: int | None = None,
        grpc_code: grpc.StatusCode | None = None,
        retry_after: float | None = None,
        times: int | None = None,
    ) -> None:
        """Answer the next `times` requests (None: until reset_faults) with this error.

        Only one of http_status / grpc_code is needed: the other follows the OTLP mapping
        (503 <-> UNAVAILABLE, 429 <-> RESOURCE_EXHAUSTED, 400 <-> INVALID_ARGUMENT, ...).
        """
        self._faults.fail_with(http_status, grpc_code, retry_after, times)

    def delay(self, seconds: float) -> None:
        """Stall every request this long before answering (until reset_faults)."""
        self._faults.delay(seconds)

    def reset_faults(self) -> None:
        self._faults.reset()

    # -- used by both protocol front-ends --------------------------------------------------
    def _admit(self) -> Fault | None:
        """Sleep the configured delay, then say whether this request must fail."""
        stall = self._faults.current_delay
        if stall:
            time.sleep(stall)
        fault = self._faults.take_fault()
        if fault is not None:
            with self._changed:
                self.rejected_requests += 1
                self._changed.notify_all()
        return fault

    def _record(
        self, protocol: Protocol, headers: dict[str, str], request: ExportTraceServiceRequest
    ) -> None:
        spans = spans_from_request(request, protocol, headers)
        with self._changed:
            self.requests.append(ReceivedRequest(protocol, headers, request))
            self._spans.extend(spans)
            self._changed.notify_all()

    def _record_metrics(self, protocol: Protocol, request: ExportMetricsServiceRequest) -> None:
        points = histograms_from_request(request, protocol)
        with self._changed:
            self._points.extend(points)
            self._changed.notify_all()


def _grpc_headers(context: grpc.ServicerContext) -> dict[str, str]:
    return {
        key.lower(): value if isinstance(value, str) else value.hex()
        for key, value in context.invocation_metadata()
    }


def _grpc_admit(receiver: OtlpReceiver, context: grpc.ServicerContext) -> None:
    fault = receiver._admit()
    if fault is not None:
        trailing = fault.grpc_trailing_metadata()
        if trailing:
            context.set_trailing_metadata(trailing)
        context.abort(fault.grpc_code, fault.message)


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(  # name fixed by the proto service
        self, request: ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> ExportMetricsServiceResponse:
        _grpc_admit(self._receiver, context)
        self._receiver._record_metrics("grpc", request)
        return ExportMetricsServiceResponse()


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(  # name fixed by the proto service
        self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        headers = _grpc_headers(context)
        _grpc_admit(self._receiver, context)
        self._receiver._record("grpc", headers, request)
        return ExportTraceServiceResponse()


class _OtlpHttpServer(QuietHttpServer):
    def __init__(self, address: tuple[str, int], receiver: OtlpReceiver) -> None:
        self.receiver = receiver
        self.context = receiver.tls.ssl_context() if receiver.tls is not None else None
        super().__init__(address, _OtlpHttpHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.context is not None:
            # The handshake in the connection's own thread, not in the accepting loop.
            try:
                request = self.context.wrap_socket(request, server_side=True)
            except OSError:  # ssl.SSLError included: a refused certificate, a plaintext client
                self.receiver.handshake_failures += 1
                return
        super().finish_request(request, client_address)


class _OtlpHttpHandler(BaseHTTPRequestHandler):
    server: _OtlpHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        if path not in (TRACES_PATH, METRICS_PATH):
            self._reply(404, b"not found", "text/plain")
            return
        metrics = path == METRICS_PATH
        headers = {key.lower(): value for key, value in self.headers.items()}
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        is_json = content_type == "application/json"
        if content_type not in ("application/x-protobuf", "application/json"):
            self._reply(415, f"unsupported content type {content_type!r}".encode(), "text/plain")
            return
        try:
            request = _parse_body(body, headers.get("content-encoding", ""), is_json, metrics)
        except (ValueError, DecodeError, OSError, zlib.error, json_format.ParseError) as error:
            self._reply(400, f"cannot decode OTLP request: {error}".encode(), "text/plain")
            return

        receiver = self.server.receiver
        fault = receiver._admit()
        if fault is not None:
            extra = {}
            retry_after = fault.retry_after_header()
            if retry_after is not None:
                extra["Retry-After"] = retry_after
            error_body = _encode(fault.rpc_status(), is_json)
            self._reply(fault.http_status, error_body, content_type, extra)
            return
        if isinstance(request, ExportMetricsServiceRequest):
            receiver._record_metrics("http", request)
            self._reply(200, _encode(ExportMetricsServiceResponse(), is_json), content_type)
            return
        receiver._record("http", headers, request)
        self._reply(200, _encode(ExportTraceServiceResponse(), is_json), content_type)

    def _reply(
        self, status: int, payload: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)


def _parse_body(
    body: bytes, content_encoding: str, is_json: bool, metrics: bool = False
) -> ExportTraceServiceRequest | ExportMetricsServiceRequest:
    encoding = content_encoding.strip().lower()
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding == "deflate":
        body = _inflate(body)
    elif encoding not in ("", "identity"):
        raise ValueError(f"unsupported Content-Encoding {content_encoding!r}")
    if metrics:
        request: Any = ExportMetricsServiceRequest()
        if is_json:
            return json_format.Parse(body or b"{}", request)
    elif is_json:
        return request_from_otlp_json(json.loads(body or b"{}"))
    else:
        request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return request


def _inflate(body: bytes) -> bytes:
    """HTTP "deflate" is zlib-wrapped by the spec, raw deflate by some clients: take both."""
    try:
        return zlib.decompress(body)
    except zlib.error:
        return zlib.decompress(body, -zlib.MAX_WBITS)


def _encode(message: Any, as_json: bool) -> bytes:
    if as_json:
        return json_format.MessageToJson(message).encode()
    return bytes(message.SerializeToString())
