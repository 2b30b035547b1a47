"""Issue 8, runs: the MLflow run active on the app's thread when a trace's root span starts is
carried on the MLflow destination's copy of that root (never on the span itself, which other
destinations receive too) and sent as `x-mlflow-run-id` with it (end to end: test_search.py)."""

from __future__ import annotations

import sys
import threading
import time
from types import SimpleNamespace

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.config import MlflowSettings
from otel_bridge.exporters.mlflow.dialect import to_mlflow
from otel_bridge.exporters.mlflow.runs import (
    RUN_ID_ATTRIBUTE,
    ActiveRunProcessor,
    RunLinks,
    run_of,
    split_by_run,
)
from otel_bridge.exporters.mlflow.transports import ServerTransport
from otel_bridge.exporters.retry import RetryPolicy


class FakeFluent:
    """Stands in for mlflow.tracking.fluent: a per-thread active run, as MLflow keeps it."""

    def __init__(self) -> None:
        self._local = threading.local()
        self.calls = 0

    def start(self, run_id: str) -> None:
        self._local.run = SimpleNamespace(info=SimpleNamespace(run_id=run_id))

    def end(self) -> None:
        self._local.run = None

    def active_run(self):
        self.calls += 1
        return getattr(self._local, "run", None)


@pytest.fixture
def fluent(monkeypatch: pytest.MonkeyPatch) -> FakeFluent:
    fake = FakeFluent()
    monkeypatch.setitem(sys.modules, "mlflow.tracking.fluent", fake)
    return fake


class ForMlflow:
    """The finished spans as the MLflow destination writes them (its dialect adds the run)."""

    def __init__(self, memory: InMemorySpanExporter, links: RunLinks) -> None:
        self._memory = memory
        self._links = links
        self._done: dict[tuple[int, int], object] = {}

    def get_finished_spans(self) -> list:
        spans = self._memory.get_finished_spans()
        # the spans themselves never carry the run: the OTLP destination receives them too
        assert not [k for s in spans for k in s.attributes if k.startswith("otel_bridge.")]
        for span in spans:
            key = (span.context.trace_id, span.context.span_id)
            if key not in self._done:
                self._done[key] = to_mlflow(span, self._links)
        return [self._done[(s.context.trace_id, s.context.span_id)] for s in spans]


@pytest.fixture
def traced():
    memory = InMemorySpanExporter()
    links = RunLinks()
    provider = TracerProvider()
    provider.add_span_processor(ActiveRunProcessor(links))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider.get_tracer("t"), ForMlflow(memory, links)


def test_run_links_are_bounded_and_taken_once():
    links = RunLinks(limit=2)
    spans = [SimpleNamespace(context=SimpleNamespace(trace_id=1, span_id=i)) for i in range(1, 4)]
    for i, span in enumerate(spans):
        links.put(span, f"run-{i}")
    assert links.pop(spans[0]) is None  # the oldest, forgotten past the bound
    assert links.pop(spans[2]) == "run-2"
    assert links.pop(spans[2]) is None
    assert links.pop(spans[1]) == "run-1"


def test_the_root_started_under_a_run_carries_it_and_its_children_do_not(fluent, traced):
    tracer, memory = traced
    with tracer.start_as_current_span("outside"):
        pass
    fluent.start("run-1")
    with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
        pass
    fluent.end()
    spans = {s.name: s for s in memory.get_finished_spans()}
    assert RUN_ID_ATTRIBUTE not in spans["outside"].attributes
    assert spans["root"].attributes[RUN_ID_ATTRIBUTE] == "run-1"
    assert RUN_ID_ATTRIBUTE not in spans["child"].attributes
    assert fluent.calls == 2  # once per root span, never for a child


def test_the_run_is_the_starting_threads_own(fluent, traced):
    tracer, memory = traced
    fluent.start("main-thread-run")

    def worker() -> None:
        with tracer.start_as_current_span("worker-root"):
            pass

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    with tracer.start_as_current_span("main-root"):
        pass
    spans = {s.name: s for s in memory.get_finished_spans()}
    assert RUN_ID_ATTRIBUTE not in spans["worker-root"].attributes
    assert spans["main-root"].attributes[RUN_ID_ATTRIBUTE] == "main-thread-run"


