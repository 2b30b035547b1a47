"""Fixtures of the security tests: an in-memory exporter behind an instrumented LiteLLM."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import litellm
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.instrumentation import LiteLLMInstrumentor

litellm.suppress_debug_info = True


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracer_provider
    tracer_provider.shutdown()


@pytest.fixture
def instrument(provider: TracerProvider) -> Iterator[Callable[..., LiteLLMInstrumentor]]:
    """``instrument(**kwargs)`` (content capture on by default); uninstrumented after."""
    instrumentor = LiteLLMInstrumentor()

    def _instrument(**kwargs: object) -> LiteLLMInstrumentor:
        kwargs.setdefault("capture_content", True)
        instrumentor.instrument(tracer_provider=provider, **kwargs)
        return instrumentor

    yield _instrument
    instrumentor.uninstrument()
