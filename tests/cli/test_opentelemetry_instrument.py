"""The ecosystem path: `opentelemetry-instrument` (opentelemetry-distro) finds otel-bridge's entry
points, the `litellm` instrumentor and the `mlflow` traces exporter, with no otel_bridge import in
the application."""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import BIN, TRACED_CALL_APP, AppRun, base_env
from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.e2e


@dataclass
class InstrumentedRun:
    run: AppRun
    cwd: Path
    service: str

    @property
    def trace_id(self) -> str:
        return self.run.result["trace_id"]


def opentelemetry_instrument(cwd: Path, env: dict[str, str]) -> AppRun:
    assert "otel_bridge" not in TRACED_CALL_APP
    (cwd / "app.py").write_text(TRACED_CALL_APP)
    cmd = [str(BIN / "opentelemetry-instrument"), sys.executable, "app.py"]
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return AppRun(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def dual(
    otlp_receiver_session: OtlpReceiver, openai_server_session, tmp_path_factory
) -> InstrumentedRun:
    """One app run with OTEL_TRACES_EXPORTER=otlp,mlflow, shared by the checks below."""
    otlp_receiver_session.reset_faults()  # the session's receiver, as other tests left it
    cwd = tmp_path_factory.mktemp("instrumented")
    service = f"instrumented-{uuid.uuid4().hex[:8]}"
    env = base_env(
        OTEL_SERVICE_NAME=service,
        OTEL_TRACES_EXPORTER="otlp,mlflow",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver_session.grpc_endpoint,
        # The distro defaults metrics and logs to OTLP too; this app only sends traces.
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        TEST_OPENAI_BASE=openai_server_session.base_url,
    )
    run = opentelemetry_instrument(cwd, env)
    assert run.returncode == 0, run.stderr
    return InstrumentedRun(run, cwd, service)


def test_one_trace_in_the_otlp_receiver_and_in_mlflow(dual, otlp_receiver_session):
    spans = otlp_receiver_session.wait_for_spans(2, lambda s: s.trace_id == dual.trace_id)
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"handle-request", "chat gpt-4o-mini"}
    llm = by_name["chat gpt-4o-mini"]
    assert llm.parent_span_id == dual.run.result["span_id"]
    assert llm.protocol == "grpc"  # the distro's default OTEL_EXPORTER_OTLP_PROTOCOL
    assert llm.resource["service.name"] == dual.service
    assert llm.attributes["gen_ai.operation.name"] == "chat"

    # The embedded store in the app's working directory, experiment named after the service.
    client = MlflowClient(f"sqlite:///{dual.cwd / 'mlflow.db'}")
    [trace] = wait_for_traces(client, wait_for_experiment(client, dual.service), spans=2)
    assert trace.info.trace_id == f"tr-{dual.trace_id}"
    mlflow_spans = {s.name: s for s in trace.data.spans}
    assert set(mlflow_spans) == {"handle-request", "chat gpt-4o-mini"}
    chat = mlflow_spans["chat gpt-4o-mini"]
    assert chat.span_type == "CHAT_MODEL"
    assert chat.parent_id == mlflow_spans["handle-request"].span_id
    # No content by default here: nothing could keep it out of the OTLP backend.
    assert chat.inputs is None


def test_content_stays_out_of_the_otlp_backend_by_default(dual, otlp_receiver_session):
    spans = otlp_receiver_session.wait_for_spans(2, lambda s: s.trace_id == dual.trace_id)
    llm = next(s for s in spans if s.name == "chat gpt-4o-mini")
    assert "gen_ai.input.messages" not in llm.attributes


def test_the_distro_alone_exports_to_otlp_only(otlp_receiver, openai_server, tmp_path):
    """opentelemetry-distro sets OTEL_TRACES_EXPORTER=otlp when unset: MLflow must be named."""
    env = base_env(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.grpc_endpoint,
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        TEST_OPENAI_BASE=openai_server.base_url,
    )
    run = opentelemetry_instrument(tmp_path, env)
    assert run.returncode == 0, run.stderr
    spans = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == run.result["trace_id"])
    assert {s.name for s in spans} == {"handle-request", "chat gpt-4o-mini"}
    assert not (tmp_path / "mlflow.db").exists()


# Last: its function-scoped receiver fixture clears the spans the module's `dual` run left.
def test_content_goes_to_both_when_the_switch_says_so(otlp_receiver, openai_server, tmp_path):
    service = f"instrumented-content-{uuid.uuid4().hex[:8]}"
    env = base_env(
        OTEL_SERVICE_NAME=service,
        OTEL_TRACES_EXPORTER="otlp,mlflow",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.grpc_endpoint,
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true",
        TEST_OPENAI_BASE=openai_server.base_url,
    )
    run = opentelemetry_instrument(tmp_path, env)
    assert run.returncode == 0, run.stderr
    trace_id = run.result["trace_id"]
    spans = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == trace_id)
    llm = next(s for s in spans if s.name == "chat gpt-4o-mini")
    assert "Hi - i'm openai" in llm.attributes["gen_ai.input.messages"]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    [trace] = wait_for_traces(client, wait_for_experiment(client, service), spans=2)
    chat = next(s for s in trace.data.spans if s.name == "chat gpt-4o-mini")
    assert "Hi - i'm openai" in str(chat.inputs)
