"""Bridged traces in a live MLflow server and in the embedded store, made once per session
(the apps: tests/mlflow/bridged.py, tests/support/mlflow_view_app.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import base_env
from tests.mlflow.bridged import Bridged, finish, start_bridged_app
from tests.support.mlflow_server import MlflowServer
from tests.support.mlflow_view_app import ViewTraces, write_view_traces
from tests.support.openai_server import OpenAIServer


@pytest.fixture(scope="session")
def bridged(
    mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Bridged]]:
    """ "server" and "embedded": the main app (a trace outside and one inside an MLflow run);
    "otlp" and "none": the server, with message content kept from MLflow."""
    root = tmp_path_factory.mktemp("bridged")
    tag = uuid.uuid4().hex[:8]
    experiment = f"bridged-{tag}"
    plans = {
        "server": (mlflow_server.uri, f"svc-main-{tag}", True),
        "embedded": (f"sqlite:///{root / 'embedded' / 'mlflow.db'}", f"svc-main-{tag}", True),
        "otlp": (mlflow_server.uri, f"svc-otlp-{tag}", False),
        "none": (mlflow_server.uri, f"svc-none-{tag}", False),
    }
    started = {}
    for name, (uri, service, with_run) in plans.items():
        env = base_env(
            MLFLOW_TRACKING_URI=uri,
            MLFLOW_EXPERIMENT_NAME=experiment,
            OTEL_SERVICE_NAME=service,
            TEST_SESSION=f"session-{name}-{tag}",
            TEST_USER=f"user-{name}-{tag}",
            # The apps run side by side on a busy machine: give the exit flush room.
            OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",
        )
        if with_run:
            env["TEST_MLFLOW_RUN"] = "1"
        if name in ("otlp", "none"):
            env["OTEL_BRIDGE_CONTENT_DESTINATIONS"] = name
        started[name] = (start_bridged_app(root / name, env), env)
    landed = {}
    for name, (process, env) in started.items():
        run = finish(process)
        uri = env["MLFLOW_TRACKING_URI"]
        found = MlflowClient(uri).get_experiment_by_name(experiment)
        assert found is not None, f"{name}: no experiment {experiment!r}\n{run.stderr}"
        landed[name] = Bridged(
            mode="embedded" if name == "embedded" else "server",
            tracking_uri=uri,
            experiment_id=found.experiment_id,
            service=env["OTEL_SERVICE_NAME"],
            session=env["TEST_SESSION"],
            user=env["TEST_USER"],
            result=run.result,
        )
        landed[name].wait_until_stored()
    yield landed


@pytest.fixture(scope="session")
def view_on_server(
    mlflow_server: MlflowServer,
    openai_server_session: OpenAIServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> ViewTraces:
    """Every kind of trace the MLflow view is about, in the live server: read through MLflow's
    API (test_view.py) and in its UI (test_ui.py)."""
    cwd = tmp_path_factory.mktemp("view-server")
    return write_view_traces(openai_server_session, mlflow_server.uri, cwd, f"view-{cwd.name}")
