"""A new SQLite store is made whole, or not at all, and never migrated twice in one process.

MLflow creates a store's tables the first time it opens it, in several steps: processes that
open a new store at once (forked workers each sending their first spans) collide there, and a
process ending halfway leaves a store MLflow cannot open again. So the bridge makes a new store
under a temporary name and links it into place: the first process to finish wins, the others
use its store, and nothing half made is ever where MLflow looks.

MLflow's migrations run through Alembic, which keeps the running migration in module globals: two
migrations in one process at once (the bridge's, and the application's own MLflow making the
same or another store on its thread) break each other, the application's call included. So the
bridge migrates its new store in a child process, and waits for a store that another thread or
process is making right now instead of migrating it at the same time.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from .store_check import sqlite_path

MAKE_TIMEOUT = 600.0  # s for the child that makes the store (imports MLflow: seconds, loaded)
BEING_MADE_WAIT = 30.0  # s to wait for a store that another thread or process is making
_RECENT = 5.0  # s: a store written this recently, tables missing, is being made now

_MAKE = """
import sys
from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
SqlAlchemyStore("sqlite:///" + sys.argv[1], DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH).engine.dispose()
"""


def make_new_sqlite_store(tracking_uri: str) -> None:
    """Imports MLflow: call it off the application's thread."""
    path = sqlite_path(tracking_uri)
    if path is None:
        return
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        made = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.new")
        try:
            _make(made)
            with contextlib.suppress(FileExistsError):  # another process was first: its store
                os.link(made, path)
        finally:
            _remove(made)
    _wait_while_being_made(path, tracking_uri)


def _make(made: Path) -> None:
    """MLflow makes the store at ``made`` in a child process of this interpreter (``-I``: no
    PYTHONPATH, so no sitecustomize of ``otel-bridge run`` configures the bridge there too); in
    this process when no child can (an embedded interpreter, MLflow only on PYTHONPATH)."""
    if sys.executable:
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-c", _MAKE, str(made)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=MAKE_TIMEOUT,
                check=False,
            )
            if done.returncode == 0:
                return
        except (OSError, subprocess.SubprocessError):
            pass
    from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    _remove(made)  # what a failed child left
    store = SqlAlchemyStore(f"sqlite:///{made}", DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH)
    store.engine.dispose()


def _remove(made: Path) -> None:
    for leftover in (made, made.with_name(made.name + "-journal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _wait_while_being_made(path: Path, tracking_uri: str) -> None:
    """A store whose tables are not all there yet and that was written seconds ago is being made
    now (by the application's own MLflow, or a process that does not make it aside): wait until
    it is whole, so that opening it here runs no second migration beside that one. An old store
    that needs an upgrade is left to MLflow at once."""
    from mlflow.store.db import utils
    from sqlalchemy import create_engine

    tables_exist = getattr(utils, "_all_tables_exist", None)
    if tables_exist is None:
        return
    engine = create_engine(tracking_uri)
    try:
        deadline = time.monotonic() + BEING_MADE_WAIT
        while time.monotonic() < deadline and not tables_exist(engine):
            if time.time() - path.stat().st_mtime > _RECENT:
                return
            time.sleep(0.1)
    except Exception:  # the store's own open reports what is wrong with it
        return
    finally:
        engine.dispose()
