"""A counting OTLP trace receiver (gRPC and HTTP/protobuf) in its own process, on loopback.

    python -m benchmarks.sink [--grpc-port P] [--http-port P]

Prints one JSON line with its ports, then serves until stdin closes or it is killed. It parses
each request (as a real receiver must) and counts spans (and, over gRPC, metric data points);
``GET /stats`` on the HTTP port returns ``{"spans": n, "requests": n, "bytes": n,
"metric_points": n}``. Built on the official ``opentelemetry-proto``
service definitions, like the test suite's receiver, but keeps nothing: it is a destination for
throughput runs, not an assertion tool.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans = 0
        self.requests = 0
        self.bytes = 0
        self.metric_points = 0

    def add(self, request: Any, size: int) -> None:
        spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        with self.lock:
            self.spans += spans
            self.requests += 1
            self.bytes += size

    def add_metrics(self, request: Any) -> None:
        points = sum(
            len(getattr(metric, metric.WhichOneof("data")).data_points)
            for rm in request.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
            if metric.WhichOneof("data")
        )
        with self.lock:
            self.metric_points += points

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {
                "spans": self.spans,
                "requests": self.requests,
                "bytes": self.bytes,
                "metric_points": self.metric_points,
            }


def serve(grpc_port: int = 0, http_port: int = 0) -> tuple[Any, int, Any, Counts]:
    """Start both servers; returns (grpc server, its port, http server, counts)."""
    import grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceResponse,
    )
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    counts = Counts()

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # name fixed by the proto
            counts.add(request, request.ByteSize())
            return ExportTraceServiceResponse()

    class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # name fixed by the proto
            counts.add_metrics(request)
            return ExportMetricsServiceResponse()

    server = grpc.server(ThreadPoolExecutor(max_workers=4, thread_name_prefix="sink-grpc"))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
    grpc_port = server.add_insecure_port(f"{LOOPBACK}:{grpc_port}")
    server.start()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            body = json.dumps(counts.snapshot()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            encoding = (self.headers.get("Content-Encoding") or "").lower()
            if encoding == "gzip":
                import gzip

                body = gzip.decompress(body)
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            counts.add(request, length)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    http = ThreadingHTTPServer((LOOPBACK, http_port), Handler)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, name="sink-http", daemon=True).start()
    return server, grpc_port, http, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grpc-port", type=int, default=0)
    parser.add_argument("--http-port", type=int, default=0)
    args = parser.parse_args(argv)
    server, grpc_port, http, _counts = serve(args.grpc_port, args.http_port)
    ports = {"grpc_port": grpc_port, "http_port": http.server_port}
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()  # until the parent closes our stdin (or goes away)
    http.shutdown()
    server.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
