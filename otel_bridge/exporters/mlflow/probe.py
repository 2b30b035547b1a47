"""The MLflow destination's probe: what the destination itself checks before its first send,
run once and told as one result (``otel-bridge doctor`` prints it).

Embedded store: the start-up check, then the store opened and the experiment found (created when
missing); a store that does not exist yet is not made here (the first traced run makes it).
Server: TCP, ``/health`` (a gateway that guards it is named here), then the destination's own
:func:`~.experiments.probe_server`: the experiment and what ``/v1/traces`` accepts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from otel_bridge.config import OTLP_TRACES_PATH, ConfigError, MlflowSettings
from otel_bridge.exporters.probe import PROBE_TIMEOUT, ProbeResult, tcp_problem
from otel_bridge.redaction import mask_url

from .store_check import check_embedded_store, sqlite_path

DESTINATION = "MLflow"


def probe_mlflow(settings: MlflowSettings, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """Imports MLflow for the embedded store (seconds)."""
    try:
        if settings.embedded:
            return _probe_store(settings)
        return _probe_server(settings, timeout)
    except ConfigError as error:
        return ProbeResult(DESTINATION, False, str(error))


def _probe_store(settings: MlflowSettings) -> ProbeResult:
    from .experiments import resolve_experiment_id

    check_embedded_store(settings)
    path = sqlite_path(settings.tracking_uri)
    label = _experiment_label(settings)
    if path is not None and not path.exists():
        return ProbeResult(
            DESTINATION,
            True,
            f"store {path} does not exist yet; the first traced run creates it "
            f"(experiment {label})",
        )
    import mlflow  # noqa: F401 - its import resets its loggers: import before quieting

    with quiet_mlflow_logs():
        experiment_id = resolve_experiment_id(settings)
    where = path or mask_url(settings.tracking_uri)
    return ProbeResult(
        DESTINATION, True, f"store {where} opened, experiment {label} is id {experiment_id}"
    )


def _probe_server(settings: MlflowSettings, timeout: float) -> ProbeResult:
    from .experiments import probe_server

    problem = _health_problem(settings, timeout)
    if problem:
        return ProbeResult(DESTINATION, False, problem)
    experiment_id = probe_server(settings).experiment_id
    return ProbeResult(
        DESTINATION,
        True,
        f"server {mask_url(settings.tracking_uri)} healthy, experiment "
        f"{_experiment_label(settings)} is id {experiment_id}, {OTLP_TRACES_PATH} accepts OTLP",
    )


def _health_problem(settings: MlflowSettings, timeout: float) -> str | None:
    """Something listens, and answers ``/health`` as an MLflow server does."""
    import requests

    from .http_client import mlflow_session

    uri = mask_url(settings.tracking_uri)
    start = (
        "start it (mlflow server --backend-store-uri sqlite:///mlflow.db) or unset "
        "MLFLOW_TRACKING_URI to use the embedded store"
    )
    tcp = tcp_problem(settings.tracking_uri, timeout)
    if tcp:
        return f"{tcp} {uri} — {start}"
    with mlflow_session(settings) as session:
        try:
            response = session.get(f"{settings.tracking_uri}/health", timeout=timeout)
        except requests.exceptions.SSLError:
            return f"TLS to {uri} failed — set MLFLOW_TRACKING_SERVER_CERT_PATH to its CA bundle"
        except requests.RequestException as error:
            return f"{uri}/health did not answer ({type(error).__name__}) — {start}"
    if response.status_code in (401, 403):
        return (
            f"{uri} refused the credentials (HTTP {response.status_code}) — check "
            "MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD"
        )
    if response.status_code != 200:
        return (
            f"{uri}/health answered HTTP {response.status_code}, not an MLflow server? — "
            "fix MLFLOW_TRACKING_URI"
        )
    return None


def _experiment_label(settings: MlflowSettings) -> str:
    if settings.experiment_id:  # the id wins over a name, as in resolve_experiment_id
        return f"id {settings.experiment_id}"
    return repr(settings.experiment_name) if settings.experiment_name else "'Default'"


@contextmanager
def quiet_mlflow_logs() -> Iterator[None]:
    """MLflow's and Alembic's INFO lines ("Creating initial MLflow database tables...") held
    back for the block. Import MLflow before: its import resets its loggers."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
