"""Helpers shared by the instrumentation tests."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.instrumentation.metrics import MetricsHandoff

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


class DrainingReader(InMemoryMetricReader):
    """Records what the calls queued in ``handoff`` before each collection, as the pipeline's
    reader does."""

    def __init__(self, handoff: MetricsHandoff | None) -> None:
        super().__init__()
        self.handoff = handoff

    def collect(self, timeout_millis: float = 10_000) -> None:
        if self.handoff is not None:
            self.handoff.drain()
        super().collect(timeout_millis=timeout_millis)


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """The data points of the metric ``name`` the reader collects now."""
    data = reader.get_metrics_data()
    found = []
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found
