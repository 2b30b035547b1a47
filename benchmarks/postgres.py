"""A throwaway PostgreSQL server for the benchmark's "MLflow server on PostgreSQL" row.

    pg = Postgres(workdir)     # workdir: a directory the server's OS user can reach
    pg.start()                 # initdb, server on 127.0.0.1:<free port>, database "mlflow"
    pg.uri                     # postgresql://postgres@127.0.0.1:<port>/mlflow (psycopg2)
    pg.stop()                  # pg_ctl stop -m fast, kill if still there, data directory removed

A fresh cluster in ``workdir/data``, its unix socket in ``workdir/socket`` (never /var/run),
listening on 127.0.0.1 only, trust authentication for local and 127.0.0.1 connections only, and
``fsync``, ``synchronous_commit`` and ``full_page_writes`` off: a benchmark store, not a durable
one (it is deleted afterwards). PostgreSQL refuses to run as root: as root the server runs as the
``postgres`` OS user (``setpriv``, else ``runuser``), which must be able to reach ``workdir`` (a
directory under a root-only 0700 directory will not do); otherwise as the current user.

:class:`PostgresUnavailable` says why it cannot run here (no binaries, no ``postgres`` user,
unreachable work directory); the harness turns it into a row saying the run was skipped.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

LOOPBACK = "127.0.0.1"
DATABASE = "mlflow"
SUPERUSER = "postgres"  # the cluster's bootstrap role (initdb -U), whoever runs the server
OS_USER = "postgres"  # who runs the server when we are root
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres", "pg_isready", "psql")
SETTINGS = {
    "listen_addresses": LOOPBACK,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
HBA = (
    "# written by benchmarks/postgres.py: trust, loopback and the unix socket only\n"
    "local all all trust\n"
    f"host all all {LOOPBACK}/32 trust\n"
)
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; the socket is <dir>/.s.PGSQL.<port>


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot run on this machine as asked (the reason is the message)."""


