"""A requests session set up from the MLflow settings: auth, TLS, user agent."""

from __future__ import annotations

import requests

from otel_bridge.config import MlflowSettings

USER_AGENT = "otel-bridge"


def mlflow_session(settings: MlflowSettings) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    if settings.token:
        session.headers["Authorization"] = f"Bearer {settings.token}"
    elif settings.username and settings.password:
        session.auth = (settings.username, settings.password)
    session.verify = settings.verify
    return session
