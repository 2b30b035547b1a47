"""The OTLP destination's probe: one export request with no spans, sent once through the very
transport the bridge exports with (its TLS, headers, compression), within a timeout.

An empty ``ExportTraceServiceRequest`` is valid OTLP, and a receiver answers it as it answers
spans, after the same transport, TLS, authentication and decoding: the Collector's otlpreceiver
(which Jaeger and Tempo embed) returns success for it before anything reaches a pipeline, so the
probe leaves no trace among the user's traces.
"""

from __future__ import annotations

import time
from dataclasses import replace

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_bridge.config import OtlpSettings
from otel_bridge.exporters.otlp import build_otlp_transport
from otel_bridge.exporters.probe import PROBE_TIMEOUT, ProbeResult, tcp_problem
from otel_bridge.exporters.retry import RejectedError, RetryableError, RetryPolicy
from otel_bridge.redaction import mask_url

DESTINATION = "OTLP"


def probe_otlp(settings: OtlpSettings, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    fix = "start Jaeger/the Collector or fix OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    endpoint = mask_url(settings.endpoint)
    problem = tcp_problem(settings.endpoint, timeout)
    if problem:
        return ProbeResult(DESTINATION, False, f"{problem} {endpoint} — {fix}")
    once = replace(settings, timeout=min(settings.timeout, timeout))
    transport = build_otlp_transport(once, RetryPolicy(max_attempts=1))
    started = time.monotonic()
    try:
        transport.send(ExportTraceServiceRequest(), started + timeout)
    except (RetryableError, RejectedError) as error:
        seconds = time.monotonic() - started
        status = getattr(error, "status", None)
        return ProbeResult(
            DESTINATION,
            False,
            f"{endpoint} did not accept an OTLP export request ({settings.protocol}, "
            f"{seconds:.1f} s): {_shorten(mask_url(str(error)))} — {_hint(status, settings)}",
        )
    finally:
        transport.close()
    return ProbeResult(
        DESTINATION,
        True,
        f"{endpoint} accepted an OTLP export request ({settings.protocol}; it carried no span, "
        "nothing is stored)",
    )


def _hint(status: int | str | None, settings: OtlpSettings) -> str:
    if status in (401, 403, "UNAUTHENTICATED", "PERMISSION_DENIED"):
        return "check OTEL_EXPORTER_OTLP_TRACES_HEADERS (the backend refused the credentials)"
    if status == "TLS":
        return (
            "check OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE / _CLIENT_CERTIFICATE / _CLIENT_KEY "
            "(the TLS handshake failed)"
        )
    if settings.protocol == "http/protobuf" and isinstance(status, int):
        return (
            "it answered, but not as an OTLP/HTTP receiver: fix OTEL_EXPORTER_OTLP_TRACES_ENDPOINT "
            "(the full URL, e.g. http://localhost:4318/v1/traces)"
        )
    other = "http/protobuf" if settings.protocol == "grpc" else "grpc"
    return (
        f"is it an OTLP {settings.protocol} port? set OTEL_EXPORTER_OTLP_TRACES_PROTOCOL={other} "
        "or fix OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
