"""Helpers shared by the instrumentation tests."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

SCOPE = "otel_bridge.instrumentation.litellm"
USER = [{"role": "user", "content": "Hi - i'm openai"}]


def llm_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        s
        for s in exporter.get_finished_spans()
        if s.instrumentation_scope is not None and s.instrumentation_scope.name == SCOPE
    ]


def one_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    found = llm_spans(exporter)
    assert len(found) == 1, [s.name for s in found]
    return found[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def json_attr(span: ReadableSpan, key: str) -> Any:
    return json.loads(attrs(span)[key])


def server_kwargs(server: Any) -> dict[str, Any]:
    return {"api_base": server.base_url, "api_key": "sk-test", "num_retries": 0}
