"""A real MLflow server killed (SIGKILL) and restarted while an app runs, and a second app that
runs entirely while it is down: after the restart every span of both is in MLflow, the first
app's through its own spool replay, the second's through the next process's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import base_env, run_app

pytestmark = pytest.mark.e2e

LONG_RUNNING = """
import json, os, sys, time
import otel_bridge
from opentelemetry import trace
bridge = otel_bridge.configure()
tracer = trace.get_tracer("app")
print("ready", flush=True)
made = 0
while not os.path.exists("stop"):
    with tracer.start_as_current_span("request"):
        with tracer.start_as_current_span("step"):
            pass
    made += 1
    time.sleep(0.2)
bridge.shutdown(10)
print(json.dumps({"traces": made, "stats": bridge.stats()}), flush=True)
"""

SHORT = """
import json, time
import otel_bridge
from opentelemetry import trace
bridge = otel_bridge.configure()
tracer = trace.get_tracer("app")
for i in range({count}):
    with tracer.start_as_current_span("offline-request"):
        with tracer.start_as_current_span("offline-step"):
            pass
time.sleep({linger})
bridge.shutdown(5)
print(json.dumps(bridge.stats()))
"""


def env_for(mlflow_server, experiment: str, spool_dir) -> dict[str, str]:
    return base_env(
        MLFLOW_TRACKING_URI=mlflow_server.uri,
        MLFLOW_EXPERIMENT_NAME=experiment,
        OTEL_TRACES_EXPORTER="mlflow",
        OTEL_SERVICE_NAME="restart-test",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_BSP_EXPORT_TIMEOUT="2000",
        OTEL_BRIDGE_SPOOL_DIR=str(spool_dir),
    )


def count_traces(client: MlflowClient, experiment_id: str) -> dict[str, int]:
    """Trace root name -> number of whole traces (root and child both there)."""
    found: dict[str, int] = {}
    token = None
    while True:
        page = client.search_traces(locations=[experiment_id], max_results=500, page_token=token)
        for trace in page:
            if len(trace.data.spans) == 2:
                root = next(s.name for s in trace.data.spans if s.parent_id is None)
                found[root] = found.get(root, 0) + 1
        token = page.token
        if not token:
            return found


def test_mlflow_killed_and_restarted_mid_run(mlflow_server, tmp_path):
    experiment = f"restart-{uuid.uuid4().hex[:8]}"
    (tmp_path / "a").mkdir()
    running_env = env_for(mlflow_server, experiment, tmp_path / "spool-a")
    app = tmp_path / "a" / "app.py"
    app.write_text(LONG_RUNNING)
    process = subprocess.Popen(
        [sys.executable, str(app)],
        cwd=tmp_path / "a",
        env=running_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert "ready" in process.stdout.readline()
        time.sleep(1.5)  # some traces go through live

        assert mlflow_server.pid is not None
        os.killpg(mlflow_server.pid, signal.SIGKILL)  # killed, not stopped
        mlflow_server.stop()

        # A second app runs entirely while the server is down, and exits.
        offline_env = env_for(mlflow_server, experiment, tmp_path / "spool-b")
        (tmp_path / "b").mkdir()
        offline = run_app(
            SHORT.format(count=10, linger=0.3), tmp_path / "b", offline_env, under_bridge=False
        )
        assert offline.returncode == 0, offline.stderr
        assert "mlflow cannot take spans now" in offline.stderr
        offline_stats = json.loads(offline.stdout.strip().splitlines()[-1])["mlflow"]
        assert offline_stats["spooled"] == 20 and offline_stats["dropped"] == 0

        mlflow_server.start(timeout=180)
        time.sleep(12)  # the running app's next probe finds the server (backoff <= 10 s)
    finally:
        (tmp_path / "a" / "stop").write_text("")
        out, err = process.communicate(timeout=60)
        if not mlflow_server.is_healthy():
            mlflow_server.start(timeout=180)
    assert process.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    stats = result["stats"]["mlflow"]
    assert stats["received"] == 2 * result["traces"]
    assert stats["dropped"] == 0, stats
    assert stats["spooled"] > 0 and stats["replayed"] == stats["spooled"]  # its own, replayed
    assert stats["exported"] - stats["replayed"] + stats["spooled"] == stats["received"]

    # The next process (same spool directory as the offline app) delivers the offline spans.
    nxt = run_app(
        SHORT.format(count=0, linger=2.0), tmp_path / "b", offline_env, under_bridge=False
    )
    assert nxt.returncode == 0, nxt.stderr
    assert json.loads(nxt.stdout.strip().splitlines()[-1])["mlflow"]["replayed"] == 20

    client = MlflowClient(mlflow_server.uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    found = count_traces(client, experiment_id)
    assert found == {"request": result["traces"], "offline-request": 10}
