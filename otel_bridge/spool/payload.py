"""A batch for one destination, as it is sent, spooled and read back: an OTLP
``ExportTraceServiceRequest`` and the transport options it must be sent with."""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


@dataclass
class Payload:
    """A batch for one destination, with the transport options it must be sent with (the MLflow
    run its traces belong to, ...)."""

    request: ExportTraceServiceRequest
    options: dict[str, str] = field(default_factory=dict)
    spans: int = -1

    def __post_init__(self) -> None:
        if self.spans < 0:
            self.spans = count_spans(self.request)


def count_spans(request: ExportTraceServiceRequest) -> int:
    return sum(
        len(scope_spans.spans)
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
    )
