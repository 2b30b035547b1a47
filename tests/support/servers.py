"""Start and stop for the loopback test servers: an HTTP server served from a daemon thread in
this process (ThreadedHttpServer), or a child process in its own process group (ServerProcess)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, TypeVar

from .polling import wait_for
from .ports import LOOPBACK, free_port

_HttpT = TypeVar("_HttpT", bound="ThreadedHttpServer")

# A client that hung up: closed its connection, reset a kept-alive one, gave up on an answer
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class QuietHttpServer(ThreadingHTTPServer):
    """A loopback test server's socket side: daemon handler threads, and no traceback for a
    client that hung up (a client giving up on a slow answer or resetting a kept-alive
    connection is what some tests do on purpose, not a failure)."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], CLIENT_GONE):
            super().handle_error(request, client_address)


class ThreadedHttpServer:
    """An HTTP server on 127.0.0.1, on a port the OS picks at start(), served from a daemon
    thread. Subclasses build the server in ``_make_server``."""

    thread_name = "loopback-http"

    def __init__(self) -> None:
        self.port = 0
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _make_server(self, address: tuple[str, int]) -> ThreadingHTTPServer:
        raise NotImplementedError

    def start(self: _HttpT) -> _HttpT:
        self._http = self._make_server((LOOPBACK, 0))
        self.port = int(self._http.server_address[1])
        self._thread = threading.Thread(
            target=self._http.serve_forever, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self: _HttpT) -> _HttpT:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ServerProcess:
    """A server run as a child process on 127.0.0.1 in its own process group, so that stopping
    it also stops whatever it forked; its output goes to ``log_path`` in ``workdir``."""

    name = "server"  # for error messages

    def __init__(self, workdir: Path, log_name: str, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.log_path = self.workdir / log_name
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_healthy(self) -> bool:
        raise NotImplementedError

    def _spawn(self, command: Sequence[str], env: Mapping[str, str], timeout: float) -> None:
        """Launch ``command`` and wait until is_healthy(); stop it and raise if it exits first or
        is not healthy within ``timeout`` seconds."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self._process = subprocess.Popen(
            list(command),
            cwd=self.workdir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = self._process

        def healthy() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {process.returncode}")
            return self.is_healthy()

        try:
            wait_for(f"{self.name} to answer", healthy, timeout=timeout, interval=0.5)
        except (AssertionError, RuntimeError) as error:
            self.stop()
            raise RuntimeError(f"{error}:\n{self.log_tail()}") from None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group (unless ``grace`` is 0), SIGKILL it after ``grace`` seconds,
        close the log."""
        process, self._process = self._process, None
        if process is not None:
            if grace > 0:
                _signal_group(process.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=grace)
            # Also after a clean exit: workers left behind by a leader that died first.
            _signal_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def _signal_group(pid: int, signum: signal.Signals) -> None:
    """Signal the process group led by ``pid`` (started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
