"""`otel_bridge.configure()` called from the app's own code, each case in a fresh process."""

from __future__ import annotations

import pytest

from tests.e2e.apps import base_env, run_app
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e

CALL = """
import json, litellm
from opentelemetry import trace
def call():
    with trace.get_tracer("app").start_as_current_span("handle") as span:
        litellm.completion(model="gpt-4o-mini", mock_response="ok",
                           messages=[{"role": "user", "content": "hi"}])
    return format(span.get_span_context().trace_id, "032x")
"""


def test_configure_twice_doubles_nothing(otlp_receiver, tmp_path):
    app = (
        CALL
        + """
import otel_bridge
first = otel_bridge.configure()
second = otel_bridge.configure()
trace_id = call()
assert first.force_flush()
print(json.dumps({"same": first is second, "trace_id": trace_id, "stats": first.stats()}))
"""
    )
    env = base_env(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",  # the flush's: the store opens on MLflow's thread
    )
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["same"] is True
    spans = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == run.result["trace_id"])
    assert sorted(s.name for s in spans) == ["chat gpt-4o-mini", "handle"]
    assert len(otlp_receiver.spans()) == 2  # not four
    stats = run.result["stats"]
    assert stats["otlp"]["exported"] == 2 and stats["otlp"]["dropped"] == 0
    assert stats["mlflow"]["exported"] == 2 and stats["mlflow"]["dropped"] == 0


def test_sdk_disabled_leaves_the_app_untouched(otlp_receiver, tmp_path):
    app = (
        CALL
        + """
import otel_bridge
bridge = otel_bridge.configure()
trace_id = call()
print(json.dumps({"enabled": bridge.enabled, "stats": bridge.stats(),
                  "provider": type(trace.get_tracer_provider()).__name__}))
"""
    )
    env = base_env(
        OTEL_SDK_DISABLED="true", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint
    )
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result == {"enabled": False, "stats": {}, "provider": "ProxyTracerProvider"}
    assert not (tmp_path / "mlflow.db").exists()
    assert otlp_receiver.spans() == []


def test_the_apps_own_provider_is_adopted(otlp_receiver, tmp_path):
    app = (
        CALL
        + """
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
own = TracerProvider(resource=Resource.create({"service.name": "apps-own-name"}))
trace.set_tracer_provider(own)
import otel_bridge
bridge = otel_bridge.configure()
trace_id = call()
bridge.force_flush()
print(json.dumps({"adopted": bridge.provider is own, "trace_id": trace_id}))
"""
    )
    env = base_env(
        OTEL_SERVICE_NAME="bridge-name",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
    )
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["adopted"] is True
    spans = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == run.result["trace_id"])
    assert {s.resource["service.name"] for s in spans} == {"apps-own-name"}


def test_the_providers_flush_and_shutdown_are_the_bridges(otlp_receiver, tmp_path):
    """The bridge is one processor on the provider: the app's own provider.force_flush() sends
    to every destination, and provider.shutdown() shuts the bridge down."""
    app = (
        CALL
        + """
import otel_bridge
bridge = otel_bridge.configure()
trace_id = call()
flushed = trace.get_tracer_provider().force_flush(60_000)
after_flush = bridge.stats()
trace.get_tracer_provider().shutdown()
trace.get_tracer("app").start_span("after shutdown").end()
print(json.dumps({"trace_id": trace_id, "flushed": flushed, "after_flush": after_flush,
                  "after_shutdown": bridge.stats()}))
"""
    )
    env = base_env(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",  # the store opens on MLflow's thread
    )
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["flushed"] is True
    for name in ("otlp", "mlflow"):
        assert run.result["after_flush"][name]["exported"] == 2, name
        dropped = run.result["after_shutdown"][name]["dropped_by_reason"]
        assert dropped == {"after_shutdown": 1}, name
    spans = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == run.result["trace_id"])
    assert sorted(s.name for s in spans) == ["chat gpt-4o-mini", "handle"]


def test_spans_the_apps_sampler_drops_reach_no_destination(otlp_receiver, tmp_path):
    app = (
        CALL
        + """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
trace.set_tracer_provider(TracerProvider(sampler=ALWAYS_OFF))
import otel_bridge
bridge = otel_bridge.configure()
call()
bridge.force_flush()
print(json.dumps({name: s["received"] for name, s in bridge.stats().items()}))
"""
    )
    env = base_env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint)
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result == {"otlp": 0, "mlflow": 0}


@pytest.mark.parametrize("spool", ["on", "off"])
def test_a_dead_otlp_destination_does_not_hold_back_mlflow(spool, tmp_path):
    app = (
        CALL
        + """
import otel_bridge
bridge = otel_bridge.configure()
trace_id = call()
bridge.shutdown(timeout=60)  # the dead one gives up at once; MLflow's store opens meanwhile
print(json.dumps({"trace_id": trace_id, "stats": bridge.stats()}))
"""
    )
    env = base_env(
        OTEL_SERVICE_NAME="dead-otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"http://127.0.0.1:{free_port()}/v1/traces",
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="1",
        OTEL_BRIDGE_SPOOL=spool,
    )
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    stats = run.result["stats"]
    assert stats["mlflow"]["exported"] == 2
    assert stats["otlp"]["exported"] == 0
    if spool == "on":  # kept on disk for the next process (tests/reliability: replayed)
        assert stats["otlp"]["spooled"] == 2 and stats["otlp"]["dropped"] == 0
    else:
        assert stats["otlp"]["dropped_by_reason"] == {"unavailable": 2}

    from mlflow import MlflowClient

    from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    [trace] = wait_for_traces(client, wait_for_experiment(client, "dead-otlp"), spans=2)
    assert trace.info.trace_id == f"tr-{run.result['trace_id']}"


