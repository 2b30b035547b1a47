"""Issue 2 end to end: env vars in, one trace out in an OTLP receiver and in MLflow."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import (
    ONE_SPAN_APP,
    TRACED_CALL_APP,
    base_env,
    run_app,
    stopped_or_reported,
)
from tests.support.mlflow_traces import wait_for_experiment, wait_for_trace

pytestmark = pytest.mark.e2e


def mlflow_trace(client: MlflowClient, experiment_name: str, trace_id: str):
    """The app's trace (its span and the LLM span) in the named experiment, once it landed: a
    fresh server stores the first LLM span only after it imported LiteLLM to price it."""
    experiment_id = wait_for_experiment(client, experiment_name)
    trace = wait_for_trace(client, trace_id, spans=2)
    assert trace.info.experiment_id == experiment_id
    return trace


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
@pytest.mark.parametrize("mlflow_mode", ["server", "embedded"])
def test_one_trace_in_both_destinations(
    protocol, mlflow_mode, otlp_receiver, openai_server, mlflow_server, tmp_path: Path
):
    service = f"checkout-bot-{uuid.uuid4().hex[:8]}"
    endpoint = otlp_receiver.grpc_endpoint if protocol == "grpc" else otlp_receiver.http_endpoint
    env = base_env(
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=protocol,
        TEST_OPENAI_BASE=openai_server.base_url,
        # at exit: MLflow's store opens (or a fresh server prices the LLM span) meanwhile
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",
    )
    if mlflow_mode == "server":
        env["MLFLOW_TRACKING_URI"] = mlflow_server.uri
        tracking_uri = mlflow_server.uri
    else:
        tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the default, in the app's cwd

    run = run_app(TRACED_CALL_APP, tmp_path, env)
    assert run.returncode == 0, run.stderr
    trace_id, app_span_id = run.result["trace_id"], run.result["span_id"]

    # OTLP: the app span and the LLM span, one trace, the LLM span a child of the app's.
    spans = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == trace_id)
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"handle-request", "chat gpt-4o-mini"}
    llm = by_name["chat gpt-4o-mini"]
    assert llm.parent_span_id == app_span_id
    assert llm.kind_name == "SPAN_KIND_CLIENT"
    assert llm.protocol == ("grpc" if protocol == "grpc" else "http")
    assert llm.resource["service.name"] == service
    assert llm.attributes["gen_ai.operation.name"] == "chat"
    assert llm.attributes["gen_ai.usage.input_tokens"] == 11
    # Content goes to MLflow, not to the OTLP backend, by default.
    assert "gen_ai.input.messages" not in llm.attributes

    # MLflow: the same trace id, the LLM span typed CHAT_MODEL, with its usage and inputs.
    trace = mlflow_trace(MlflowClient(tracking_uri), service, trace_id)
    mlflow_spans = {s.name: s for s in trace.data.spans}
    assert set(mlflow_spans) == {"handle-request", "chat gpt-4o-mini"}
    assert {name: s.span_id for name, s in mlflow_spans.items()} == {
        name: s.span_id for name, s in by_name.items()
    }
    chat = mlflow_spans["chat gpt-4o-mini"]
    assert chat.span_type == "CHAT_MODEL"
    assert chat.parent_id == mlflow_spans["handle-request"].span_id
    # the loopback model reports cached_tokens=0, as OpenAI does: a value, passed through
    assert trace.info.token_usage == {
        "input_tokens": 11,
        "output_tokens": 7,
        "total_tokens": 18,
        "cache_read_input_tokens": 0,
    }
    assert "Hi - i'm openai" in str(chat.inputs)


def test_run_passes_the_exit_code_and_output_through(otlp_receiver, openai_server, tmp_path):
    env = base_env(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        TEST_OPENAI_BASE=openai_server.base_url,
        TEST_EXIT_CODE="3",
    )
    run = run_app(TRACED_CALL_APP, tmp_path, env)
    assert run.returncode == 3, run.stderr
    assert run.result["content"] == "Hello from the loopback model."
    # flushed at exit even though the program exited with an error code
    otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == run.result["trace_id"])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4317",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift",
            },
            "otel-bridge: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='thrift': unknown protocol",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4317"},
            "otel-bridge: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='collector:4317': needs a scheme",
        ),
        (
            {"OTEL_EXPORTER_OTLP_HEADERS": "k", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318"},
            "otel-bridge: OTEL_EXPORTER_OTLP_HEADERS='k': malformed entry",
        ),
    ],
)
def test_run_refuses_bad_configuration_with_exit_2(env, expected, tmp_path):
    run = run_app("print('app ran')", tmp_path, base_env(**env))
    assert run.returncode == 2
    assert run.stderr.strip().startswith(expected), run.stderr
    assert "Traceback" not in run.stderr
    assert "app ran" not in run.stdout


def test_run_refuses_an_unreachable_mlflow_server_without_a_spool(tmp_path):
    from tests.support.ports import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    env = base_env(MLFLOW_TRACKING_URI=uri, OTEL_BRIDGE_SPOOL="off")
    run = run_app("print('app ran')", tmp_path, env)
    assert run.returncode == 2
    assert run.stderr.startswith(f"otel-bridge: MLFLOW_TRACKING_URI='{uri}': cannot reach")
    assert "Traceback" not in run.stderr


def test_run_starts_the_app_when_the_mlflow_server_is_down_and_spools(tmp_path):
    """With the spool on (the default) a server that cannot be reached only warns: the app runs
    and MLflow's spans wait on disk (delivered later: tests/reliability/test_mlflow_restart.py)."""
    from tests.support.ports import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    env = base_env(MLFLOW_TRACKING_URI=uri, OTEL_SERVICE_NAME="down-at-start")
    app = """
from opentelemetry import trace
with trace.get_tracer("app").start_as_current_span("work"):
    pass
print('app ran')
"""
    run = run_app(app, tmp_path, env)
    assert run.returncode == 0, run.stderr
    assert "app ran" in run.stdout
    assert "otel-bridge: mlflow cannot take spans now (MLFLOW_TRACKING_URI=" in run.stderr
    assert "cannot reach the MLflow server" in run.stderr
    assert "spans wait in the spool at" in run.stderr and "otel-bridge flush" in run.stderr
    assert "Traceback" not in run.stderr
    spool = tmp_path / ".otel-bridge" / "spool" / "down-at-start" / "mlflow"
    assert len(list(spool.glob("[0-9]*.span"))) == 1


def test_run_refuses_a_missing_experiment_id(mlflow_server, tmp_path):
    env = base_env(MLFLOW_TRACKING_URI=mlflow_server.uri, MLFLOW_EXPERIMENT_ID="987654")
    run = run_app(ONE_SPAN_APP, tmp_path, env)
    stopped_or_reported(
        run, f"MLFLOW_EXPERIMENT_ID='987654': no such experiment on {mlflow_server.uri}"
    )


def test_experiment_name_is_created_and_reused(
    mlflow_server, otlp_receiver, openai_server, tmp_path
):
    name = f"evals-{uuid.uuid4().hex[:8]}"
    env = base_env(
        MLFLOW_TRACKING_URI=mlflow_server.uri,
        MLFLOW_EXPERIMENT_NAME=name,
        OTEL_SERVICE_NAME="not-the-experiment",
        TEST_OPENAI_BASE=openai_server.base_url,
    )
    first = run_app(TRACED_CALL_APP, tmp_path, env)
    second = run_app(TRACED_CALL_APP, tmp_path, env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    client = MlflowClient(mlflow_server.uri)
    for run in (first, second):
        mlflow_trace(client, name, run.result["trace_id"])
    assert client.get_experiment_by_name("not-the-experiment") is None
