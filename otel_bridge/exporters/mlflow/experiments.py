"""Find (or create) the MLflow experiment the traces go to, failing with a clear error."""

from __future__ import annotations

import requests

from otel_bridge.config import ConfigError, MlflowSettings

from .http_client import mlflow_session

DEFAULT_EXPERIMENT_ID = "0"
_TIMEOUT = 10.0


def resolve_experiment_id(settings: MlflowSettings) -> str:
    if settings.embedded:
        return _resolve_in_store(settings)
    return _resolve_on_server(settings)


def _resolve_on_server(settings: MlflowSettings) -> str:
    api = f"{settings.tracking_uri}/api/2.0/mlflow/experiments"
    with mlflow_session(settings) as session:
        if settings.experiment_id is not None or settings.experiment_name is None:
            # Asked for even for the Default experiment: it proves the server is there.
            experiment_id = settings.experiment_id or DEFAULT_EXPERIMENT_ID
            found = _get(session, settings, f"{api}/get", {"experiment_id": experiment_id})
            if found is None:
                raise ConfigError(
                    "MLFLOW_EXPERIMENT_ID",
                    experiment_id,
                    f"no such experiment on {settings.tracking_uri}",
                )
            return experiment_id
        params = {"experiment_name": settings.experiment_name}
        found = _get(session, settings, f"{api}/get-by-name", params)
        if found is not None:
            return str(found["experiment"]["experiment_id"])
        created = _call(
            session, settings, "POST", f"{api}/create", json={"name": settings.experiment_name}
        )
        if created.status_code == 200:
            return str(created.json()["experiment_id"])
        if "RESOURCE_ALREADY_EXISTS" in created.text:  # another process won the race
            found = _get(session, settings, f"{api}/get-by-name", params)
            if found is not None:
                return str(found["experiment"]["experiment_id"])
        raise ConfigError(
            "MLFLOW_EXPERIMENT_NAME",
            settings.experiment_name,
            f"cannot create the experiment on {settings.tracking_uri}: "
            f"HTTP {created.status_code} {created.text[:200]}",
        )


def _get(
    session: requests.Session, settings: MlflowSettings, url: str, params: dict
) -> dict | None:
    response = _call(session, settings, "GET", url, params=params)
    if response.status_code == 200:
        return response.json()
    if response.status_code == 404 or "RESOURCE_DOES_NOT_EXIST" in response.text:
        return None
    raise ConfigError(
        "MLFLOW_TRACKING_URI",
        settings.tracking_uri,
        f"the server answered HTTP {response.status_code} to {url}: {response.text[:200]}",
    )


def _call(
    session: requests.Session, settings: MlflowSettings, method: str, url: str, **kwargs
) -> requests.Response:
    try:
        response = session.request(method, url, timeout=_TIMEOUT, **kwargs)
    except requests.exceptions.SSLError as error:
        raise ConfigError(
            "MLFLOW_TRACKING_URI",
            settings.tracking_uri,
            f"TLS failed ({type(error).__name__}); set MLFLOW_TRACKING_SERVER_CERT_PATH "
            "to the server's CA bundle",
        ) from None
    except requests.RequestException as error:
        raise ConfigError(
            "MLFLOW_TRACKING_URI",
            settings.tracking_uri,
            f"cannot reach the MLflow server ({type(error).__name__}); start it "
            "(mlflow server --backend-store-uri sqlite:///mlflow.db) or unset the variable "
            "to use the embedded store",
        ) from None
    if response.status_code in (401, 403):
        raise ConfigError(
            "MLFLOW_TRACKING_URI",
            settings.tracking_uri,
            f"the server refused the credentials (HTTP {response.status_code}); check "
            "MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD",
        )
    return response


def _resolve_in_store(settings: MlflowSettings) -> str:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
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
