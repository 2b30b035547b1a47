"""What MLflow 3.17 makes of our spans: the MLflow destination's copies (its dialect), OTLP-encoded
and converted as MLflow's server and local store do."""

from __future__ import annotations

import litellm
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from otel_bridge.exporters.mlflow import rooted_here
from otel_bridge.exporters.mlflow.dialect import to_mlflow
from otel_bridge.exporters.mlflow.trace_roots import TraceRoots
from otel_bridge.instrumentation import trace

from .helpers import USER
from .test_http import WEATHER_TOOL

mlflow_entities = pytest.importorskip("mlflow.entities")
translation = pytest.importorskip("mlflow.tracing.otel.translation")


def _for_mlflow(exporter):
    """The spans as the MLflow destination sends them (MlflowSpanExporter.payloads)."""
    spans = [to_mlflow(rooted_here(span)) for span in exporter.get_finished_spans()]
    return encode_spans(TraceRoots().process(spans))


def _as_mlflow(exporter) -> dict[str, object]:
    """Spans by name, as MLflow stores and loads them (Span.from_otel_proto, the store's
    translate_span_when_storing, then Span.from_dict as on reading)."""
    request = _for_mlflow(exporter)
    converted = {}
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for proto in scope_spans.spans:
                span = mlflow_entities.Span.from_otel_proto(proto, resource=resource_spans.resource)
                stored = translation.translate_span_when_storing(span)
                converted[span.name] = mlflow_entities.Span.from_dict(stored)
    return converted


def test_chat_span_is_a_chat_model_with_inputs_outputs_and_usage(instrumented, exporter):
    messages = [{"role": "system", "content": "Be brief."}, *USER]
    litellm.completion(
        model="openai/gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL], mock_response="hello"
    )
    span = _as_mlflow(exporter)["chat gpt-4o-mini"]
    assert span.span_type == "CHAT_MODEL"
    # the trace's root: its inputs/outputs in the chat shape MLflow previews (the conventions'
    # messages stay in their attributes)
    assert span.inputs == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi - i'm openai"},
        ]
    }
    assert span.outputs == {"messages": [{"role": "assistant", "content": "hello"}]}
    assert span.get_attribute("gen_ai.output.messages") == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hello"}]}
    ]
    assert span.get_attribute("mlflow.chat.tokenUsage") == {
        "input_tokens": 10,
        "output_tokens": 20,
        "total_tokens": 30,
    }
    assert span.get_attribute("mlflow.llm.model") == "gpt-4o-mini"
    assert span.get_attribute("mlflow.llm.provider") == "openai"
    assert span.get_attribute("mlflow.chat.tools")[0]["name"] == "get_weather"


def test_embedding_and_decorated_spans(instrumented, exporter):
    @trace(span_type="AGENT", name="weather_agent")
    def run(query: str) -> str:
        litellm.embedding(model="openai/text-embedding-3-small", input=[query], mock_response=[0.1])
        return lookup(location="Paris", tool_call_id="call_1")

    @trace(span_type="TOOL")
    def lookup(location: str, tool_call_id: str | None = None) -> str:
        return parse("rainy")

    @trace(span_type="PARSER")
    def parse(text: str) -> dict:
        return {"weather": text}

    run("weather?")
    spans = _as_mlflow(exporter)
    agent = spans["invoke_agent weather_agent"]
    assert agent.span_type == "AGENT"
    assert agent.inputs == {"query": "weather?"}
    assert agent.outputs == {"weather": "rainy"}
    embedding = spans["embeddings text-embedding-3-small"]
    assert embedding.span_type == "EMBEDDING"
    assert embedding.inputs == {"input": ["weather?"]}
    tool = spans["execute_tool lookup"]
    assert tool.span_type == "TOOL"
    assert tool.inputs == {"location": "Paris"}
    assert tool.outputs == {"weather": "rainy"}
    parser = spans["parse"]
    assert parser.span_type == "PARSER"
    assert parser.inputs == {"text": "rainy"}
    assert parser.outputs == {"weather": "rainy"}


def test_what_the_store_reads_from_which_span(instrumented, exporter, tmp_path):
    """MLflow's SQL store (the server's and the embedded one): mlflow.traceTag.* from the ROOT
    span only; user.id / session.id (or gen_ai.conversation.id) from any span; the trace's
    request/response previews from the root span's inputs/outputs."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    metadata = {"tags": ["jobID:214590dsff09fds", "nightly"], "session_id": "session-1"}

    @trace(span_type="AGENT", name="agent")
    def run(query: str) -> str:
        litellm.completion(
            model="openai/gpt-4o-mini",
            messages=USER,
            mock_response="hello",
            user="user-7",
            metadata=metadata,
        )
        return "done"

    run("weather?")
    agent_trace = exporter.get_finished_spans()[0].context.trace_id
    litellm.completion(  # a trace whose root is the LLM span itself
        model="openai/gpt-4o-mini",
        messages=USER,
        mock_response="hello",
        litellm_metadata={"tags": ["jobID:214590dsff09fds", "taskName:classify"]},
    )

    store = SqlAlchemyStore(f"sqlite:///{tmp_path}/mlflow.db", str(tmp_path / "artifacts"))
    experiment_id = store.create_experiment("otel-bridge-instrumentation")
    request = _for_mlflow(exporter)
    spans = [
        mlflow_entities.Span.from_otel_proto(proto, resource=rs.resource)
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for proto in ss.spans
    ]
    store.log_spans(experiment_id, spans)
    agent_id = next(s.trace_id for s in spans if s._span.context.trace_id == agent_trace)
    llm_id = next(s.trace_id for s in spans if s.trace_id != agent_id)

    agent = store.get_trace_info(agent_id)
    assert agent.tags["jobID"] == "214590dsff09fds"  # carried from the LLM span to the root
    assert "nightly" not in agent.tags  # a plain tag from the SDK is no trace tag
    assert agent.trace_metadata["mlflow.trace.user"] == "user-7"
    assert agent.trace_metadata["mlflow.trace.session"] == "session-1"
    assert '"output_tokens": 20' in agent.trace_metadata["mlflow.trace.tokenUsage"]
    assert "weather?" in agent.request_preview
    assert "done" in agent.response_preview

    root_llm = store.get_trace_info(llm_id)
    assert root_llm.tags["jobID"] == "214590dsff09fds"
    assert root_llm.tags["taskName"] == "classify"
    assert "Hi - i'm openai" in root_llm.request_preview
    assert "hello" in root_llm.response_preview
