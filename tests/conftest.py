"""Shared fixtures: real loopback servers (OTLP receiver, OpenAI-compatible model, MLflow)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

# Before anything imports litellm or mlflow: no remote price map, no telemetry.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("LITELLM_TELEMETRY", "False")

# `otel_bridge` and `tests.support` import from the repository root, however pytest is started.
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import pytest  # noqa: E402

from tests.support.mlflow_server import MlflowServer  # noqa: E402
from tests.support.openai_server import OpenAIServer  # noqa: E402
from tests.support.otlp_receiver import OtlpReceiver  # noqa: E402

_KEPT_ENV = frozenset({"MLFLOW_DISABLE_TELEMETRY"})
_CLEARED_PREFIXES = ("OTEL_", "MLFLOW_", "OTEL_BRIDGE_")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start the MLflow server are end-to-end: `-m "not e2e"` skips them."""
    for item in items:
        if "mlflow_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real `mlflow server` per test session, started on first use (~30 s)."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    server.start(timeout=180)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def otlp_receiver_session() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture
def otlp_receiver(otlp_receiver_session: OtlpReceiver) -> OtlpReceiver:
    """The session's OTLP receiver, emptied and with no faults, for this test."""
    otlp_receiver_session.reset_faults()
    otlp_receiver_session.clear()
    return otlp_receiver_session


@pytest.fixture(scope="session")
def openai_server_session() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def openai_server(openai_server_session: OpenAIServer) -> OpenAIServer:
    """The session's OpenAI-compatible server, with no recorded requests or queued replies."""
    openai_server_session.clear()
    return openai_server_session


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Remove every OTEL_*, OTEL_BRIDGE_* and MLFLOW_* variable (but MLFLOW_DISABLE_TELEMETRY).

    Returns the monkeypatch, so a test can set its own variables on top.
    """
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES) and name not in _KEPT_ENV:
            monkeypatch.delenv(name, raising=False)
    return monkeypatch
