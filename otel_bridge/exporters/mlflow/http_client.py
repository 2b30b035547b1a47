"""A requests session set up from the MLflow settings: auth, TLS, user agent."""

from __future__ import annotations

import requests

from otel_bridge.config import MlflowSettings
from otel_bridge.exporters.tls import TlsSession

USER_AGENT = "otel-bridge"


def mlflow_session(settings: MlflowSettings) -> requests.Session:
    """Bearer ``MLFLOW_TRACKING_TOKEN`` when set, else basic auth from
    ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (MLflow's basic-auth app)."""
    session = TlsSession()  # MLFLOW_TRACKING_SERVER_CERT_PATH wins over REQUESTS_CA_BUNDLE
    session.headers["User-Agent"] = USER_AGENT
    if settings.token:
        session.headers["Authorization"] = f"Bearer {settings.token}"
    elif settings.username and settings.password:
        session.auth = (settings.username, settings.password)
    session.verify = settings.verify
    return session


def credentials_used(settings: MlflowSettings) -> tuple[str, str]:
    """The variable whose credentials the session sends, and a value safe to print."""
    if settings.token:
        return "MLFLOW_TRACKING_TOKEN", "***"
    if settings.username and settings.password:
        return "MLFLOW_TRACKING_USERNAME", settings.username
    if settings.username:
        return "MLFLOW_TRACKING_PASSWORD", ""  # a user without a password sends nothing
    if settings.password:
        return "MLFLOW_TRACKING_USERNAME", ""
    return "MLFLOW_TRACKING_URI", settings.tracking_uri
