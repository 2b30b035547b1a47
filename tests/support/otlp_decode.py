"""OTLP trace payloads (protobuf or OTLP/JSON) decoded into plain Python `ReceivedSpan`s."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

Protocol = Literal["grpc", "http"]


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str  # 32 lower-case hex digits
    span_id: str  # 16 lower-case hex digits
    parent_span_id: str | None
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind value
    attributes: dict[str, Any]
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    events: list[tuple[str, dict[str, Any]]]
    resource: dict[str, Any]
    scope_name: str
    protocol: Protocol
    headers: dict[str, str]
    start_time_unix_nano: int
    end_time_unix_nano: int
    links: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    scope_version: str = ""

    @property
    def kind_name(self) -> str:
        """E.g. "SPAN_KIND_CLIENT"."""
        return str(Span.SpanKind.Name(self.kind))  # type: ignore[arg-type]

    @property
    def duration_ns(self) -> int:
        return self.end_time_unix_nano - self.start_time_unix_nano


def decode_any_value(value: AnyValue) -> Any:
    """AnyValue -> str / bool / int / float / bytes / list / dict (None when unset)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [decode_any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return decode_key_values(value.kvlist_value.values)
    return getattr(value, which)


def decode_key_values(pairs: Any) -> dict[str, Any]:
    return {pair.key: decode_any_value(pair.value) for pair in pairs}


def _hex_id(raw: bytes) -> str:
    return raw.hex()


def spans_from_request(
    request: ExportTraceServiceRequest, protocol: Protocol, headers: dict[str, str]
) -> list[ReceivedSpan]:
    received: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = decode_key_values(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                received.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=_hex_id(span.trace_id),
                        span_id=_hex_id(span.span_id),
                        parent_span_id=_hex_id(span.parent_span_id) or None,
                        kind=int(span.kind),
                        attributes=decode_key_values(span.attributes),
                        status_code=int(span.status.code),
                        status_message=span.status.message,
                        events=[(e.name, decode_key_values(e.attributes)) for e in span.events],
                        resource=resource,
                        scope_name=scope_spans.scope.name,
                        scope_version=scope_spans.scope.version,
                        protocol=protocol,
                        headers=headers,
                        start_time_unix_nano=int(span.start_time_unix_nano),
                        end_time_unix_nano=int(span.end_time_unix_nano),
                        links=[
                            (
                                _hex_id(link.trace_id),
                                _hex_id(link.span_id),
                                decode_key_values(link.attributes),
                            )
                            for link in span.links
                        ],
                    )
                )
    return received


_OTLP_JSON_HEX_ID_KEYS = frozenset(
    ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
)


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes ids as hex, protobuf's JSON mapping expects base64 for bytes fields."""
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in _OTLP_JSON_HEX_ID_KEYS and isinstance(value, str):
            converted[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
        else:
            converted[key] = _hex_ids_to_base64(value)
    return converted


def request_from_otlp_json(document: Any) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON ExportTraceServiceRequest (hex ids, camelCase or snake_case keys)."""
    request = ExportTraceServiceRequest()
    json_format.ParseDict(_hex_ids_to_base64(document), request, ignore_unknown_fields=True)
    return request


__all__ = [
    "Protocol",
    "ReceivedSpan",
    "decode_any_value",
    "decode_key_values",
    "request_from_otlp_json",
    "spans_from_request",
]
