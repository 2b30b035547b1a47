"""Find (or create) the MLflow experiment the traces go to, failing with a clear error."""

from __future__ import annotations

import time
from typing import Any

import requests

from otel_bridge.config import ConfigError, MlflowSettings
from otel_bridge.redaction import mask_url

from .http_client import mlflow_session
from .server_check import CALL_TIMEOUT, ServerTraits, call, check_trace_route, server_version

DEFAULT_EXPERIMENT_ID = "0"


def resolve_experiment_id(settings: MlflowSettings) -> str:
    """Imports MLflow for the embedded store: call it off the application's thread."""
    if settings.embedded:
        return _resolve_in_store(settings)
    return probe_server(settings).experiment_id


def probe_server(settings: MlflowSettings, timeout: float = 3 * CALL_TIMEOUT) -> ServerTraits:
    """The experiment (created when missing) and what the server's OTLP route accepts, all
    within ``timeout`` seconds. Raises :class:`ConfigError`: an
    :class:`~otel_bridge.exporters.mlflow.server_check.Unreachable` one when it did not answer."""
    deadline = time.monotonic() + timeout
    with mlflow_session(settings) as session:
        experiment_id = _find_or_create_on_server(session, settings, deadline)
        version = server_version(session, settings, deadline)
        gzip = check_trace_route(session, settings, experiment_id, version, deadline)
        return ServerTraits(experiment_id, version, gzip)


def _find_or_create_on_server(
    session: requests.Session, settings: MlflowSettings, deadline: float
) -> str:
    api = f"{settings.tracking_uri}/api/2.0/mlflow/experiments"

    def get(url: str, params: dict[str, str], action: str) -> dict[str, Any] | None:
        return _get(session, settings, url, params, action, deadline)

    if settings.experiment_id is not None or settings.experiment_name is None:
        # Asked for even for the Default experiment: it proves the server is there.
        experiment_id = settings.experiment_id or DEFAULT_EXPERIMENT_ID
        params = {"experiment_id": experiment_id}
        found = get(f"{api}/get", params, f"read experiment {experiment_id}")
        if found is None:
            raise ConfigError(
                "MLFLOW_EXPERIMENT_ID",
                experiment_id,
                f"no such experiment on {mask_url(settings.tracking_uri)}",
            )
        return experiment_id
    name = settings.experiment_name
    params = {"experiment_name": name}
    found = get(f"{api}/get-by-name", params, f"read experiment {name!r}")
    if found is not None:
        return str(found["experiment"]["experiment_id"])
    action = f"create experiment {name!r}"
    created = call(
        session, settings, "POST", f"{api}/create", action, deadline, json={"name": name}
    )
    if created.status_code == 200:
        return str(created.json()["experiment_id"])
    if "RESOURCE_ALREADY_EXISTS" in created.text:  # another process won the race
        found = get(f"{api}/get-by-name", params, f"read experiment {name!r}")
        if found is not None:
            return str(found["experiment"]["experiment_id"])
    raise ConfigError(
        "MLFLOW_EXPERIMENT_NAME",
        name,
        f"cannot create the experiment on {mask_url(settings.tracking_uri)}: "
        f"HTTP {created.status_code} {created.text[:200]}",
    )


def _get(
    session: requests.Session,
    settings: MlflowSettings,
    url: str,
    params: dict[str, str],
    action: str,
    deadline: float,
) -> dict[str, Any] | None:
    response = call(session, settings, "GET", url, action, deadline, params=params)
    if response.status_code == 200:
        body: dict[str, Any] = response.json()
        return body
    if response.status_code == 404 or "RESOURCE_DOES_NOT_EXIST" in response.text:
        return None
    raise ConfigError(
        "MLFLOW_TRACKING_URI",
        settings.tracking_uri,
        f"the server answered HTTP {response.status_code} to {url}: {response.text[:200]}",
    )


def _resolve_in_store(settings: MlflowSettings) -> str:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from .new_store import make_new_sqlite_store

    try:
        make_new_sqlite_store(settings.tracking_uri)
        client = MlflowClient(tracking_uri=settings.tracking_uri)
        if settings.experiment_id is not None:
            try:
                client.get_experiment(settings.experiment_id)
            except MlflowException:
                raise ConfigError(
                    "MLFLOW_EXPERIMENT_ID",
                    settings.experiment_id,
                    f"no such experiment in {settings.tracking_uri}",
                ) from None
            return settings.experiment_id
        if settings.experiment_name is None:
            return DEFAULT_EXPERIMENT_ID
        found = client.get_experiment_by_name(settings.experiment_name)
        if found is not None:
            return found.experiment_id
        try:
            return client.create_experiment(settings.experiment_name)
        except MlflowException:
            found = client.get_experiment_by_name(settings.experiment_name)
            if found is None:
                raise
            return found.experiment_id
    except ConfigError:
        raise
    except Exception as error:  # an unusable store: bad path, driver missing, ...
        raise ConfigError(
            "MLFLOW_TRACKING_URI",
            settings.tracking_uri,
            f"cannot open the MLflow store: {type(error).__name__}: {error}",
        ) from None
