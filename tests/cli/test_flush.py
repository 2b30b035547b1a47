"""`otel-bridge flush`: what waits in the spool is sent without running the app again."""

from __future__ import annotations

import time
import uuid

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import THREE_TRACES_APP, base_env, run_app, run_cli
from tests.support.ports import LOOPBACK, free_port


def spool_of(tmp_path, service: str):
    return tmp_path / ".otel-bridge" / "spool" / service / "mlflow"


def spooled_while_down(tmp_path, service: str) -> tuple[list[str], dict[str, str]]:
    """3 traces (6 spans) made while the MLflow server could not be reached: all spooled."""
    down = base_env(
        MLFLOW_TRACKING_URI=f"http://{LOOPBACK}:{free_port()}",
        OTEL_SERVICE_NAME=service,
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="2",
    )
    run = run_app(THREE_TRACES_APP, tmp_path, down, under_bridge=False)
    assert run.returncode == 0, run.stderr
    stats = run.result["stats"]["mlflow"]
    assert stats["spooled"] == 6 and stats["exported"] == stats["dropped"] == 0, stats
    assert "6 spans wait in the spool at" in run.stderr and "otel-bridge flush" in run.stderr
    return run.result["trace_ids"], down


def stored_traces(client: MlflowClient, experiment: str, count: int, timeout: float = 120):
    """Poll the server until ``count`` traces of the experiment are there (or the deadline)."""
    deadline = time.monotonic() + timeout
    found: list = []
    while time.monotonic() < deadline:
        created = client.get_experiment_by_name(experiment)
        if created is not None:
            found = client.search_traces(locations=[created.experiment_id])
            if len(found) >= count:
                return found
        time.sleep(0.5)
    raise AssertionError(f"{len(found)} traces of {count} in {experiment!r} after {timeout}s")


@pytest.mark.e2e
def test_flush_delivers_what_a_down_server_left_in_the_spool(mlflow_server, tmp_path):
    service = f"flushed-{uuid.uuid4().hex[:8]}"
    trace_ids, down = spooled_while_down(tmp_path, service)

    up = {**down, "MLFLOW_TRACKING_URI": mlflow_server.uri}
    done = run_cli(["flush"], tmp_path, up)
    assert done.returncode == 0, done.stderr
    label = f"otel-bridge flush: mlflow (MLflow server {mlflow_server.uri} experiment '{service}')"
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith(f"{label}: sending what waits in ")
    assert lines[-1] == f"{label}: 6 spans sent; nothing waits any more"
    assert not list(spool_of(tmp_path, service).glob("*.span"))

    traces = stored_traces(MlflowClient(mlflow_server.uri), service, 3)
    assert sorted(t.info.trace_id for t in traces) == sorted(f"tr-{t}" for t in trace_ids)

    again = run_cli(["flush"], tmp_path, up)  # nothing left: says so, exit 0
    assert again.returncode == 0, again.stderr
    assert again.stderr.strip() == f"{label}: nothing waits in {spool_of(tmp_path, service)}"


def test_flush_says_what_still_waits_when_the_server_cannot_be_reached(tmp_path):
    service = f"not-flushed-{uuid.uuid4().hex[:8]}"
    _, down = spooled_while_down(tmp_path, service)
    files = sorted(p.name for p in spool_of(tmp_path, service).glob("*.span"))

    done = run_cli(["flush"], tmp_path, down)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("otel-bridge flush: mlflow (MLflow server ")
    assert f": 0 spans sent; 6 still wait in {spool_of(tmp_path, service)}: " in last
    assert "cannot reach the MLflow server" in last
    assert sorted(p.name for p in spool_of(tmp_path, service).glob("*.span")) == files


def test_flush_names_other_services_waiting_and_stops_on_bad_configuration(tmp_path):
    _, down = spooled_while_down(tmp_path, "someone-else")
    other = {**down, "OTEL_SERVICE_NAME": "me"}
    done = run_cli(["flush"], tmp_path, other)
    assert done.returncode == 0, done.stderr
    assert "nothing waits in" in done.stderr
    assert done.stderr.strip().endswith(
        f"spans of other services wait in {tmp_path / '.otel-bridge' / 'spool'}: someone-else "
        "(run `otel-bridge flush` with OTEL_SERVICE_NAME set to each)"
    )

    bad = run_cli(["flush"], tmp_path, {**down, "MLFLOW_TRACKING_URI": "./mlruns"})
    assert bad.returncode == 2
    assert bad.stderr.startswith("otel-bridge: MLFLOW_TRACKING_URI='./mlruns': ")
