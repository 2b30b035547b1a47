"""Deferred content's parts on their own: built once, a failing part alone missing, the
registry bounded, the binder and the exporter's rewrite; deferred usage for every destination."""

from __future__ import annotations

import threading

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.deferred_content import (
    MAX_PENDING,
    ContentRegistry,
    DeferredAttributes,
    PendingContent,
)
from otel_bridge.pipeline_content import (
    ContentBinder,
    ContentExporter,
    with_content,
    without_content,
)


def test_attributes_are_built_once_and_a_failing_one_is_left_out():
    calls = []

    def build(value):
        calls.append(value)
        return [value]

    def broken():
        raise ValueError("cannot build")

    pending = PendingContent(lambda value, secrets=(): f"json:{value}")
    pending.items.append(("a", build, ("x",)))
    pending.items.append(("b", broken, ()))

    assert pending.attributes() == {"a": "json:['x']"}
    assert pending.attributes() == {"a": "json:['x']"}
    assert calls == ["x"]


def test_the_registry_keeps_at_most_max_pending_entries_dropping_the_oldest():
    registry = ContentRegistry()
    entries = [PendingContent(str) for _ in range(MAX_PENDING + 2)]
    for span_id, entry in enumerate(entries):
        registry.put(span_id, entry)

    assert len(registry) == MAX_PENDING
    assert registry.pop(0) is None and registry.pop(1) is None
    assert registry.pop(MAX_PENDING + 1) is entries[-1]
    assert registry.pop(MAX_PENDING + 1) is None  # taken once


def test_the_binder_hands_the_content_to_the_exporter_of_that_span_only():
    registry = ContentRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ContentBinder(registry))
    provider.add_span_processor(SimpleSpanProcessor(ContentExporter(exporter)))
    tracer = provider.get_tracer("test")

    with_pending = tracer.start_span("with", attributes={"kept": 1})
    pending = PendingContent(lambda value, secrets=(): value)
    pending.items.append(("gen_ai.input.messages", str.upper, ("hello",)))
    registry.put(with_pending.get_span_context().span_id, pending)
    with_pending.end()
    tracer.start_span("without").end()

    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert dict(spans["with"].attributes) == {"kept": 1, "gen_ai.input.messages": "HELLO"}
    assert dict(spans["without"].attributes) == {}
    assert len(registry) == 0
    assert with_content(spans["without"]) is spans["without"]


def test_deferred_usage_reaches_destinations_with_and_without_content_built_once():
    registry = ContentRegistry()
    with_, without = InMemorySpanExporter(), InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ContentBinder(registry))
    provider.add_span_processor(SimpleSpanProcessor(ContentExporter(with_)))
    provider.add_span_processor(SimpleSpanProcessor(_Rewriting(without, without_content)))
    tracer = provider.get_tracer("test")
    builds = []

    def count(text):
        builds.append(text)
        return {"gen_ai.usage.output_tokens": len(text.split())}

    span = tracer.start_span("stream", attributes={"kept": 1})
    pending = PendingContent(lambda value, secrets=(): value)
    pending.usage = DeferredAttributes(count, "three short words")
    registry.put(span.get_span_context().span_id, pending)
    span.end()

    expected = {"kept": 1, "gen_ai.usage.output_tokens": 3}
    assert dict(with_.get_finished_spans()[0].attributes) == expected
    assert dict(without.get_finished_spans()[0].attributes) == expected
    assert builds == ["three short words"]


def test_a_failing_deferred_builder_leaves_the_span_as_it_was():
    def broken():
        raise ValueError("cannot count")

    pending = PendingContent(str)
    pending.usage = DeferredAttributes(broken)
    assert pending.usage_attributes() == {}
    assert pending.usage_attributes() == {}  # not retried


class _Rewriting(SpanExporter):
    """A destination without content: its spans rewritten as the pipeline does."""

    def __init__(self, inner, rewrite):
        self._inner, self._rewrite = inner, rewrite

    def export(self, spans):
        return self._inner.export([self._rewrite(span) for span in spans])


def test_threads_asking_for_deferred_attributes_at_once_get_one_build():
    """Each destination's worker and the metrics drainer may ask together (a busy machine):
    the second waits for the first's result instead of running the tokenizer again."""
    calls = []
    building, release = threading.Event(), threading.Event()

    def build():
        calls.append(threading.current_thread().name)
        building.set()
        assert release.wait(30)
        return {"gen_ai.usage.output_tokens": 7}

    usage = DeferredAttributes(build)
    results = {}

    def ask(name):
        results[name] = usage.attributes()

    first = threading.Thread(target=ask, args=("first",), name="first")
    first.start()
    assert building.wait(30)
    second = threading.Thread(target=ask, args=("second",), name="second")
    second.start()
    second.join(0.5)  # time for it to reach the build it must not run
    assert second.is_alive()  # waiting for the first's result
    release.set()
    first.join(30)
    second.join(30)
    assert calls == ["first"]
    assert results["first"] is results["second"] == {"gen_ai.usage.output_tokens": 7}
