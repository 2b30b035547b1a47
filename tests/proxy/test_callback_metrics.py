"""The proxy callback's GenAI client metrics, read from an SDK MeterProvider: the same
histograms and attributes the instrumentor records for an SDK call, from the same recorder."""

from __future__ import annotations

import asyncio
from typing import Any

import litellm
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_bridge.attributes import PROXY_SCOPE
from otel_bridge.config import MetricsSettings, OtlpSettings
from otel_bridge.instrumentation.metrics import DURATION_BUCKETS, MetricsHandoff
from otel_bridge.pipeline_metrics import MetricsPipeline
from otel_bridge.proxy import OtelBridgeHandler
from otel_bridge.proxy import metrics as proxy_metrics

from .callback_events import END, FIRST_CHUNK, START, chat_kwargs, chat_response

litellm.suppress_debug_info = True

DURATION = (END - START).total_seconds()  # 0.50722 s
CALL = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "loop-gpt",  # the response's, not the request's
    "server.address": "127.0.0.1",
    "server.port": 45145,
}


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def handler(reader, exporter):
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    yield OtelBridgeHandler(
        tracer_provider=tracer_provider, meter_provider=meter_provider, capture_content=False
    )
    tracer_provider.shutdown()
    meter_provider.shutdown()


def metrics(reader: InMemoryMetricReader) -> dict[str, Any]:
    """name -> (metric, scope name) of everything collected."""
    data = reader.get_metrics_data()
    found = {}
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                found[metric.name] = (metric, sm.scope.name)
    return found


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    found = metrics(reader).get(name)
    return list(found[0].data.data_points) if found else []


def test_a_proxied_call_records_its_duration_and_tokens(handler, reader):
    asyncio.run(handler.async_log_success_event(chat_kwargs(), chat_response(), START, END))
    collected = metrics(reader)
    duration_metric, scope = collected["gen_ai.client.operation.duration"]
    assert scope == PROXY_SCOPE
    assert duration_metric.unit == "s"
    [duration] = duration_metric.data.data_points
    assert dict(duration.attributes) == CALL
    assert duration.count == 1
    assert duration.sum == pytest.approx(DURATION, abs=1e-6)  # the callback's own times
    assert duration.explicit_bounds == DURATION_BUCKETS
    tokens_metric, _ = collected["gen_ai.client.token.usage"]
    assert tokens_metric.unit == "{token}"
    tokens = {p.attributes["gen_ai.token.type"]: p for p in tokens_metric.data.data_points}
    assert {k: (p.count, p.sum) for k, p in tokens.items()} == {"input": (1, 11), "output": (1, 7)}
    assert dict(tokens["input"].attributes) == {**CALL, "gen_ai.token.type": "input"}
    # a non-streamed call: no streaming histograms
    assert "gen_ai.client.operation.time_to_first_chunk" not in collected
    assert "gen_ai.client.operation.time_per_output_chunk" not in collected


def test_a_proxied_stream_records_its_time_to_first_chunk(handler, reader):
    asyncio.run(
        handler.async_log_success_event(chat_kwargs(stream=True), chat_response(), START, END)
    )
    [first] = points(reader, "gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1
    assert first.sum == pytest.approx((FIRST_CHUNK - START).total_seconds(), abs=1e-6)
    assert dict(first.attributes) == CALL
    # the proxy never sees the chunks: no per-chunk intervals
    assert points(reader, "gen_ai.client.operation.time_per_output_chunk") == []
    [duration] = points(reader, "gen_ai.client.operation.duration")
    assert duration.sum == pytest.approx(DURATION, abs=1e-6)


def test_a_failed_proxied_call_records_its_error_type_and_no_tokens(handler, reader):
    asyncio.run(handler.async_log_failure_event(chat_kwargs(failed=True), None, START, END))
    [duration] = points(reader, "gen_ai.client.operation.duration")
    attributes = dict(duration.attributes)
    assert attributes.pop("error.type") == "RateLimitError"
    assert attributes == {k: v for k, v in CALL.items() if k != "gen_ai.response.model"}
    assert points(reader, "gen_ai.client.token.usage") == []


def test_a_sampled_out_proxied_call_still_counts(reader):
    handler = OtelBridgeHandler(
        tracer_provider=TracerProvider(sampler=ALWAYS_OFF),
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    asyncio.run(handler.async_log_success_event(chat_kwargs(), chat_response(), START, END))
    [duration] = points(reader, "gen_ai.client.operation.duration")
    assert duration.count == 1 and dict(duration.attributes) == CALL


def test_the_exemplar_points_at_the_proxys_span(handler, reader, exporter):
    asyncio.run(handler.async_log_success_event(chat_kwargs(), chat_response(), START, END))
    [span] = exporter.get_finished_spans()
    [duration] = points(reader, "gen_ai.client.operation.duration")
    [exemplar] = duration.exemplars
    assert exemplar.span_id == span.context.span_id
    assert exemplar.trace_id == span.context.trace_id


def test_under_the_bridges_pipeline_the_values_reach_the_otlp_receiver(exporter, otlp_receiver):
    """What configure() wires for the handler: the bridge's metrics pipeline gives the callback
    a handoff of its own, drained by the pipeline with the instrumentor's, exported over OTLP."""
    settings = MetricsSettings(
        OtlpSettings(otlp_receiver.http_base + "/v1/metrics", "http/protobuf", "test"),
        interval_millis=3_600_000,  # only the flush below exports
    )
    pipeline = MetricsPipeline(settings, Resource.create({"service.name": "gateway"}), 5.0)
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = OtelBridgeHandler(tracer_provider=tracer_provider)
    handler.metrics = proxy_metrics.recorder(pipeline.provider, pipeline)
    try:
        assert isinstance(handler.metrics, MetricsHandoff)  # the callback only queues
        asyncio.run(handler.async_log_success_event(chat_kwargs(), chat_response(), START, END))
        assert pipeline.force_flush(5)
        [duration] = otlp_receiver.wait_for_histograms(
            lambda p: p.name == "gen_ai.client.operation.duration" and p.scope_name == PROXY_SCOPE
        )
        assert duration.attributes == CALL and duration.count == 1
        assert duration.sum == pytest.approx(DURATION, abs=1e-6)
        assert duration.resource["service.name"] == "gateway"
        tokens = otlp_receiver.wait_for_histograms(
            lambda p: p.name == "gen_ai.client.token.usage" and p.scope_name == PROXY_SCOPE, 2
        )
        assert {p.attributes["gen_ai.token.type"]: p.sum for p in tokens} == {
            "input": 11,
            "output": 7,
        }
    finally:
        pipeline.shutdown(5)
        tracer_provider.shutdown()
