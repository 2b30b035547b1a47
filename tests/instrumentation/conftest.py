"""Fixtures of the instrumentation tests: an in-memory exporter behind an instrumented LiteLLM."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import litellm
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from otel_bridge.deferred_content import ContentRegistry
from otel_bridge.instrumentation import LiteLLMInstrumentor
from otel_bridge.instrumentation.metrics import MetricsHandoff
from otel_bridge.pipeline_content import ContentBinder, ContentExporter

from .helpers import DrainingReader

litellm.suppress_debug_info = True


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(params=["inline", "deferred"])
def content_registry(request: pytest.FixtureRequest) -> ContentRegistry | None:
    """Every instrumentation test runs twice: content serialised during the call (the
    instrumentor on its own), and left to the exporter's thread (under otel_bridge.configure())."""
    return ContentRegistry() if request.param == "deferred" else None


@pytest.fixture
def provider(
    exporter: InMemorySpanExporter, content_registry: ContentRegistry | None
) -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    if content_registry is None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        tracer_provider.add_span_processor(ContentBinder(content_registry))
        tracer_provider.add_span_processor(SimpleSpanProcessor(ContentExporter(exporter)))
    yield tracer_provider
    tracer_provider.shutdown()


@pytest.fixture
def instrument(
    provider: TracerProvider, content_registry: ContentRegistry | None
) -> Iterator[Callable[..., LiteLLMInstrumentor]]:
    """``instrument(capture_content=..., ...)`` on the test's provider; uninstrumented after."""
    instrumentor = LiteLLMInstrumentor()

    def _instrument(**kwargs: object) -> LiteLLMInstrumentor:
        kwargs.setdefault("capture_content", True)
        kwargs.setdefault("_content_registry", content_registry)
        if content_registry is not None and "meter_provider" not in kwargs:
            # as configure() does: no metrics pipeline and no MeterProvider of the app's
            kwargs.setdefault("_record_metrics", False)
        instrumentor.instrument(tracer_provider=provider, **kwargs)
        return instrumentor

    yield _instrument
    instrumentor.uninstrument()


@pytest.fixture
def instrumented(instrument: Callable[..., LiteLLMInstrumentor]) -> LiteLLMInstrumentor:
    """LiteLLM instrumented with content capture on."""
    return instrument()


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Callable[[], list[ReadableSpan]]:
    return lambda: list(exporter.get_finished_spans())


# GenAI metrics read from an SDK MeterProvider: recorded during the call (the instrumentor on
# its own) and queued in a MetricsHandoff, recorded when drained (under configure()).
@pytest.fixture(params=["direct", "handoff"])
def handoff(request: pytest.FixtureRequest) -> MetricsHandoff | None:
    return MetricsHandoff() if request.param == "handoff" else None


@pytest.fixture
def reader(handoff: MetricsHandoff | None) -> InMemoryMetricReader:
    return DrainingReader(handoff)


@pytest.fixture
def metered(instrument, reader, handoff):
    instrument(meter_provider=MeterProvider(metric_readers=[reader]), _metrics_handoff=handoff)
