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


def test_the_bridge_runs_no_migration_in_the_applications_process(tmp_path, monkeypatch):
    """Alembic keeps a running migration in module globals: the bridge makes its store in a
    child process, so the app's own MLflow may migrate at the same time on its thread."""
    import mlflow.store.db.utils as db_utils
    from mlflow import MlflowClient

    from otel_bridge.exporters.mlflow.new_store import make_new_sqlite_store

    migrations_here = []
    original = db_utils._upgrade_db
    monkeypatch.setattr(
        db_utils, "_upgrade_db", lambda engine: (migrations_here.append(engine), original(engine))
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    make_new_sqlite_store(uri)
    assert migrations_here == []
    assert [p.name for p in tmp_path.iterdir()] == ["mlflow.db"]
    assert [e.name for e in MlflowClient(uri).search_experiments()] == ["Default"]
    assert migrations_here == []  # a whole store is opened without a migration


def test_the_app_making_its_own_store_while_the_bridge_makes_one(tmp_path):
    """What broke an app that calls mlflow.start_run() as its first spans go out: its own
    store's migration and the bridge's, at once in one process."""
    import threading

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from otel_bridge.exporters.mlflow.new_store import make_new_sqlite_store

    for attempt in range(3):
        failures: list[BaseException] = []

        def bridge(attempt: int = attempt, failures: list[BaseException] = failures) -> None:
            try:
                make_new_sqlite_store(f"sqlite:///{tmp_path / f'bridge-{attempt}.db'}")
            except BaseException as error:
                failures.append(error)

        worker = threading.Thread(target=bridge)
        worker.start()
        app_store = SqlAlchemyStore(f"sqlite:///{tmp_path / f'app-{attempt}.db'}", str(tmp_path))
        worker.join(timeout=300)
        assert failures == []
        assert app_store.get_experiment("0").name == "Default"
        app_store.engine.dispose()