def find_bindir(candidates: Iterable[str | Path] | None = None) -> Path:
    """The first directory holding every server binary: ``$PG_BINDIR``, then the directory of
    ``initdb`` on PATH, then ``/usr/lib/postgresql/<newest>/bin`` (Debian/Ubuntu), then
    ``/usr/local/pgsql/bin``. Raises :class:`PostgresUnavailable` listing where it looked."""
    if candidates is None:
        found: list[str | Path] = []
        if os.environ.get("PG_BINDIR"):
            found.append(os.environ["PG_BINDIR"])
        on_path = shutil.which("initdb")
        if on_path:
            found.append(Path(on_path).parent)
        versions = glob.glob("/usr/lib/postgresql/*/bin")
        found += sorted(versions, key=_version_key, reverse=True)
        found.append("/usr/local/pgsql/bin")
        candidates = found
    looked = []
    for candidate in candidates:
        path = Path(candidate)
        looked.append(str(path))
        if all(os.access(path / name, os.X_OK) for name in SERVER_BINARIES):
            return path
    raise PostgresUnavailable(
        f"PostgreSQL server binaries ({', '.join(SERVER_BINARIES)}) not found; looked in "
        f"{', '.join(looked) or 'nothing'} (set PG_BINDIR to their directory)"
    )


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class Postgres:
    def __init__(
        self,
        workdir: Path,
        *,
        bindir: Path | None = None,
        port: int | None = None,
        database: str = DATABASE,
    ) -> None:
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.socket_dir = self.workdir / "socket"
        self.log_path = self.workdir / "postgres.log"
        self.database = database
        self._bindir = bindir
        self.port = port or 0
        self.version = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._user: pwd.struct_passwd | None = None
        atexit.register(self.stop)

    @property
    def uri(self) -> str:
        """SQLAlchemy URI for MLflow's store (``postgresql://`` is psycopg2's dialect)."""
        return f"postgresql://{SUPERUSER}@{LOOPBACK}:{self.port}/{self.database}"

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    @property
    def settings(self) -> dict[str, str]:
        return dict(SETTINGS)

    # -- running things as the server's user ----------------------------------------------

    def _as_server_user(self, command: Sequence[str]) -> list[str]:
        if self._user is None:
            return list(command)
        user = self._user
        setpriv = shutil.which("setpriv")
        if setpriv:
            return [
                setpriv,
                f"--reuid={user.pw_uid}",
                f"--regid={user.pw_gid}",
                "--init-groups",
                "--",
                *command,
            ]
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", user.pw_name, "--", *command]
        raise PostgresUnavailable("running as root, and neither setpriv nor runuser is on PATH")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", HOME=str(self.workdir))
        if self._user is not None:
            env.update(USER=self._user.pw_name, LOGNAME=self._user.pw_name)
        return env

    def _run(self, command: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run(
            self._as_server_user(command),
            cwd=self.workdir,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip().splitlines()[-20:]
            raise RuntimeError(
                f"{Path(command[0]).name} exited with {done.returncode}:\n" + "\n".join(output)
            )
        return done

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> Postgres:
        if self._process is not None and self._process.poll() is None:
            return self
        bindir = self.bindir
        self._prepare_workdir()
        found = re.search(r"\d+(\.\d+)*", self._run([str(bindir / "postgres"), "--version"]).stdout)
        self.version = f"PostgreSQL {found.group(0) if found else '?'}"
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self._run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--auth=trust",
                "--no-sync",  # a benchmark cluster, deleted afterwards
            ],
            timeout=180,
        )
        (self.data_dir / "pg_hba.conf").write_text(HBA)  # still owned by the server's user
        self.port = self.port or _free_port()
        options = [f"--{key}={value}" for key, value in SETTINGS.items()]
        options += [
            f"--unix_socket_directories={self.socket_dir}",
            "--unix_socket_permissions=0700",
        ]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self._process = subprocess.Popen(
            self._as_server_user(
                [str(bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port), *options]
            ),
            cwd=self.workdir,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready(timeout)
            self._psql("postgres", f'CREATE DATABASE "{self.database}"')
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam(OS_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root (PostgreSQL refuses to) and there is no {OS_USER!r} OS user "
                    "to run it as"
                ) from None
        socket_file = self.socket_dir / ".s.PGSQL.65535"
        if len(str(socket_file)) > _SOCKET_PATH_MAX:
            raise PostgresUnavailable(
                f"the unix socket path {socket_file} is too long for the OS; use a shorter workdir"
            )
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        if self._user is not None:
            for path in (self.workdir, self.socket_dir):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
            reach = subprocess.run(
                self._as_server_user(["test", "-w", str(self.workdir)]),
                cwd="/",
                capture_output=True,
            )
            if reach.returncode != 0:
                raise PostgresUnavailable(
                    f"the {OS_USER!r} OS user cannot write to {self.workdir} (a parent directory "
                    "it cannot enter?); give Postgres a workdir under a world-traversable one"
                )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(f"postgres exited with {code}:\n{self.log_tail()}")
            ready = subprocess.run(
                [
                    *(str(self.bindir / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(self.port)),
                    *("-U", SUPERUSER, "-d", "postgres"),
                ],
                env=self._env(),
                capture_output=True,
                timeout=30,
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"postgres not accepting connections after {timeout:g} s:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def query(self, sql: str) -> str:
        """One SQL statement through psql on the benchmark database; the unaligned output."""
        return self._psql(self.database, sql).strip()

    def _psql(self, database: str, sql: str) -> str:
        """One statement through psql as the superuser, stopping at the first error; its output
        unaligned and without headers."""
        command = [str(self.bindir / "psql"), "-h", LOOPBACK, "-p", str(self.port)]
        command += ["-U", SUPERUSER, "-d", database, "-X", "-A", "-t"]
        command += ["-v", "ON_ERROR_STOP=1", "-c", sql]
        return self._run(command).stdout

    def stop(self, grace: float = 30.0) -> None:
        """``pg_ctl stop -m fast`` as the server's user, SIGKILL if it is still there, then the
        data and socket directories are removed (the log stays). Safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(Exception):
                    self._run(
                        [
                            str(self.bindir / "pg_ctl"),
                            "stop",
                            "-D",
                            str(self.data_dir),
                            "-m",
                            "fast",
                            "-w",
                            "-t",
                            str(int(grace)),
                        ],
                        timeout=grace + 10,
                    )
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            # the server's own children (checkpointer, walwriter...) share its process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
        for path in (self.data_dir, self.socket_dir):
            shutil.rmtree(path, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
