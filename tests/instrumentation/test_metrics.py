"""The GenAI client histograms the instrumentation records, read from an SDK MeterProvider.

Each test runs twice: recorded during the call (the instrumentor on its own), and queued by the
call in a ``MetricsHandoff`` and recorded when it is drained (under ``otel_bridge.configure()``,
where the pipeline's thread drains it): the same values either way.
"""

from __future__ import annotations

import gc
from typing import Any

import litellm
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_bridge.instrumentation import LiteLLMInstrumentor
from otel_bridge.instrumentation.metrics import MetricsHandoff
from tests.support.openai_server import ErrorReply, Reply

from .helpers import USER, DrainingReader, points, server_kwargs


def test_a_call_records_its_duration_and_tokens(metered, reader):
    response = litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="hello")
    [duration] = points(reader, "gen_ai.client.operation.duration")
    assert duration.count == 1
    assert dict(duration.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "server.address": "api.openai.com",
        "server.port": 443,
    }
    assert duration.explicit_bounds[0] == 0.01
    tokens = {
        p.attributes["gen_ai.token.type"]: p for p in points(reader, "gen_ai.client.token.usage")
    }
    assert set(tokens) == {"input", "output"}
    assert tokens["output"].sum == response.usage.completion_tokens
    assert tokens["input"].sum == response.usage.prompt_tokens
    assert tokens["input"].explicit_bounds[:3] == (1.0, 4.0, 16.0)


def test_a_failed_call_records_its_error_and_no_tokens(metered, reader, openai_server):
    openai_server.enqueue(ErrorReply(status=500, message="boom"))
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(
            model="openai/gpt-4o-mini", messages=USER, **server_kwargs(openai_server)
        )
    [duration] = points(reader, "gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "InternalServerError"
    assert points(reader, "gen_ai.client.token.usage") == []


def test_a_stream_records_its_chunks(metered, reader, openai_server):
    openai_server.enqueue(Reply(content="one two three", chunk_delay=0.01))
    stream = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
        **server_kwargs(openai_server),
    )
    chunks = list(stream)
    [first] = points(reader, "gen_ai.client.operation.time_to_first_chunk")
    [per_chunk] = points(reader, "gen_ai.client.operation.time_per_output_chunk")
    [duration] = points(reader, "gen_ai.client.operation.duration")
    assert first.count == 1 and per_chunk.count == len(chunks) - 1
    assert first.sum + per_chunk.sum <= duration.sum
    assert "error.type" not in duration.attributes


def test_a_stream_without_usage_records_litellms_estimated_tokens(metered, reader, openai_server):
    text = "one two three four five"
    openai_server.enqueue(Reply(content=text))
    stream = litellm.completion(  # no include_usage: the server sends none
        model="openai/gpt-4o-mini", messages=USER, stream=True, **server_kwargs(openai_server)
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == text
    usage = points(reader, "gen_ai.client.token.usage")
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in usage}
    assert tokens == {
        "input": litellm.token_counter(model="gpt-4o-mini", messages=USER),
        "output": litellm.token_counter(model="gpt-4o-mini", text=text, count_response_tokens=True),
    }


def test_an_abandoned_stream_is_a_failed_operation(metered, reader, openai_server):
    openai_server.enqueue(Reply(content="one two three four"))
    stream = litellm.completion(
        model="openai/gpt-4o-mini", messages=USER, stream=True, **server_kwargs(openai_server)
    )
    next(stream)
    del stream
    gc.collect()
    [duration] = points(reader, "gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "_OTHER"
    assert points(reader, "gen_ai.client.token.usage") == []


def test_a_sampled_out_call_still_counts(reader):
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument(
        tracer_provider=TracerProvider(sampler=ALWAYS_OFF),
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    try:
        litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="hello")
    finally:
        instrumentor.uninstrument()
    [duration] = points(reader, "gen_ai.client.operation.duration")
    assert duration.count == 1 and duration.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert {
        p.attributes["gen_ai.token.type"] for p in points(reader, "gen_ai.client.token.usage")
    } == {
        "input",
        "output",
    }


def test_with_a_handoff_the_call_only_queues_its_values():
    reader = InMemoryMetricReader()
    handoff = MetricsHandoff(max_pending=2)
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument(
        tracer_provider=TracerProvider(),
        meter_provider=MeterProvider(metric_readers=[reader]),
        _metrics_handoff=handoff,
    )
    try:
        for _ in range(3):
            litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="hi")
    finally:
        instrumentor.uninstrument()
    assert points(reader, "gen_ai.client.operation.duration") == []  # nothing recorded yet
    assert handoff.dropped == 1  # the third call found the queue full
    assert handoff.drain() == 2
    [duration] = points(reader, "gen_ai.client.operation.duration")
    assert duration.count == 2
    assert duration.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert handoff.drain() == 0


class QueueSpy(MetricsHandoff):
    """The pipeline's handoff, keeping a copy of each stream's chunk intervals as queued."""

    def __init__(self) -> None:
        super().__init__()
        self.queued_gaps: list[list[Any]] = []

    def record(self, *args: Any, **kwargs: Any) -> None:
        gaps = args[5] if len(args) > 5 else kwargs.get("chunk_gaps_ns", ())
        self.queued_gaps.append(list(gaps))
        super().record(*args, **kwargs)


def test_a_handed_off_stream_queues_its_chunk_intervals_in_ns(openai_server):
    spy = QueueSpy()
    reader = DrainingReader(spy)
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument(
        tracer_provider=TracerProvider(),
        meter_provider=MeterProvider(metric_readers=[reader]),
        _metrics_handoff=spy,
    )
    openai_server.enqueue(Reply(content="one two three four", chunk_delay=0.02))
    try:
        chunks = list(
            litellm.completion(
                model="openai/gpt-4o-mini",
                messages=USER,
                stream=True,
                **server_kwargs(openai_server),
            )
        )
    finally:
        instrumentor.uninstrument()
    [gaps_ns] = spy.queued_gaps
    # the app's thread queued the raw integers; the drain converts them
    assert len(gaps_ns) == len(chunks) - 1 >= 3
    assert all(isinstance(gap, int) and gap > 0 for gap in gaps_ns)
    [per_chunk] = points(reader, "gen_ai.client.operation.time_per_output_chunk")
    assert per_chunk.count == len(gaps_ns)
    assert per_chunk.sum == pytest.approx(sum(gaps_ns) / 1e9)
    assert per_chunk.min == pytest.approx(min(gaps_ns) / 1e9)
    assert per_chunk.max == pytest.approx(max(gaps_ns) / 1e9)
    assert per_chunk.max < 5  # seconds, not ns
