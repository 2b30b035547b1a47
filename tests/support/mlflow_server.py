"""A real `mlflow server` (SQLite store) as a subprocess on loopback, in its own process group."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from .ports import LOOPBACK, free_port

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


class MlflowServer:
    def __init__(
        self,
        workdir: Path,
        extra_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.extra_args = list(extra_args)
        self.extra_env = dict(extra_env or {})
        self.port = port or free_port()
        self.log_path = self.workdir / "mlflow-server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        atexit.register(self.stop)

    @property
    def uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def backend_store_uri(self) -> str:
        return f"sqlite:///{self.workdir / 'mlflow.db'}"

    def command(self) -> list[str]:
        return [
            sys.executable,
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
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **_SERVER_ENV_DEFAULTS, **self.extra_env}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self._process = subprocess.Popen(
            self.command(),
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                self.stop()
                raise RuntimeError(f"mlflow server exited with {code}:\n{self.log_tail()}")
            if self.is_healthy():
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server not healthy after {timeout}s:\n{self.log_tail()}")

    def is_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the server's process group, SIGKILL it after `grace` seconds."""
        process, self._process = self._process, None
        if process is not None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            # Workers left behind by a master that died first.
            _signal_group(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, timeout: float = 120.0) -> MlflowServer:
        """Stop and start again on the same port and store (data survives)."""
        self.stop()
        return self.start(timeout)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _signal_group(pid: int, signum: signal.Signals) -> None:
    """Signal the process group led by `pid` (the server was started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
