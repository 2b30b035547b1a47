"""Where a stream's missing usage is counted with LiteLLM's tokenizer: on the spot by the
instrumentor alone, by the pipeline's threads (the first destination or metrics drainer that
needs it) under ``otel_bridge.configure()``, once for all of them, content captured or not."""

from __future__ import annotations

import threading

import litellm
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.deferred_content import ContentRegistry
from otel_bridge.instrumentation import LiteLLMInstrumentor, instrumentation_error_counts
from otel_bridge.instrumentation.metrics import MetricsHandoff
from otel_bridge.pipeline_content import ContentBinder, with_content, without_content
from tests.support.openai_server import Reply

from .helpers import USER, attrs, one_span, server_kwargs

TEXT = "Streaming along: it's sunny in Paris, take sunglasses."
USAGE = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "litellm.usage.estimated")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads LiteLLM's tokenizer runs on (LiteLLM spied on, not replaced)."""
    threads: list[str] = []
    count = litellm.token_counter

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return count(*args, **kwargs)

    monkeypatch.setattr(litellm, "token_counter", spy)
    return threads


def _expected() -> dict:
    return {
        "gen_ai.usage.input_tokens": litellm.token_counter(model="gpt-4o-mini", messages=USER),
        "gen_ai.usage.output_tokens": litellm.token_counter(
            model="gpt-4o-mini", text=TEXT, count_response_tokens=True
        ),
        "litellm.usage.estimated": True,
    }


def _consume(openai_server) -> None:
    openai_server.enqueue(Reply(content=TEXT))
    stream = litellm.completion(  # no include_usage: the server sends no usage
        model="openai/gpt-4o-mini", messages=USER, stream=True, **server_kwargs(openai_server)
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == TEXT


def test_with_content_capture_off_the_estimate_still_reaches_the_span(
    instrument, exporter, openai_server
):
    instrument(capture_content=False)
    _consume(openai_server)
    span = attrs(one_span(exporter))
    assert {key: span.get(key) for key in USAGE} == _expected()
    assert "gen_ai.output.messages" not in span


@pytest.mark.parametrize("content_registry", ["inline"], indirect=True)
def test_the_instrumentor_alone_counts_at_stream_end_on_the_apps_thread(
    instrumented, exporter, openai_server, counted
):
    _consume(openai_server)
    assert counted and set(counted) == {threading.current_thread().name}
    assert {key: attrs(one_span(exporter)).get(key) for key in USAGE} == _expected()


@pytest.mark.parametrize("capture", [True, False])
def test_under_the_pipeline_the_count_is_made_once_by_the_first_thread_needing_it(
    capture, openai_server, counted
):
    # the pipeline's shape: the binder, then destinations that rewrite what they receive
    registry, finished = ContentRegistry(), InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ContentBinder(registry))
    provider.add_span_processor(SimpleSpanProcessor(finished))
    handoff, reader = MetricsHandoff(), InMemoryMetricReader()
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument(
        tracer_provider=provider,
        meter_provider=MeterProvider(metric_readers=[reader]),
        _metrics_handoff=handoff,
        capture_content=capture,
        _content_registry=registry,
    )
    try:
        _consume(openai_server)
    finally:
        instrumentor.uninstrument()

    assert counted == []  # the stream ended: nothing counted yet
    span = one_span(finished)
    assert not set(USAGE) & set(attrs(span))
    assert len(registry) == 0  # moved onto the finished span

    expected = _expected()
    counted.clear()
    assert {key: attrs(without_content(span)).get(key) for key in USAGE} == expected
    made = len(counted)
    assert made == 2  # the prompt and the text
    assert {key: attrs(with_content(span)).get(key) for key in USAGE} == expected
    assert ("gen_ai.output.messages" in attrs(with_content(span))) is capture
    assert handoff.drain() == 1
    assert len(counted) == made  # the destinations and the metrics reuse the one count

    tokens = {
        point.attributes["gen_ai.token.type"]: point.sum
        for metric in reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
        if metric.name == "gen_ai.client.token.usage"
        for point in metric.data.data_points
    }
    assert tokens == {
        "input": expected["gen_ai.usage.input_tokens"],
        "output": expected["gen_ai.usage.output_tokens"],
    }


def test_a_failing_count_leaves_the_span_and_the_app_untouched(
    instrument, exporter, openai_server, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("tokenizer down")

    monkeypatch.setattr(litellm, "token_counter", broken)
    errors_before = _stream_usage_errors()
    instrument()
    _consume(openai_server)
    span = attrs(one_span(exporter))
    assert not set(USAGE) & set(span)
    assert span["gen_ai.response.finish_reasons"] == ("stop",)
    assert _stream_usage_errors() == errors_before + 1


def _stream_usage_errors() -> int:
    return instrumentation_error_counts().get("stream_usage", 0)
