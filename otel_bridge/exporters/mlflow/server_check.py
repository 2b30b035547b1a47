"""Asking an MLflow tracking server, within a deadline: one HTTP call with the bridge's
credentials, what a refusal means for the user, and what the OTLP route accepts.

MLflow 3.5 and 3.6 take OTLP on ``/v1/traces`` but do not decode ``Content-Encoding: gzip``
(every gzip batch is answered 400); 3.7.0 and later decode it. The route is checked with a
request holding one empty ``ResourceSpans``: the server parses it, finds no span to store and
answers 200, unless it cannot read the body (400) or refuses the caller (401/403). MLflow 3.5
also stores only the spans of one trace per request (422 for more); 3.6 groups them itself:
that is told by the version (``GET /version``).
"""

from __future__ import annotations

import gzip
import logging
import time
from dataclasses import dataclass
from typing import Any

import requests

from otel_bridge.config import (
    MLFLOW_EXPERIMENT_HEADER,
    OTLP_TRACES_PATH,
    ConfigError,
    MlflowSettings,
)
from otel_bridge.redaction import mask_url

from .http_client import credentials_used

_logger = logging.getLogger(__name__)

CALL_TIMEOUT = 10.0  # one request, when the caller's deadline leaves more
# An ExportTraceServiceRequest with one empty ResourceSpans: parsed, nothing stored.
EMPTY_OTLP_REQUEST = b"\x0a\x00"
GZIP_FROM = "3.7.0"  # the first MLflow server that decodes gzip on /v1/traces
MANY_TRACES_FROM = (3, 6)  # the first that takes spans of several traces in one request


class Unreachable(ConfigError):
    """The server did not answer (refused, timed out, DNS, busy proxy): not its refusal.
    The bridge keeps the spans and tries again; a start-up check lets the program run.
    ``nobody_listens``: the connection itself was refused or the host does not resolve (not
    a slow answer)."""

    def __init__(self, settings: MlflowSettings, why: str, *, nobody_listens: bool) -> None:
        super().__init__(
            "MLFLOW_TRACKING_URI",
            settings.tracking_uri,
            f"cannot reach the MLflow server ({why}); start it "
            "(mlflow server --backend-store-uri sqlite:///mlflow.db) or unset the variable "
            "to use the embedded store",
        )
        self.nobody_listens = nobody_listens


@dataclass(frozen=True)
class ServerTraits:
    experiment_id: str
    version: str | None  # None: the server does not say
    gzip: bool  # the OTLP route decodes Content-Encoding: gzip

    @property
    def one_trace_per_request(self) -> bool:
        return self.version is not None and version_tuple(self.version) < MANY_TRACES_FROM


def version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def call(
    session: requests.Session,
    settings: MlflowSettings,
    method: str,
    url: str,
    action: str,
    deadline: float,
    **kwargs: Any,
) -> requests.Response:
    """One request, bounded by ``deadline`` (monotonic); 401/403 raise the refusal."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Unreachable(settings, "no answer in time", nobody_listens=False)
    try:
        response = session.request(method, url, timeout=min(CALL_TIMEOUT, remaining), **kwargs)
    except requests.exceptions.SSLError as error:
        raise ConfigError(
            "MLFLOW_TRACKING_URI",
            settings.tracking_uri,
            f"TLS failed ({type(error).__name__}); set MLFLOW_TRACKING_SERVER_CERT_PATH "
            "to the server's CA bundle",
        ) from None
    except requests.RequestException as error:
        nobody = isinstance(error, requests.ConnectionError) and not isinstance(
            error, requests.Timeout
        )
        raise Unreachable(settings, type(error).__name__, nobody_listens=nobody) from None
    if response.status_code in (401, 403):
        raise refused(settings, response.status_code, action)
    if response.status_code in (502, 503, 504):  # a proxy in front of a server still starting
        raise Unreachable(settings, f"HTTP {response.status_code}", nobody_listens=False)
    return response


def check_trace_route(
    session: requests.Session,
    settings: MlflowSettings,
    experiment_id: str,
    version: str | None,
    deadline: float,
) -> bool:
    """What ``/v1/traces`` takes: True when gzip, False when only uncompressed bodies.
    Raises :class:`ConfigError` when the server cannot take the bridge's spans at all."""
    url = settings.tracking_uri + OTLP_TRACES_PATH
    headers = {"Content-Type": "application/x-protobuf", MLFLOW_EXPERIMENT_HEADER: experiment_id}
    action = f"write traces to experiment {experiment_id}"
    zipped = call(
        session,
        settings,
        "POST",
        url,
        action,
        deadline,
        data=gzip.compress(EMPTY_OTLP_REQUEST),
        headers={**headers, "Content-Encoding": "gzip"},
    )
    if zipped.status_code < 300:
        return True
    if zipped.status_code in (404, 405):
        raise _incompatible(
            settings,
            version,
            f"{OTLP_TRACES_PATH} does not exist there (HTTP {zipped.status_code})",
            "upgrade it (pip install 'mlflow>=3.5'), or check that the URL is the MLflow server",
        )
    if zipped.status_code >= 500:  # the server's own trouble (its store?): it may pass
        raise Unreachable(settings, f"HTTP {zipped.status_code}: see its log", nobody_listens=False)
    plain = call(
        session, settings, "POST", url, action, deadline, data=EMPTY_OTLP_REQUEST, headers=headers
    )
    if plain.status_code < 300:
        _logger.info(
            "otel-bridge: the MLflow server %s (version %s) does not decode gzip on %s; "
            "sending uncompressed (MLflow %s and later decode it)",
            mask_url(settings.tracking_uri),
            version or "unknown",
            OTLP_TRACES_PATH,
            GZIP_FROM,
        )
        return False
    raise _incompatible(
        settings,
        version,
        f"{OTLP_TRACES_PATH} refuses an empty OTLP request (HTTP {plain.status_code}: "
        f"{plain.text[:200]})",
        f"upgrade it (pip install -U 'mlflow>={GZIP_FROM}')",
    )


def _incompatible(
    settings: MlflowSettings, version: str | None, what: str, todo: str
) -> ConfigError:
    server = f"the MLflow server (version {version})" if version else "the server"
    return ConfigError("MLFLOW_TRACKING_URI", settings.tracking_uri, f"{server}: {what}; {todo}")


def server_version(
    session: requests.Session, settings: MlflowSettings, deadline: float
) -> str | None:
    """``GET /version`` (plain text on MLflow servers), or None."""
    try:
        response = call(
            session, settings, "GET", f"{settings.tracking_uri}/version", "read", deadline
        )
    except ConfigError:
        return None
    text = response.text.strip()
    if response.status_code != 200 or not text or len(text) > 40 or " " in text:
        return None
    return text


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
