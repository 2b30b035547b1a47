"""What each destination's copy of a span looks like: content stripped, remote parents cut."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otel_bridge.attributes import CONTENT_ATTRIBUTES
from otel_bridge.config import MlflowSettings
from otel_bridge.exporters.mlflow import MlflowSpanExporter, rooted_here
from otel_bridge.pipeline_content import without_content

CALLER = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
)


def finished_spans(attributes=None, parent_context=None):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    context = (
        trace.set_span_in_context(NonRecordingSpan(parent_context)) if parent_context else None
    )
    with (
        tracer.start_as_current_span("proxy", context=context, attributes=attributes),
        tracer.start_as_current_span("chat m"),
    ):
        pass
    return {s.name: s for s in memory.get_finished_spans()}


def test_content_is_stripped_and_everything_else_kept():
    attributes = {key: f"secret {key}" for key in CONTENT_ATTRIBUTES}
    attributes.update({"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 3})
    span = finished_spans(attributes)["proxy"]
    stripped = without_content(span)
    assert dict(stripped.attributes) == {
        "gen_ai.request.model": "m",
        "gen_ai.usage.input_tokens": 3,
    }
    assert stripped.context == span.context and stripped.parent == span.parent
    assert (stripped.start_time, stripped.end_time) == (span.start_time, span.end_time)
    assert set(span.attributes) >= CONTENT_ATTRIBUTES  # the original is untouched


def test_a_span_without_content_is_passed_as_is():
    span = finished_spans({"a": 1})["proxy"]
    assert without_content(span) is span


def test_a_remote_parent_makes_the_span_the_mlflow_root():
    spans = finished_spans(parent_context=CALLER)
    proxy, chat = spans["proxy"], spans["chat m"]
    assert proxy.parent.span_id == CALLER.span_id
    rooted = rooted_here(proxy)
    assert rooted.parent is None
    assert rooted.context.trace_id == CALLER.trace_id
    assert rooted_here(chat) is chat  # a local parent stays


def test_mlflow_stores_the_remote_childs_trace_with_a_root(tmp_path):
    exporter = MlflowSpanExporter(MlflowSettings(f"sqlite:///{tmp_path / 'mlflow.db'}"))
    spans = finished_spans(parent_context=CALLER)
    assert exporter.export(list(spans.values())).name == "SUCCESS"

    from mlflow import MlflowClient

    [stored] = MlflowClient(exporter.settings.tracking_uri).search_traces(locations=["0"])
    assert stored.info.trace_id == f"tr-{CALLER.trace_id:032x}"
    by_name = {s.name: s for s in stored.data.spans}
    assert by_name["proxy"].parent_id is None
    assert by_name["chat m"].parent_id == by_name["proxy"].span_id
    assert stored.info.state == "OK"
