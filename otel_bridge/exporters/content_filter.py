"""Removes message content from spans bound for a destination that must not receive it."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan

from otel_bridge.content_keys import CONTENT_ATTRIBUTES
from otel_bridge.exporters.spans import replace_span


def without_content(span: ReadableSpan) -> ReadableSpan:
    attributes = span.attributes or {}
    if not any(key in CONTENT_ATTRIBUTES for key in attributes):
        return span
    kept = {k: v for k, v in attributes.items() if k not in CONTENT_ATTRIBUTES}
    return replace_span(span, attributes=kept)
