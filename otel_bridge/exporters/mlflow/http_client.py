"""A requests session set up from the MLflow settings: auth, TLS, user agent."""

from __future__ import annotations

import requests

from otel_bridge.config import MlflowSettings
from otel_bridge.exporters.tls import TlsSession

USER_AGENT = "otel-bridge"


def mlflow_session(settings: MlflowSettings) -> requests.Session:
    session = TlsSession()  # MLFLOW_TRACKING_SERVER_CERT_PATH wins over REQUESTS_CA_BUNDLE
    session.headers["User-Agent"] = USER_AGENT
    if settings.token:
        session.headers["Authorization"] = f"Bearer {settings.token}"
    elif settings.username and settings.password:
        session.auth = (settings.username, settings.password)
    session.verify = settings.verify
    return session
