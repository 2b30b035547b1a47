"""Find (or create) the MLflow experiment the traces go to, failing with a clear error."""

from __future__ import annotations

import requests

from otel_bridge.config import (
    MLFLOW_EXPERIMENT_HEADER,
    OTLP_TRACES_PATH,
    ConfigError,
    MlflowSettings,
)
from otel_bridge.redaction import mask_url

from .http_client import credentials_used, mlflow_session

DEFAULT_EXPERIMENT_ID = "0"
_TIMEOUT = 10.0


def resolve_experiment_id(settings: MlflowSettings) -> str:
    if settings.embedded:
        return _resolve_in_store(settings)
    return _resolve_on_server(settings)


def _resolve_on_server(settings: MlflowSettings) -> str:
    with mlflow_session(settings) as session:
        experiment_id = _find_or_create_on_server(session, settings)
        _check_trace_door(session, settings, experiment_id)
        return experiment_id


def _find_or_create_on_server(session: requests.Session, settings: MlflowSettings) -> str:
    api = f"{settings.tracking_uri}/api/2.0/mlflow/experiments"
    if settings.experiment_id is not None or settings.experiment_name is None:
        # Asked for even for the Default experiment: it proves the server is there.
        experiment_id = settings.experiment_id or DEFAULT_EXPERIMENT_ID
        params = {"experiment_id": experiment_id}
        found = _get(session, settings, f"{api}/get", params, f"read experiment {experiment_id}")
        if found is None:
            raise ConfigError(
                "MLFLOW_EXPERIMENT_ID",
                experiment_id,
                f"no such experiment on {mask_url(settings.tracking_uri)}",
            )
        return experiment_id
    name = settings.experiment_name
    params = {"experiment_name": name}
    found = _get(session, settings, f"{api}/get-by-name", params, f"read experiment {name!r}")
    if found is not None:
        return str(found["experiment"]["experiment_id"])
    created = _call(
        session,
        settings,
        "POST",
        f"{api}/create",
        f"create experiment {name!r}",
        json={"name": name},
    )
    if created.status_code == 200:
        return str(created.json()["experiment_id"])
    if "RESOURCE_ALREADY_EXISTS" in created.text:  # another process won the race
        found = _get(session, settings, f"{api}/get-by-name", params, f"read experiment {name!r}")
        if found is not None:
            return str(found["experiment"]["experiment_id"])
    raise ConfigError(
        "MLFLOW_EXPERIMENT_NAME",
        name,
        f"cannot create the experiment on {mask_url(settings.tracking_uri)}: "
        f"HTTP {created.status_code} {created.text[:200]}",
    )


def _check_trace_door(session: requests.Session, settings: MlflowSettings, experiment_id: str):
    """POST an empty OTLP request, as the exporter will post spans: the server's auth checks
    the user may write traces to the experiment (401/403) before it finds the body empty
    (400). Without this, a reader's traces would be refused at every export instead."""
    url = settings.tracking_uri + OTLP_TRACES_PATH
    headers = {"Content-Type": "application/x-protobuf", MLFLOW_EXPERIMENT_HEADER: experiment_id}
    action = f"write traces to experiment {experiment_id}"
    response = _call(session, settings, "POST", url, action, data=b"", headers=headers)
    if response.status_code in (404, 405):
        raise ConfigError(
            "MLFLOW_TRACKING_URI",
            settings.tracking_uri,
            f"{OTLP_TRACES_PATH} does not exist there (HTTP {response.status_code}): the "
            "server is older than MLflow 3.5, or not an MLflow server; upgrade it "
            "(pip install 'mlflow>=3.5')",
        )


def _get(
    session: requests.Session, settings: MlflowSettings, url: str, params: dict, action: str
) -> dict | None:
    response = _call(session, settings, "GET", url, action, params=params)
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
    session: requests.Session,
    settings: MlflowSettings,
    method: str,
    url: str,
    action: str,
    **kwargs,
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
        raise refused(settings, response.status_code, action)
    return response


def refused(settings: MlflowSettings, status: int, action: str) -> ConfigError:
    """The server said no: name the variable whose credentials it refused, never their value."""
    uri = mask_url(settings.tracking_uri)
    variable, shown = credentials_used(settings)
    set_them = (
        "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (MLflow's basic-auth app) "
        "or MLFLOW_TRACKING_TOKEN"
    )
    if variable == "MLFLOW_TRACKING_URI":
        return ConfigError(
            variable,
            shown,
            f"the server requires credentials to {action} (HTTP {status}): " + set_them,
        )
    if variable == "MLFLOW_TRACKING_PASSWORD":
        return ConfigError(
            variable,
            shown,
            f"unset, so MLFLOW_TRACKING_USERNAME={settings.username!r} went without it and "
            f"{uri} refused to {action} (HTTP {status}); set both",
        )
    if variable == "MLFLOW_TRACKING_USERNAME" and not shown:
        return ConfigError(
            variable,
            shown,
            f"unset, so MLFLOW_TRACKING_PASSWORD went without a user and {uri} refused to "
            f"{action} (HTTP {status}); set both",
        )
    who = "this token" if variable == "MLFLOW_TRACKING_TOKEN" else "this user"
    if status == 401:
        check = (
            "check MLFLOW_TRACKING_TOKEN"
            if variable == "MLFLOW_TRACKING_TOKEN"
            else "check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
        )
        return ConfigError(
            variable, shown, f"{uri} refused {who}'s credentials (HTTP 401) to {action}; {check}"
        )
    return ConfigError(
        variable,
        shown,
        f"{who} may not {action} on {uri} (HTTP 403); an MLflow admin can grant it "
        "permission (EDIT to write traces), or choose an experiment it may use with "
        "MLFLOW_EXPERIMENT_NAME / MLFLOW_EXPERIMENT_ID",
    )


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
