"""Request tags are the caller's, and a proxy takes them from any client: however many, the
span keeps the conventions' attributes (the SDK keeps 128 and evicts the OLDEST past that), the
call costs no more than with a few, and what was left out is counted on the span."""

from __future__ import annotations

from collections.abc import Iterator

import litellm
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.instrumentation import LiteLLMInstrumentor
from otel_bridge.instrumentation.request import MAX_TAG_LENGTH, MAX_TAGS
from otel_bridge.proxy.metadata import request_metadata

CONVENTIONS = ("gen_ai.operation.name", "gen_ai.request.model", "gen_ai.provider.name")


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # the SDK's default limits: 128 attributes a span
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=False)
    yield exporter
    instrumentor.uninstrument()
    provider.shutdown()


def _call(tags: list[str]) -> None:
    litellm.completion(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        mock_response="ok",
        metadata={"tags": tags},
    )


def test_150_key_value_tags_never_evict_the_conventions_attributes(exporter):
    _call([f"k{i}:v{i}" for i in range(150)])
    [span] = exporter.get_finished_spans()
    attributes = span.attributes or {}
    for key in CONVENTIONS:
        assert key in attributes, key
    assert span.dropped_attributes == 0
    assert list(attributes["litellm.request.tags"]) == [f"k{i}:v{i}" for i in range(MAX_TAGS)]
    assert attributes["litellm.request.tags_dropped"] == 150 - MAX_TAGS


def test_a_million_tags_and_a_huge_one_are_bounded_and_counted(exporter):
    tags = ["x" * (MAX_TAG_LENGTH + 1), "ok:1", "ok:1"] + [f"t{i}" for i in range(1_000_000)]
    _call(tags)
    [span] = exporter.get_finished_spans()
    attributes = span.attributes or {}
    kept = list(attributes["litellm.request.tags"])
    assert kept[0] == "ok:1" and len(kept) == MAX_TAGS
    # every tag but the kept ones and the repeat of "ok:1"
    assert attributes["litellm.request.tags_dropped"] == len(tags) - MAX_TAGS - 1
    for key in CONVENTIONS:
        assert key in attributes


def test_the_proxy_bounds_a_clients_tags_the_same_way():
    raw = ["User-Agent: curl/8"] + [f"c{i}" for i in range(1_000_000)]
    metadata = request_metadata({"standard_logging_object": {"request_tags": raw}})
    assert metadata.tags == [f"c{i}" for i in range(MAX_TAGS)]
    assert metadata.tags_dropped == 1_000_000 - MAX_TAGS
