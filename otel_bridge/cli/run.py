"""``otel-bridge run -- CMD``: CMD starts with the bridge already configured.

Like ``opentelemetry-instrument``: a ``sitecustomize`` put first on ``PYTHONPATH``
configures the bridge in every Python process CMD starts, before its first line.
The configuration is checked here first, so a mistake ends the run with exit
code 2 and one line naming the variable, not a half-traced program. The check is
cheap: this process imports neither MLflow nor LiteLLM, and asks an MLflow server
for at most :data:`SERVER_CHECK_BUDGET` seconds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from otel_bridge.config import ConfigError, load_settings

AUTOCONFIGURE_DIR = Path(__file__).with_name("autoconfigure")
EXIT_CONFIG_ERROR = 2
EXIT_NOT_FOUND = 127
# Read by the sitecustomize: an app run on another interpreter is told which one has the bridge.
RUN_PYTHON_VAR = "OTEL_BRIDGE_RUN_PYTHON"
# What the wrapper may spend asking the MLflow server before CMD starts.
SERVER_CHECK_BUDGET = 0.3


def run_command(cmd: list[str]) -> int:
    if not cmd:
        print(
            "otel-bridge run: give the command to run, e.g. otel-bridge run -- python app.py",
            file=sys.stderr,
        )
        return EXIT_CONFIG_ERROR
    try:
        check_configuration()
    except ConfigError as error:
        print(f"otel-bridge: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(AUTOCONFIGURE_DIR), env.get("PYTHONPATH", "")) if p
    )
    env[RUN_PYTHON_VAR] = sys.executable
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(cmd[0], cmd, env)
    except OSError as error:
        print(f"otel-bridge run: cannot run {cmd[0]!r}: {error.strerror}", file=sys.stderr)
        return EXIT_NOT_FOUND
    return 0  # not reached: exec replaced this process


def check_configuration() -> None:
    """Validate every variable and what can be checked of the embedded store without MLflow.
    An MLflow server that answers within the budget and refuses (credentials, a missing
    experiment, a server that cannot take the bridge's spans) raises; one that does not answer
    in time lets the program start: its MLflow destination keeps trying, the spans wait in the
    spool. Without a spool, a server nobody listens for is an error too."""
    settings = load_settings()
    for item in settings.ineffective:  # once here, not in every process CMD starts
        print(f"otel-bridge: warning: {item}", file=sys.stderr)
    mlflow = settings.mlflow
    if mlflow is None:
        return
    if mlflow.embedded:
        from otel_bridge.exporters.mlflow.store_check import check_embedded_store

        check_embedded_store(mlflow)
        return
    from otel_bridge.exporters.mlflow.experiments import probe_server
    from otel_bridge.exporters.mlflow.server_check import Unreachable

    try:
        probe_server(mlflow, timeout=SERVER_CHECK_BUDGET)
    except Unreachable as error:
        if error.nobody_listens and not settings.spool.enabled:
            raise
