"""The bridge's one processor: the content bound before any destination sees the span, each
sampled span queued to every destination once, sampled-out spans to none, the run link at
start."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_bridge.pipeline_processor import PipelineProcessor


def _provider(events, sampler=None, on_start=None):
    def bind(span):
        events.append(("bind", span.name))
        span.bound = True

    def receiver(name):
        return lambda span: events.append((name, span.name, getattr(span, "bound", False)))

    processor = PipelineProcessor(
        [receiver("otlp"), receiver("mlflow")],
        flush=lambda millis: events.append(("flush", millis)) or True,
        shutdown=lambda: events.append(("shutdown",)),
        bind=bind,
        on_start=on_start,
    )
    provider = TracerProvider(sampler=sampler) if sampler else TracerProvider()
    provider.add_span_processor(processor)
    return provider


def test_each_destination_gets_the_span_once_after_its_content_is_bound():
    events = []
    tracer = _provider(events).get_tracer("test")
    tracer.start_span("one").end()
    tracer.start_span("two").end()

    assert events == [
        ("bind", "one"),
        ("otlp", "one", True),
        ("mlflow", "one", True),
        ("bind", "two"),
        ("otlp", "two", True),
        ("mlflow", "two", True),
    ]


def test_a_sampled_out_span_reaches_no_destination():
    events = []
    _provider(events, sampler=ALWAYS_OFF).get_tracer("test").start_span("dropped").end()

    assert events == []


def test_the_run_link_sees_each_span_start_with_its_parent_context():
    events = []
    started = []
    tracer = _provider(events, on_start=lambda span, ctx: started.append(span.name)).get_tracer("t")
    with tracer.start_as_current_span("root"):
        tracer.start_span("child").end()

    assert started == ["root", "child"]


def test_the_providers_flush_and_shutdown_are_the_bridges():
    events = []
    provider = _provider(events)

    assert provider.force_flush(1234) is True
    provider.shutdown()

    (flush, millis), shutdown = events
    assert flush == "flush" and 1000 < millis <= 1234  # what is left of the provider's deadline
    assert shutdown == ("shutdown",)
