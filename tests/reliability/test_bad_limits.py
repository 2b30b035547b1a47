"""Limits given by the environment that no thread can honour (an infinite shutdown timeout) or
no backend can take (a service name of invalid UTF-8, or longer than MLflow's experiment
names): one clear error at start naming the variable the user set, never a traceback at exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from otel_bridge.config import ConfigError, load_settings
from tests.e2e.apps import BIN, REPO_ROOT, base_env, run_app

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("value", ["inf", "1e12", "nan", "-1", "0"])
def test_a_shutdown_timeout_no_thread_can_wait_is_refused(value):
    with pytest.raises(ConfigError) as raised:
        load_settings({"OTEL_BRIDGE_SHUTDOWN_TIMEOUT": value, "OTEL_TRACES_EXPORTER": "otlp"})
    assert str(raised.value).startswith(f"OTEL_BRIDGE_SHUTDOWN_TIMEOUT='{value}'")


def test_the_longest_shutdown_timeout_allowed_is_accepted():
    settings = load_settings(
        {"OTEL_BRIDGE_SHUTDOWN_TIMEOUT": "3600", "OTEL_TRACES_EXPORTER": "otlp"}
    )
    assert settings.shutdown_timeout == 3600


def _run_bridge(env: dict, tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "otel-bridge"), "run", "--", sys.executable, "-c", "print('app ran')"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_otel_bridge_run_names_an_infinite_shutdown_timeout(tmp_path, otlp_receiver):
    env = base_env(
        PYTHONPATH=str(REPO_ROOT),
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="inf",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
    )
    done = _run_bridge(env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "OTEL_BRIDGE_SHUTDOWN_TIMEOUT='inf'" in done.stderr
    assert "Traceback" not in done.stderr and "app ran" not in done.stdout


def test_an_unbounded_timeout_passed_to_shutdown_still_delivers(tmp_path, otlp_receiver):
    app = """
import json, otel_bridge
from opentelemetry import trace
bridge = otel_bridge.configure()
for i in range(3):
    with trace.get_tracer("app").start_as_current_span(f"unbounded-{i}"):
        pass
print(json.dumps({"finished": bridge.shutdown(timeout=float("inf"))}))
"""
    env = base_env(
        PYTHONPATH=str(REPO_ROOT),
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BRIDGE_SPOOL_DIR=str(tmp_path / "spool"),
    )
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert run.result == {"finished": True}
    assert len(otlp_receiver.wait_for_spans(3, timeout=10)) == 3


def test_a_service_name_of_invalid_utf8_is_named_at_start(tmp_path, otlp_receiver):
    env = base_env(
        PYTHONPATH=str(REPO_ROOT),
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
    )
    env["OTEL_SERVICE_NAME"] = b"caf\xe9-service"  # Latin-1 bytes, as a shell may pass them
    done = _run_bridge(env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "OTEL_SERVICE_NAME='caf\\\\xe9-service': not valid UTF-8" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_very_long_service_name_is_named_not_the_experiment_variable(tmp_path):
    env = base_env(PYTHONPATH=str(REPO_ROOT), OTEL_SERVICE_NAME="s" * 10_000)
    done = _run_bridge(env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "OTEL_SERVICE_NAME=" in done.stderr and "10000 characters" in done.stderr
    assert "MLFLOW_EXPERIMENT_NAME" not in done.stderr
