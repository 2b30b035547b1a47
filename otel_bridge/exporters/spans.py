"""Copies of finished spans with some fields changed (a finished span is read-only)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


def replace_span(span: ReadableSpan, **changes: Any) -> ReadableSpan:
    fields: dict[str, Any] = {
        "name": span.name,
        "context": span.context,
        "parent": span.parent,
        "resource": span.resource,
        "attributes": span.attributes,
        "events": span.events,
        "links": span.links,
        "kind": span.kind,
        "status": span.status,
        "start_time": span.start_time,
        "end_time": span.end_time,
        "instrumentation_scope": span.instrumentation_scope,
    }
    fields.update(changes)
    return ReadableSpan(**fields)


def is_root(span: ReadableSpan) -> bool:
    """The root of its trace in this process: no parent, or a parent in another process."""
    parent = span.parent
    return parent is None or parent.is_remote
