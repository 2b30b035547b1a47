"""A new SQLite store is made whole, or not at all.

MLflow creates a store's tables the first time it opens it, in several steps: processes that
open a new store at once (forked workers each sending their first spans) collide there, and a
process ending halfway leaves a store MLflow cannot open again. So the bridge makes a new store
under a temporary name and links it into place: the first process to finish wins, the others
use its store, and nothing half made is ever where MLflow looks.
"""

from __future__ import annotations

import contextlib
import os
import threading

from .store_check import sqlite_path


def make_new_sqlite_store(tracking_uri: str) -> None:
    """Imports MLflow: call it off the application's thread."""
    path = sqlite_path(tracking_uri)
    if path is None or path.exists():
        return
    from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    path.parent.mkdir(parents=True, exist_ok=True)
    made = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.new")
    try:
        # the artifact root MLflow itself gives a store it makes (./mlruns)
        store = SqlAlchemyStore(f"sqlite:///{made}", DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH)
        store.engine.dispose()
        with contextlib.suppress(FileExistsError):  # another process was first: its store
            os.link(made, path)
    finally:
        for leftover in (made, made.with_name(made.name + "-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
