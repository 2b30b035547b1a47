"""Issue 12: an MLflow server the bridge cannot talk to as it would is found at start, not by
losing every span. The start-up check probes what ``/v1/traces`` accepts: gzip (MLflow 3.5 and
3.6 refuse it with 400 for every batch; 3.7.0 and later decode it) is dropped for a server that
does not take it; a server that refuses even that stops ``otel-bridge run`` with one line naming
its version; a server that passes the check and still refuses every batch gets its spans kept.

The real server is the one of ``OTEL_BRIDGE_TEST_MLFLOW_SERVER_PYTHON`` (a python with another
MLflow, e.g. a venv with ``mlflow==3.5.0``; default: this interpreter's MLflow). The loopback
stub answering as 3.5 does (tests/support/old_mlflow_stub.py) covers the same paths without one.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from otel_bridge.config import MlflowSettings
from otel_bridge.exporters.mlflow import MlflowSpanExporter
from tests.e2e.apps import (
    ONE_SPAN_APP,
    THREE_TRACES_APP,
    base_env,
    run_app,
    run_cli,
    stopped_or_reported,
)
from tests.mlflow.bridged import llm_trace
from tests.support.mlflow_server import MlflowServer
from tests.support.old_mlflow_stub import OldMlflowStub

SERVER_PYTHON_VAR = "OTEL_BRIDGE_TEST_MLFLOW_SERVER_PYTHON"


@pytest.fixture
def stub35() -> Iterator[OldMlflowStub]:
    with OldMlflowStub("3.5.0") as stub:
        yield stub


def test_a_server_without_gzip_gets_the_spans_uncompressed(stub35, caplog):
    exporter = MlflowSpanExporter(MlflowSettings(stub35.uri, experiment_name="compat"))
    with caplog.at_level(logging.INFO, logger="otel_bridge"):
        assert exporter.connect() == "1"
    assert exporter.transport.connect().compress is False
    [said] = [r.getMessage() for r in caplog.records if "gzip" in r.getMessage()]
    assert said == (
        f"otel-bridge: the MLflow server {stub35.uri} (version 3.5.0) does not decode gzip on "
        "/v1/traces; sending uncompressed (MLflow 3.7.0 and later decode it)"
    )
    spans = llm_trace("svc-compat") + llm_trace("svc-compat")  # two traces, one batch
    refused_by_the_check = stub35.refused  # the gzip probe
    assert exporter.export(spans).name == "SUCCESS"
    assert stub35.refused == refused_by_the_check  # nothing refused, nothing split
    assert sorted(stub35.span_names) == sorted(s.name for s in spans)
    # uncompressed, and one request per trace (3.5 stores the spans of one trace per request)
    assert stub35.encodings[-2:] == [None, None]
    exporter.shutdown()


def test_a_server_that_refuses_otlp_stops_run_naming_its_version(tmp_path):
    with OldMlflowStub("3.5.0", refuse_all=True) as stub:
        env = base_env(MLFLOW_TRACKING_URI=stub.uri)
        run = run_app(ONE_SPAN_APP, tmp_path, env)
    how = stopped_or_reported(
        run,
        f"MLFLOW_TRACKING_URI='{stub.uri}': the MLflow server (version 3.5.0): /v1/traces "
        'refuses an empty OTLP request (HTTP 400: {"detail": "not today"}); upgrade it '
        "(pip install -U 'mlflow>=3.7.0')",
    )
    if how == "stopped":
        assert len(run.stderr.strip().splitlines()) == 1


def test_a_server_that_refuses_every_batch_keeps_the_spans_until_flush(tmp_path):
    """It passed the start-up check (the empty request), then answers 400 to every batch: a
    misconfiguration, said once; the spans wait in the spool, and flush sends them once the
    server takes them."""
    service = f"refused-{uuid.uuid4().hex[:6]}"
    with OldMlflowStub("3.5.0", refuse_spans=True) as stub:
        env = base_env(MLFLOW_TRACKING_URI=stub.uri, OTEL_SERVICE_NAME=service)
        run = run_app(ONE_SPAN_APP, tmp_path, env, under_bridge=False)
        assert run.returncode == 0, run.stderr
        stats = run.result["stats"]["mlflow"]
        assert stats["dropped"] == 0 and stats["exported"] == 0
        assert stats["spooled"] == stats["refused"] == 1
        [error] = [x for x in run.stderr.splitlines() if "refused the spans" in x]
        assert error.startswith(f"otel-bridge: mlflow refused the spans: HTTP 400 from {stub.uri}")
        assert "a misconfiguration" in error and "wait in the spool" in error
        assert stub.span_names == []

        stub.refuse_spans = False  # fixed
        done = run_cli(["flush"], tmp_path, env)
        assert done.returncode == 0, done.stderr
        assert done.stderr.rstrip().endswith(": 1 spans sent; nothing waits any more")
        assert stub.span_names == ["work"]
        assert stub.encodings[-1] is None  # flush probed the server too: no gzip for it


# --- a real server of another version ----------------------------------------------------------


def _server_python() -> str:
    return os.environ.get(SERVER_PYTHON_VAR) or sys.executable


@pytest.fixture(scope="module")
def versioned_server(request, tmp_path_factory) -> Iterator[MlflowServer]:
    python = _server_python()
    if python == sys.executable:
        yield request.getfixturevalue("mlflow_server")
        return
    probe = subprocess.run(
        [python, "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"{SERVER_PYTHON_VAR}={python} has no MLflow: {probe.stderr[-200:]}")
    server = MlflowServer(tmp_path_factory.mktemp("versioned-mlflow"), python=python)
    server.start(timeout=240)
    try:
        yield server
    finally:
        server.stop()


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())


def _trace_ids(server: MlflowServer, experiment_id: str) -> set[str]:
    """The server's own search API (any MLflow 3 server answers it)."""
    response = requests.post(
        f"{server.uri}/api/3.0/mlflow/traces/search",
        json={
            "locations": [
                {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}
            ],
            "max_results": 100,
        },
        timeout=30,
    )
    response.raise_for_status()
    return {t["trace_id"] for t in response.json().get("traces", [])}


@pytest.mark.e2e
def test_spans_reach_a_real_server_of_any_supported_version(versioned_server, tmp_path):
    version = requests.get(f"{versioned_server.uri}/version", timeout=30).text.strip()
    takes_gzip = _version_tuple(version) >= (3, 7)
    experiment = f"compat-{uuid.uuid4().hex[:8]}"
    env = base_env(
        MLFLOW_TRACKING_URI=versioned_server.uri,
        MLFLOW_EXPERIMENT_NAME=experiment,
        OTEL_SERVICE_NAME=experiment,
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",
    )
    run = run_app(THREE_TRACES_APP, tmp_path, env)
    assert run.returncode == 0, run.stderr
    stats = run.result["stats"]["mlflow"]
    assert stats["exported"] == 6 and stats["dropped"] == stats["spooled"] == 0, run.stderr
    adapted = "does not decode gzip on /v1/traces; sending uncompressed" in run.stderr
    assert adapted is not takes_gzip, (version, run.stderr)

    found = requests.get(
        f"{versioned_server.uri}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": experiment},
        timeout=30,
    ).json()["experiment"]["experiment_id"]
    expected = {f"tr-{t}" for t in run.result["trace_ids"]}
    deadline = time.monotonic() + 120
    while _trace_ids(versioned_server, found) != expected:
        assert time.monotonic() < deadline, (version, _trace_ids(versioned_server, found))
        time.sleep(0.5)
