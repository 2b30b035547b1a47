"""Tags and previews MLflow reads from a trace's root span only, carried up to that root."""

from __future__ import annotations

import json
import random

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from otel_bridge.config import MlflowSettings
from otel_bridge.exporters.mlflow import MlflowSpanExporter
from otel_bridge.exporters.mlflow.trace_roots import TraceRoots
from otel_bridge.exporters.spans import replace_span


def messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def agent_trace(root_attributes=None):
    """app root -> two LLM calls, tags on the first, as the instrumentor writes them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("handle-request", attributes=root_attributes):
        with tracer.start_as_current_span(
            "chat m",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.input.messages": messages("user", "weather in Paris?"),
                "gen_ai.output.messages": messages("assistant", "calling get_weather"),
                "mlflow.traceTag.jobID": "214590dsff09fds",
                "mlflow.traceTag.taskName": "run_page_classification",
            },
        ):
            pass
        with tracer.start_as_current_span(
            "chat m",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.input.messages": messages("tool", "rainy"),
                "gen_ai.output.messages": messages("assistant", "It's rainy in Paris."),
            },
        ):
            pass
    return list(memory.get_finished_spans())  # children first, as a processor sees them


def root_of(spans):
    return next(s for s in spans if s.parent is None)


def test_root_gets_the_tags_the_first_input_and_the_last_output():
    root = root_of(TraceRoots().process(agent_trace()))
    assert root.attributes["mlflow.traceTag.jobID"] == "214590dsff09fds"
    assert root.attributes["mlflow.traceTag.taskName"] == "run_page_classification"
    assert "weather in Paris?" in root.attributes["mlflow.spanInputs"]
    assert "It's rainy in Paris." in root.attributes["mlflow.spanOutputs"]


def test_what_the_root_has_is_never_overwritten():
    own = {"mlflow.traceTag.jobID": "mine", "mlflow.spanInputs": '"my input"'}
    root = root_of(TraceRoots().process(agent_trace(own)))
    assert root.attributes["mlflow.traceTag.jobID"] == "mine"
    assert root.attributes["mlflow.spanInputs"] == '"my input"'
    assert "It's rainy" in root.attributes["mlflow.spanOutputs"]


def test_children_pass_through_unchanged_and_state_is_released():
    roots = TraceRoots()
    spans = agent_trace()
    processed = roots.process(spans)
    assert [s for s in processed if s.parent is not None] == [s for s in spans if s.parent]
    assert roots._pending == {} and roots._bytes == 0


def test_memory_is_bounded_oldest_trace_forgotten_first():
    roots = TraceRoots(memory_bytes=2000)
    traces = [agent_trace() for _ in range(30)]
    for spans in traces:
        roots.process([s for s in spans if s.parent is not None])  # roots never come
    assert roots._bytes <= 2000
    assert len(roots._pending) < 30
    # the newest trace is still remembered, the oldest is not
    assert traces[-1][0].context.trace_id in roots._pending
    assert traces[0][0].context.trace_id not in roots._pending


def test_mlflow_shows_tags_and_previews_for_an_app_root(tmp_path):
    from mlflow import MlflowClient

    exporter = MlflowSpanExporter(MlflowSettings(f"sqlite:///{tmp_path / 'mlflow.db'}"))
    spans = agent_trace()
    exporter.export(spans[:2])  # the LLM spans first, in one batch
    exporter.export(spans[2:])  # the root later, in another
    [stored] = MlflowClient(exporter.settings.tracking_uri).search_traces(
        locations=["0"], filter_string="tag.jobID = '214590dsff09fds'"
    )
    assert stored.info.tags["taskName"] == "run_page_classification"
    assert "weather in Paris?" in stored.info.request_preview
    assert "It's rainy in Paris." in stored.info.response_preview


def fan_out_trace(workers: int = 40, root_attributes=None):
    """app root -> ``workers`` LLM calls tagged worker:N, started in order N."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("fan-out", attributes=root_attributes):
        for n in range(workers):
            with tracer.start_as_current_span(
                "chat m", attributes={"mlflow.traceTag.worker": str(n)}
            ):
                pass
    return list(memory.get_finished_spans())


@pytest.mark.parametrize("order", ["as ended", "reversed", "shuffled", "one by one"])
def test_disagreeing_tags_lift_the_first_started_spans_value_in_any_export_order(order):
    spans = fan_out_trace()
    children, [root] = spans[:-1], spans[-1:]
    if order == "reversed":
        children.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(children)
    roots = TraceRoots()
    if order == "one by one":
        for child in children:
            roots.process([child])
        [lifted] = roots.process([root])
    else:
        lifted = root_of(roots.process([*children, root]))
    assert lifted.attributes["mlflow.traceTag.worker"] == "0"


def test_the_roots_own_tag_wins_over_its_spans():
    spans = fan_out_trace(root_attributes={"mlflow.traceTag.worker": "root"})
    assert root_of(TraceRoots().process(spans)).attributes["mlflow.traceTag.worker"] == "root"


def test_a_failed_root_gets_the_first_input_and_no_reply_for_its_output():
    spans = agent_trace()
    root = root_of(spans)
    failed = replace_span(root, status=Status(StatusCode.ERROR, "tool exploded"))
    lifted = root_of(TraceRoots().process([s for s in spans if s is not root] + [failed]))
    assert json.loads(lifted.attributes["mlflow.spanInputs"]) == {
        "messages": [{"role": "user", "content": "weather in Paris?"}]
    }
    assert "mlflow.spanOutputs" not in lifted.attributes


def test_an_llm_root_speaks_the_chat_shape_with_its_system_instructions():
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be a pirate."}]),
        "gen_ai.input.messages": messages("user", "How is the sea?"),
        "gen_ai.output.messages": messages("assistant", "Calm, arr."),
    }
    with provider.get_tracer("t").start_as_current_span("response m", attributes=attributes):
        pass
    [root] = TraceRoots().process(memory.get_finished_spans())
    assert json.loads(root.attributes["mlflow.spanInputs"]) == {
        "messages": [
            {"role": "system", "content": "Be a pirate."},
            {"role": "user", "content": "How is the sea?"},
        ]
    }
    assert json.loads(root.attributes["mlflow.spanOutputs"]) == {
        "messages": [{"role": "assistant", "content": "Calm, arr."}]
    }