def test_a_root_under_a_remote_parent_counts_as_a_root(fluent, traced):
    tracer, memory = traced
    remote = trace_api.SpanContext(
        trace_id=0x1234, span_id=0x5678, is_remote=True, trace_flags=trace_api.TraceFlags(1)
    )
    fluent.start("run-2")
    parent = trace_api.set_span_in_context(trace_api.NonRecordingSpan(remote))
    with tracer.start_as_current_span("proxied", context=parent):
        pass
    [span] = memory.get_finished_spans()
    assert span.attributes[RUN_ID_ATTRIBUTE] == "run-2"
    assert run_of(span) == "run-2"


def test_without_mlflow_imported_nothing_is_read_or_imported(monkeypatch, traced):
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, name)
    tracer, memory = traced
    with tracer.start_as_current_span("root"):
        pass
    assert "mlflow.tracking.fluent" not in sys.modules and "mlflow" not in sys.modules
    assert RUN_ID_ATTRIBUTE not in memory.get_finished_spans()[0].attributes


def test_a_broken_mlflow_never_breaks_the_app(monkeypatch, traced):
    def boom():
        raise RuntimeError("half imported")

    monkeypatch.setitem(sys.modules, "mlflow.tracking.fluent", SimpleNamespace(active_run=boom))
    tracer, memory = traced
    with tracer.start_as_current_span("root"):
        pass
    assert RUN_ID_ATTRIBUTE not in memory.get_finished_spans()[0].attributes


def traces_under(fluent: FakeFluent, tracer, runs: list[str | None]) -> None:
    """One trace (root + child) per entry, started under that run (None: no run)."""
    for run_id in runs:
        if run_id:
            fluent.start(run_id)
        root, child = f"root-{run_id}", f"child-{run_id}"
        with tracer.start_as_current_span(root), tracer.start_as_current_span(child):
            pass
        fluent.end()


def names(spans) -> set[str]:
    return {s.name for s in spans}


def test_split_by_run_keeps_one_group_when_no_root_has_a_run(fluent, traced):
    tracer, memory = traced
    traces_under(fluent, tracer, [None, None])
    spans = memory.get_finished_spans()
    assert split_by_run(spans) == [(None, list(spans))]


def test_split_by_run_groups_roots_by_run_and_children_ride_along(fluent, traced):
    tracer, memory = traced
    traces_under(fluent, tracer, ["a", None, "b", "a"])
    groups = dict(split_by_run(memory.get_finished_spans()))
    assert set(groups) == {"a", None, "b"}
    assert names(groups["a"]) == {"root-a", "child-a", "child-None", "child-b"}
    assert names(groups[None]) == {"root-None"}
    assert names(groups["b"]) == {"root-b"}
    assert sum(len(g) for g in groups.values()) == 8
    # a child whose root passed in an earlier batch goes with whatever group comes first
    children_only = [s for s in memory.get_finished_spans() if s.name.startswith("child")]
    assert split_by_run(children_only) == [(None, children_only)]


def test_the_server_transport_sends_the_run_header_only_with_a_run(fluent, traced, otlp_receiver):
    tracer, memory = traced
    traces_under(fluent, tracer, ["run-7", None])
    transport = ServerTransport(MlflowSettings(otlp_receiver.http_base), "3", RetryPolicy())
    for run_id, group in split_by_run(memory.get_finished_spans()):
        transport.send(encode_spans(group), time.monotonic() + 5, run_id=run_id)
    received = {s.name: s for s in otlp_receiver.wait_for_spans(4)}
    assert received["root-run-7"].headers["x-mlflow-run-id"] == "run-7"
    assert "x-mlflow-run-id" not in received["root-None"].headers
    assert all(s.headers["x-mlflow-experiment-id"] == "3" for s in received.values())
