"""The GenAI client histograms the instrumentation records, read from an SDK MeterProvider."""

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
from tests.support.openai_server import ErrorReply, Reply

from .helpers import USER, server_kwargs


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def metered(instrument, reader):
    instrument(meter_provider=MeterProvider(metric_readers=[reader]))


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    found = []
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


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
