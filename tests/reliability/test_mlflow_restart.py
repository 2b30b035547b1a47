"""A real MLflow server killed (SIGKILL) and restarted while an app runs, and a second app that
runs entirely while it is down: after the restart every span of both is in MLflow, the first
app's through its own spool replay, the second's through the next process's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import REPO_ROOT, base_env, run_app
from tests.support.mlflow_traces import wait_for_experiment
from tests.support.polling import wait_for

pytestmark = pytest.mark.e2e

# It shows its MLflow destination's stats in stats.json as it goes (replaced whole each time).
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
    with open("stats.tmp", "w") as shown:
        json.dump(bridge.stats()["mlflow"], shown)
    os.replace("stats.tmp", "stats.json")
    time.sleep(0.2)
bridge.shutdown(10)
print(json.dumps({"traces": made, "stats": bridge.stats()}), flush=True)
"""

SHORT = """
import json, sys, time
import otel_bridge
from opentelemetry import trace
bridge = otel_bridge.configure()
tracer = trace.get_tracer("app")
for i in range({count}):
    with tracer.start_as_current_span("offline-request"):
        with tracer.start_as_current_span("offline-step"):
            pass
time.sleep({linger})
sys.path.insert(0, {repo_root!r})
from tests.support.polling import wait_for
wait_for("{replayed} spans replayed", lambda: bridge.stats()["mlflow"]["replayed"],
         lambda n: n >= {replayed}, timeout=90)  # within run_app's 120 s
bridge.shutdown(5)
print(json.dumps(bridge.stats()))
"""


def short(count: int, linger: float = 0.0, replayed: int = 0) -> str:
    """The short app: ``count`` traces, a pause, then waits until it replayed ``replayed`` spans."""
    return SHORT.format(count=count, linger=linger, replayed=replayed, repo_root=str(REPO_ROOT))


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
        app_stats = tmp_path / "a" / "stats.json"

        def shown_stats() -> dict:
            return json.loads(app_stats.read_text())

        wait_for(
            "traces going through live",
            shown_stats,
            lambda s: s["exported"] >= 6,
            retry_on=(OSError, ValueError),
        )

        assert mlflow_server.pid is not None
        os.killpg(mlflow_server.pid, signal.SIGKILL)  # killed, not stopped
        mlflow_server.stop()

        # A second app runs entirely while the server is down, and exits.
        offline_env = env_for(mlflow_server, experiment, tmp_path / "spool-b")
        (tmp_path / "b").mkdir()
        offline = run_app(
            short(count=10, linger=0.3), tmp_path / "b", offline_env, under_bridge=False
        )
        assert offline.returncode == 0, offline.stderr
        assert "mlflow cannot take spans now" in offline.stderr
        offline_stats = json.loads(offline.stdout.strip().splitlines()[-1])["mlflow"]
        assert offline_stats["spooled"] == 20 and offline_stats["dropped"] == 0

        mlflow_server.start(timeout=180)
        # the running app's next probe finds the server (backoff <= 10 s) and replays its spool
        wait_for(
            "the running app to replay what it spooled",
            shown_stats,
            lambda s: s["spooled"] > 0 and s["replayed"] == s["spooled"],
            retry_on=(OSError, ValueError),
        )
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
    nxt = run_app(short(count=0, replayed=20), tmp_path / "b", offline_env, under_bridge=False)
    assert nxt.returncode == 0, nxt.stderr
    assert json.loads(nxt.stdout.strip().splitlines()[-1])["mlflow"]["replayed"] == 20

    client = MlflowClient(mlflow_server.uri)
    experiment_id = wait_for_experiment(client, experiment)
    expected = {"request": result["traces"], "offline-request": 10}
    wait_for(
        f"whole traces {expected}",
        lambda: count_traces(client, experiment_id),
        lambda found: found == expected,
    )
