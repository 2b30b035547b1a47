"""A real `mlflow server` (SQLite store) as a subprocess on loopback, in its own process group."""

from __future__ import annotations

import atexit
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from .ports import LOOPBACK
from .servers import ServerProcess

# Defaults under `extra_env`. The server imports litellm (for cost estimates): keep it off the
# network. Job execution starts ~7 huey consumer processes, which OTLP ingestion does not use and
# a 2-core machine cannot spare; pass MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true to get them back.
_SERVER_ENV_DEFAULTS = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "PYTHONUNBUFFERED": "1",
}


class MlflowServer(ServerProcess):
    name = "mlflow server"

    def __init__(
        self,
        workdir: Path,
        extra_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
        port: int | None = None,
        python: str | None = None,
    ) -> None:
        super().__init__(workdir, "mlflow-server.log", port)
        self.python = python or sys.executable  # another venv's: another MLflow version
        self.extra_args = list(extra_args)
        self.extra_env = dict(extra_env or {})
        atexit.register(self.stop)

    @property
    def uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def backend_store_uri(self) -> str:
        return f"sqlite:///{self.workdir / 'mlflow.db'}"

    def command(self) -> list[str]:
        return [
            self.python,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            self.backend_store_uri,
            "--default-artifact-root",
            str(self.workdir / "artifacts"),
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--workers",
            "1",
            *self.extra_args,
        ]

    def start(self, timeout: float = 120.0) -> MlflowServer:
        """Launch the server and wait until GET /health answers 200."""
        if self._process is not None and self._process.poll() is None:
            return self
        env = {**os.environ, **_SERVER_ENV_DEFAULTS, **self.extra_env}
        self._spawn(self.command(), env, timeout)
        return self

    def is_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def restart(self, timeout: float = 120.0) -> MlflowServer:
        """Stop and start again on the same port and store (data survives)."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
