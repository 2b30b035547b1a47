"""The metrics pipeline records what calls queued in its handoff: on its drainer thread, and
before every collection (so a flush or the last export at exit misses no call)."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)

from otel_bridge.instrumentation.metrics import GenAIMetrics, MetricsHandoff
from otel_bridge.pipeline_metrics import _Drainer, _DrainingReader

START = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
}
END = {"gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 5}
DEADLINE = 10.0


class Collected(MetricExporter):
    """Keeps every batch it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[MetricsData] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 0, **_: Any) -> Any:
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 0) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 0, **_: Any) -> None:
        return None


def points(data: MetricsData | None, name: str) -> list[Any]:
    return [
        point
        for rm in (data.resource_metrics if data else ())
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def test_the_reader_records_the_queued_calls_before_it_collects():
    handoff = MetricsHandoff()
    exporter = Collected()
    reader = _DrainingReader(exporter, handoff, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    handoff.metrics = GenAIMetrics(provider.get_meter("test"))
    try:
        handoff.record(START, END, 0.25)
        handoff.record(START, {}, 0.5, error_type="Timeout")
        provider.force_flush()
        [batch] = exporter.batches
        durations = {
            p.attributes.get("error.type"): p
            for p in points(batch, "gen_ai.client.operation.duration")
        }
        assert durations[None].sum == 0.25 and durations["Timeout"].sum == 0.5
        tokens = {
            p.attributes["gen_ai.token.type"]: p.sum
            for p in points(batch, "gen_ai.client.token.usage")
        }
        assert tokens == {"input": 12, "output": 5}  # the failed call records none
    finally:
        provider.shutdown()


def test_the_drainer_records_them_on_its_own_thread_without_a_flush():
    handoff = MetricsHandoff()
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    handoff.metrics = GenAIMetrics(provider.get_meter("test"))
    drainer = _Drainer(handoff, interval=0.05)
    try:
        handoff.record(START, END, 0.25)
        deadline = time.monotonic() + DEADLINE
        found: list[Any] = []
        while not found and time.monotonic() < deadline:
            found = points(reader.get_metrics_data(), "gen_ai.client.operation.duration")
            time.sleep(0.02)
        [duration] = found
        assert duration.count == 1 and duration.sum == 0.25
    finally:
        drainer.stop()
        provider.shutdown()
