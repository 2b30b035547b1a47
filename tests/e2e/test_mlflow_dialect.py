"""Issue 14: content sent to both destinations, and MLflow's dialect reaches MLflow only.

One app, under `otel-bridge run` with `OTEL_BRIDGE_CONTENT_DESTINATIONS=otlp,mlflow`, inside an
MLflow run: an AGENT step (the trace's root) around a CHAIN step, a chat call with request tags,
a user and a session, and an embeddings call. The real OTLP receiver gets the GenAI conventions
(content included) and not one `mlflow.*` or `otel_bridge.*` key; MLflow (the real server and the
embedded store) shows span types, inputs / outputs, trace tags, user, session and the run link.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import base_env, run_app

pytestmark = pytest.mark.e2e

APP = """
import json, os
import mlflow
import litellm
from otel_bridge import trace


@trace(span_type="AGENT", name="weather_agent")
def agent(question):
    return summarise(question)


@trace  # a CHAIN step
def summarise(question):
    litellm.embedding(model="openai/text-embedding-3-small", input=[question],
                      mock_response=[0.1, 0.2])
    reply = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": question}],
        mock_response="Rainy, take an umbrella.",
        user="user-dialect",
        metadata={"tags": ["jobID:214590dsff09fds", "nightly"], "session_id": "session-dialect"},
    )
    return reply.choices[0].message.content


with mlflow.start_run() as run:
    with trace(name="unused", span_type="CHAIN"):
        pass  # a trace of its own: under the run too
    answer = agent("Weather in Paris?")
print(json.dumps({"answer": answer, "run_id": run.info.run_id}))
"""


@pytest.mark.parametrize("mlflow_mode", ["server", "embedded"])
def test_otlp_gets_the_conventions_and_mlflow_its_dialect(
    mlflow_mode, otlp_receiver, mlflow_server, tmp_path: Path
):
    service = f"dialect-{uuid.uuid4().hex[:8]}"
    tracking_uri = (
        mlflow_server.uri if mlflow_mode == "server" else f"sqlite:///{tmp_path / 'mlflow.db'}"
    )
    env = base_env(
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BRIDGE_CONTENT_DESTINATIONS="otlp,mlflow",
        MLFLOW_TRACKING_URI=tracking_uri,
        MLFLOW_EXPERIMENT_NAME=service,  # the app's run and the bridge's traces
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",  # a fresh server prices its first LLM span slowly
    )
    run = run_app(APP, tmp_path, env, timeout=240)
    assert run.returncode == 0, run.stderr
    run_id = run.result["run_id"]

    # OTLP: every span with the conventions and content, none with MLflow's keys or ours.
    spans = otlp_receiver.wait_for_spans(5, lambda s: s.resource.get("service.name") == service)
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {
        "unused",
        "invoke_agent weather_agent",
        "summarise",
        "embeddings text-embedding-3-small",
        "chat gpt-4o-mini",
    }
    leaked = {
        (s.name, k)
        for s in spans
        for k in s.attributes
        if k.startswith(("mlflow.", "otel_bridge."))
    }
    assert leaked == set()
    chat = by_name["chat gpt-4o-mini"].attributes
    assert "Weather in Paris?" in chat["gen_ai.input.messages"]
    assert chat["user.id"] == "user-dialect" and chat["session.id"] == "session-dialect"
    assert list(chat["litellm.request.tags"]) == ["jobID:214590dsff09fds", "nightly"]
    assert by_name["summarise"].attributes["litellm.span.type"] == "CHAIN"
    assert "Weather in Paris?" in by_name["summarise"].attributes["litellm.span.input"]

    # MLflow: the same trace with types, inputs/outputs, tags, user, session and run link.
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(service)
    assert experiment is not None, run.stderr
    agent_trace = f"tr-{by_name['invoke_agent weather_agent'].trace_id}"
    other_trace = f"tr-{by_name['unused'].trace_id}"
    deadline = time.monotonic() + 120
    while True:
        found = client.search_traces(locations=[experiment.experiment_id], run_id=run_id)
        if {t.info.trace_id for t in found} == {agent_trace, other_trace}:
            break
        assert time.monotonic() < deadline, (found, run.stderr)
        time.sleep(1)
    trace = client.get_trace(agent_trace)
    stored = {s.name: s for s in trace.data.spans}
    assert {n: s.span_type for n, s in stored.items()} == {
        "invoke_agent weather_agent": "AGENT",
        "summarise": "CHAIN",
        "embeddings text-embedding-3-small": "EMBEDDING",
        "chat gpt-4o-mini": "CHAT_MODEL",
    }
    assert stored["invoke_agent weather_agent"].inputs == {"question": "Weather in Paris?"}
    assert stored["invoke_agent weather_agent"].outputs == "Rainy, take an umbrella."
    assert stored["summarise"].inputs == {"question": "Weather in Paris?"}
    assert stored["embeddings text-embedding-3-small"].inputs == {"input": ["Weather in Paris?"]}
    root = stored["invoke_agent weather_agent"]
    assert root.attributes["otel_bridge.mlflow.run_id"] == run_id
    assert trace.info.tags["jobID"] == "214590dsff09fds"
    assert "nightly" not in trace.info.tags
    assert trace.info.trace_metadata["mlflow.trace.user"] == "user-dialect"
    assert trace.info.trace_metadata["mlflow.trace.session"] == "session-dialect"
    assert "Weather in Paris?" in trace.info.request_preview
    assert "umbrella" in trace.info.response_preview
