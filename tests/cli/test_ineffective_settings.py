"""A variable that is set but changes nothing: `doctor` lists it, `run` warns once; an invalid
value is an error even where it would have no effect."""

from __future__ import annotations

import subprocess
import sys

import pytest

from otel_bridge.cli import main
from tests.e2e.apps import BIN, REPO_ROOT, base_env

NO_OTLP = (
    "no OTLP destination (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT "
    "are unset)"
)


def test_doctor_rejects_a_misspelt_protocol_without_an_endpoint(clean_env, capsys):
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grcp")

    code = main(["doctor"])

    out, err = capsys.readouterr()
    assert code == 2, out
    assert err.strip() == (
        "otel-bridge doctor: configuration error: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='grcp': "
        "unknown protocol; use 'grpc' or 'http/protobuf'"
    )
    assert "all destinations ok" not in out


def test_doctor_lists_what_has_no_effect(clean_env, capsys, tmp_path):
    clean_env.chdir(tmp_path)
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    clean_env.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=s3cr3t")
    clean_env.setenv("MLFLOW_EXPERIMENT_ID", "0")
    clean_env.setenv("MLFLOW_EXPERIMENT_NAME", "shop")

    code = main(["doctor"])

    out, _ = capsys.readouterr()
    assert code == 0, out
    lines = out.splitlines()
    warnings = lines[lines.index("warnings:") + 1 : lines.index("checks:")]
    assert warnings == [
        f"  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc has no effect: {NO_OTLP}",
        f"  OTEL_EXPORTER_OTLP_TRACES_HEADERS=x-api-key=*** has no effect: {NO_OTLP}",
        "  MLFLOW_EXPERIMENT_NAME=shop has no effect: MLFLOW_EXPERIMENT_ID is used instead",
    ]
    assert "s3cr3t" not in out
    assert "(experiment id 0)" in out  # the experiment the bridge really uses


def test_run_warns_once_and_runs_the_command(tmp_path):
    # The app starts a second Python process: the warning is still printed once, by `run`.
    app = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'print(2)']); print(1)"
    done = subprocess.run(
        [str(BIN / "otel-bridge"), "run", "--", sys.executable, "-c", app],
        cwd=tmp_path,
        env=base_env(
            PYTHONPATH=str(REPO_ROOT),
            OTEL_TRACES_EXPORTER="console",
            OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="3",
            MLFLOW_EXPERIMENT_NAME="shop",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "1"]
    warnings = [line for line in done.stderr.splitlines() if "has no effect" in line]
    assert warnings == [
        "otel-bridge: warning: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=3 has no effect: "
        "OTEL_TRACES_EXPORTER=console leaves otlp out",
        "otel-bridge: warning: MLFLOW_EXPERIMENT_NAME=shop has no effect: "
        "OTEL_TRACES_EXPORTER=console leaves mlflow out",
    ]


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TIMEOUT"])
def test_run_refuses_an_invalid_value_that_would_have_no_effect(tmp_path, variable):
    done = subprocess.run(
        [str(BIN / "otel-bridge"), "run", "--", sys.executable, "-c", "print('app ran')"],
        cwd=tmp_path,
        env=base_env(
            PYTHONPATH=str(REPO_ROOT), OTEL_TRACES_EXPORTER="console", **{variable: "grcp"}
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2
    assert "app ran" not in done.stdout
    assert done.stderr.startswith(f"otel-bridge: {variable}='grcp': ")
