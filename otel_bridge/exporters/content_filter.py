"""Removes message content from spans bound for a destination that must not receive it."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_bridge.content_keys import CONTENT_ATTRIBUTES
from otel_bridge.exporters.spans import replace_span


def without_content(span: ReadableSpan) -> ReadableSpan:
    attributes = span.attributes or {}
    if not any(key in CONTENT_ATTRIBUTES for key in attributes):
        return span
    kept = {k: v for k, v in attributes.items() if k not in CONTENT_ATTRIBUTES}
    return replace_span(span, attributes=kept)


class ContentFilterExporter(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([without_content(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
