"""``otel-bridge run -- CMD``: CMD starts with the bridge already configured.

Like ``opentelemetry-instrument``: a ``sitecustomize`` put first on ``PYTHONPATH``
configures the bridge in every Python process CMD starts, before its first line.
The configuration is checked here first, so a mistake ends the run with exit
code 2 and one line naming the variable, not a half-traced program.
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
    """Validate every variable and reach the MLflow experiment, as configure() will (with the
    spool on, a server that cannot be reached at all is not an error: spans wait in the spool)."""
    settings = load_settings()
    for item in settings.ineffective:  # once here, not in every process CMD starts
        print(f"otel-bridge: warning: {item}", file=sys.stderr)
    if settings.mlflow is not None:
        from otel_bridge.exporters.mlflow import check_experiment

        check_experiment(settings.mlflow, spool=settings.spool.enabled)
