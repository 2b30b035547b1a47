"""What can be checked of the embedded store without importing MLflow (which takes seconds):
MLflow and its SQL layer are installed, and a SQLite file (or where it is to be made) is
writable."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from otel_bridge.config import ConfigError, MlflowSettings


def check_embedded_store(settings: MlflowSettings) -> None:
    """Raises :class:`ConfigError` naming MLFLOW_TRACKING_URI and what to do."""
    if not settings.embedded:
        return
    for module in ("mlflow", "sqlalchemy"):
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                "MLFLOW_TRACKING_URI",
                settings.tracking_uri,
                "the embedded store needs full MLflow (mlflow-skinny has no SQL store): "
                "pip install 'otel-bridge[mlflow]', or set MLFLOW_TRACKING_URI to a server",
            )
    path = sqlite_path(settings.tracking_uri)
    if path is None:
        return
    if path.exists():
        writable, what = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK), path
    else:  # MLflow creates the file and its missing directories
        what = next(parent for parent in path.parents if parent.exists())
        writable = what.is_dir() and os.access(what, os.W_OK)
    if not writable:
        problem = "not writable" if what.is_dir() or what == path else "not a directory"
        raise ConfigError(
            "MLFLOW_TRACKING_URI",
            settings.tracking_uri,
            f"{what} is {problem}, so the store cannot be written there; choose another path",
        )


def sqlite_path(tracking_uri: str) -> Path | None:
    """The file of a ``sqlite:///`` store (relative to the working directory), or None."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    file = tracking_uri[len(prefix) :].split("?", 1)[0]
    if not file or file == ":memory:":
        return None
    return Path(file).absolute()
