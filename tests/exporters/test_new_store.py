"""A new embedded store is made whole or not at all: processes that open it for the first time
at once (forked workers sending their first spans) all get the same complete store."""

from __future__ import annotations

import subprocess
import sys

from tests.e2e.apps import REPO_ROOT, base_env

OPEN_AND_USE = """
import sys
from mlflow import MlflowClient
from otel_bridge.config import MlflowSettings
from otel_bridge.exporters.mlflow.experiments import resolve_experiment_id
uri = sys.argv[1]
experiment_id = resolve_experiment_id(MlflowSettings(uri, experiment_name=sys.argv[2]))
print(MlflowClient(uri).get_experiment(experiment_id).name)
"""


def test_processes_making_the_same_new_store_at_once_all_get_it_whole(tmp_path):
    store = tmp_path / "nested" / "mlflow.db"  # its directory is made too
    uri = f"sqlite:///{store}"
    env = {**base_env(), "PYTHONPATH": str(REPO_ROOT)}
    names = [f"service-{i}" for i in range(3)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AND_USE, uri, name],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    assert sorted(out.strip() for out, _ in outputs) == names
    assert [p.name for p in store.parent.iterdir()] == ["mlflow.db"]  # no half-made leftover

    from mlflow import MlflowClient

    found = {e.name for e in MlflowClient(uri).search_experiments()}
    assert found == {"Default", *names}
