"""Message content per destination: removed from spans bound for a destination that must not
receive it, and built (off the app's thread) for those that may; the deferred attributes that
are not content (a stream's estimated usage) built for every destination."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_bridge.attributes import CONTENT_ATTRIBUTES
from otel_bridge.deferred_content import ContentRegistry, PendingContent
from otel_bridge.exporters.spans import replace_span

_PENDING = "_otel_bridge_pending_content"


def without_content(span: ReadableSpan) -> ReadableSpan:
    """``span`` without content attributes, with its deferred attributes that are not content
    (built now, in the caller's thread)."""
    pending: PendingContent | None = getattr(span, _PENDING, None)
    usage = pending.usage_attributes() if pending is not None else None
    attributes = span.attributes or {}
    if any(key in CONTENT_ATTRIBUTES for key in attributes):
        kept = {k: v for k, v in attributes.items() if k not in CONTENT_ATTRIBUTES}
    elif usage:
        kept = dict(attributes)
    else:
        return span
    if usage:
        kept.update(usage)
    return replace_span(span, attributes=kept)


def with_content(span: ReadableSpan) -> ReadableSpan:
    """``span`` with its deferred attributes, content included (built now, in the caller's
    thread)."""
    pending: PendingContent | None = getattr(span, _PENDING, None)
    if not pending:
        return span
    built = pending.attributes()
    usage = pending.usage_attributes()
    if not built and not usage:
        return span
    return replace_span(span, attributes={**(span.attributes or {}), **built, **usage})


class ContentBinder(SpanProcessor):
    """Moves a span's pending content (and deferred usage) from the registry onto the finished
    span, before any destination receives it (the same object); the pipeline's processor calls
    it first."""

    def __init__(self, registry: ContentRegistry) -> None:
        self._entries = registry.entries
        self._pop = registry.pop

    def on_end(self, span: ReadableSpan) -> None:
        # nothing waits (content off: all but streams without usage): no lookup on the app's thread
        if not self._entries:
            return
        context = span.context
        if context is None:
            return
        pending = self._pop(context.span_id)
        if pending is not None:
            setattr(span, _PENDING, pending)


class ContentExporter(SpanExporter):
    """An SDK exporter's spans with their deferred content (built in the exporter's thread)."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([with_content(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
