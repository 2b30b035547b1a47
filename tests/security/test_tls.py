"""TLS: OTLP over HTTPS and gRPC with TLS to a custom CA
(``OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE``), mutual TLS (``..._CLIENT_CERTIFICATE`` /
``..._CLIENT_KEY``), and an MLflow server behind HTTPS with a custom CA
(``MLFLOW_TRACKING_SERVER_CERT_PATH``). Each case is an application configured from the
environment, as a user's would be; the receivers are real TLS servers on loopback with
certificates made for the test."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import ONE_SPAN_APP, base_env, run_app, stopped_or_reported
from tests.support.mlflow_server import MlflowServer
from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.tls import TlsFiles, TlsReverseProxy, make_tls_files

pytestmark = pytest.mark.e2e

PROTOCOLS = ["grpc", "http/protobuf"]
# requests lets these replace a session's own CA (psf/requests#3829); many machines set them.
# Pointed at a CA that signed nothing here: the configured CA must win all the same.
_UNRELATED_BUNDLE: dict[str, str] = {}

SPAN_APP = """
import json
import otel_bridge
from opentelemetry import trace

bridge = otel_bridge.configure()
with trace.get_tracer("app").start_as_current_span("over-tls") as span:
    pass
bridge.force_flush(10)
print(json.dumps({
    "trace_id": format(span.get_span_context().trace_id, "032x"),
    "stats": bridge.stats(),
}, default=str))
"""


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    files = make_tls_files(tmp_path_factory.mktemp("tls"))
    _UNRELATED_BUNDLE.update(
        REQUESTS_CA_BUNDLE=str(files.other_ca_cert), CURL_CA_BUNDLE=str(files.other_ca_cert)
    )
    return files


@pytest.fixture(scope="module")
def tls_receiver(tls_files: TlsFiles):
    with OtlpReceiver(tls=tls_files.server_tls()) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def mtls_receiver(tls_files: TlsFiles):
    with OtlpReceiver(tls=tls_files.server_tls(require_client_cert=True)) as receiver:
        yield receiver


def _endpoint(receiver: OtlpReceiver, protocol: str) -> str:
    return receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint


def _otlp_env(receiver: OtlpReceiver, protocol: str, **extra: str) -> dict[str, str]:
    return base_env(
        OTEL_SERVICE_NAME=f"tls-{uuid.uuid4().hex[:8]}",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=_endpoint(receiver, protocol),
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="3",
        OTEL_BSP_EXPORT_TIMEOUT="4000",
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="3",
        OTEL_BRIDGE_SPOOL="false",
        **_UNRELATED_BUNDLE,
        **extra,
    )


def _delivered(receiver: OtlpReceiver, run, timeout: float = 15.0) -> bool:
    trace_id = run.result["trace_id"]
    try:
        receiver.wait_for_spans(1, lambda s: s.trace_id == trace_id, timeout=timeout)
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_otlp_with_a_custom_ca(protocol, tls_receiver, tls_files, tmp_path: Path):
    env = _otlp_env(
        tls_receiver, protocol, OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=str(tls_files.ca_cert)
    )
    run = run_app(SPAN_APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert _delivered(tls_receiver, run), run.stderr
    assert run.result["stats"]["otlp"]["exported"] == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_otlp_refuses_a_server_its_ca_did_not_sign(
    protocol, tls_receiver, tls_files, tmp_path: Path
):
    env = _otlp_env(
        tls_receiver, protocol, OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=str(tls_files.other_ca_cert)
    )
    run = run_app(SPAN_APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr  # the application is not affected
    assert not _delivered(tls_receiver, run, timeout=1.0)
    assert run.result["stats"]["otlp"]["exported"] == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_otlp_with_a_client_certificate(protocol, mtls_receiver, tls_files, tmp_path: Path):
    env = _otlp_env(
        mtls_receiver,
        protocol,
        OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=str(tls_files.ca_cert),
        OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE=str(tls_files.client_cert),
        OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY=str(tls_files.client_key),
    )
    run = run_app(SPAN_APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert _delivered(mtls_receiver, run), run.stderr


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_otlp_without_the_client_certificate_is_refused(
    protocol, mtls_receiver, tls_files, tmp_path: Path
):
    env = _otlp_env(
        mtls_receiver, protocol, OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=str(tls_files.ca_cert)
    )
    run = run_app(SPAN_APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert not _delivered(mtls_receiver, run, timeout=1.0)
    assert run.result["stats"]["otlp"]["exported"] == 0


# -- MLflow over HTTPS --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def https_mlflow(mlflow_server: MlflowServer, tls_files: TlsFiles):
    with TlsReverseProxy(upstream=mlflow_server.uri, tls=tls_files.server_tls()) as proxy:
        yield proxy


def _mlflow_env(proxy: TlsReverseProxy, service: str, **extra: str) -> dict[str, str]:
    return base_env(
        OTEL_SERVICE_NAME=service,
        OTEL_TRACES_EXPORTER="mlflow",
        MLFLOW_TRACKING_URI=proxy.uri,
        OTEL_BRIDGE_SPOOL="false",
        **_UNRELATED_BUNDLE,
        **extra,
    )


def test_mlflow_server_over_https_with_a_custom_ca(
    https_mlflow, mlflow_server, tls_files, tmp_path: Path
):
    service = f"tls-mlflow-{uuid.uuid4().hex[:8]}"
    env = _mlflow_env(
        https_mlflow, service, MLFLOW_TRACKING_SERVER_CERT_PATH=str(tls_files.ca_cert)
    )
    run = run_app(SPAN_APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["stats"]["mlflow"]["exported"] == 1, run.stderr
    client = MlflowClient(mlflow_server.uri)
    traces = wait_for_traces(client, wait_for_experiment(client, service), spans=1)
    assert [t.info.trace_id for t in traces] == [f"tr-{run.result['trace_id']}"]


def test_mlflow_over_https_without_the_ca_is_a_config_error(https_mlflow, tmp_path: Path):
    """Not a silent loss at every export: the run stops at start (or, when the handshake takes
    longer than the start-up check may wait, the MLflow destination says it), naming what to
    set."""
    env = _mlflow_env(https_mlflow, "tls-no-ca")
    run = run_app(ONE_SPAN_APP, tmp_path, env)  # under otel-bridge run
    stopped_or_reported(run, f"MLFLOW_TRACKING_URI='{https_mlflow.uri}': TLS failed")
    assert "set MLFLOW_TRACKING_SERVER_CERT_PATH to the server's CA bundle" in run.stderr
    assert https_mlflow.handshake_failures >= 1