def test_configure_raises_config_error_naming_the_variable(tmp_path):
    app = """
import json, otel_bridge
try:
    otel_bridge.configure(otlp_endpoint="grpc.example.com:4317")
except otel_bridge.ConfigError as error:
    print(json.dumps({"variable": error.variable, "message": str(error)}))
"""
    run = run_app(app, tmp_path, base_env(), under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["variable"] == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    assert run.result["message"].startswith(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='grpc.example.com:4317': needs a scheme"
    )


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_protocol_follows_the_endpoint_when_no_variable_says(protocol, otlp_receiver, tmp_path):
    app = (
        CALL
        + """
import otel_bridge
bridge = otel_bridge.configure()
trace_id = call()
bridge.force_flush()
print(json.dumps({"trace_id": trace_id}))
"""
    )
    endpoint = otlp_receiver.grpc_endpoint if protocol == "grpc" else otlp_receiver.http_endpoint
    env = base_env(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=ml",
    )
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    spans = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == run.result["trace_id"])
    assert {s.protocol for s in spans} == {protocol}
    assert spans[0].resource["deployment.environment"] == "test"
    assert spans[0].resource["team"] == "ml"


def test_shutdown_is_bounded_and_counts_what_a_hanging_backend_never_got(otlp_receiver, tmp_path):
    otlp_receiver.delay(4)
    app = (
        CALL
        + """
import time, otel_bridge
bridge = otel_bridge.configure()
trace_id = call()
started = time.monotonic()
finished = bridge.shutdown(timeout=1.5)
print(json.dumps({"finished": finished, "took": time.monotonic() - started,
                  "stats": bridge.stats()}))
"""
    )
    env = base_env(
        OTEL_SERVICE_NAME="hanging-otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="30",
        OTEL_BRIDGE_SPOOL="off",  # with the spool on they are spooled: tests/reliability
        # OTLP alone: a destination beside it is not held back (the test above)
        OTEL_TRACES_EXPORTER="otlp",
    )
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    result = run.result
    assert result["finished"] is False
    assert result["took"] < 3.0
    otlp = result["stats"]["otlp"]
    assert otlp["exported"] == 0
    assert otlp["dropped_by_reason"] == {"shutdown_deadline": 2}
    assert set(result["stats"]) == {"otlp"}
    # The hung request still lands once the receiver's delay is over: absorb it here, not in
    # the next test's receiver.
    otlp_receiver.wait_for_spans(2, timeout=10)
    otlp_receiver.clear()


def test_mlflow_trace_spans_hold_llm_spans_with_the_shared_provider_switch(otlp_receiver, tmp_path):
    app = """
import json, otel_bridge
bridge = otel_bridge.configure()
import mlflow, litellm

@mlflow.trace(span_type="AGENT")
def agent(question):
    return litellm.completion(model="gpt-4o-mini", mock_response="ok",
                              messages=[{"role": "user", "content": question}])

agent("hi")
bridge.force_flush()
print(json.dumps({}))
"""
    env = base_env(
        OTEL_SERVICE_NAME="mlflow-trace-switch",
        MLFLOW_USE_DEFAULT_TRACER_PROVIDER="false",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
    )
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    spans = {s.name: s for s in otlp_receiver.wait_for_spans(2)}
    assert set(spans) == {"agent", "chat gpt-4o-mini"}
    assert spans["chat gpt-4o-mini"].parent_span_id == spans["agent"].span_id
    assert spans["chat gpt-4o-mini"].trace_id == spans["agent"].trace_id


def test_a_failed_configure_installs_nothing(otlp_receiver, tmp_path):
    app = (
        CALL
        + """
import otel_bridge
open("a-file", "w").close()
try:  # found while building the MLflow destination, after the provider was made
    otel_bridge.configure(mlflow_tracking_uri="sqlite:///a-file/mlflow.db")
except otel_bridge.ConfigError as error:
    failed = str(error)
provider_after_failure = type(trace.get_tracer_provider()).__name__
bridge = otel_bridge.configure()
trace_id = call()
bridge.force_flush()
print(json.dumps({"failed": failed, "after_failure": provider_after_failure,
                  "trace_id": trace_id, "stats": bridge.stats()}))
"""
    )
    env = base_env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint)
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["failed"] == (
        "MLFLOW_TRACKING_URI='sqlite:///a-file/mlflow.db': "
        f"{tmp_path / 'a-file'} is not a directory, so the store cannot be written there; "
        "choose another path"
    )
    assert run.result["after_failure"] == "ProxyTracerProvider"
    spans = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == run.result["trace_id"])
    assert len(spans) == 2
    assert run.result["stats"]["otlp"]["exported"] == 2  # one OTLP destination, not two
