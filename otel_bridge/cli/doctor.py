"""``otel-bridge doctor``: show the effective configuration, then check every destination.

Exit code 0 when every destination answers, 1 when one fails its check, 2 when the
configuration itself is wrong. Secrets (header values, tokens, passwords, credentials
in URLs) are never printed.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from otel_bridge.config import (
    EMBEDDED_TRACKING_URI,
    MLFLOW_EXPERIMENT_HEADER,
    OTLP_TRACES_PATH,
    ConfigError,
    MlflowSettings,
    OtlpSettings,
    Settings,
    load_settings,
)
from otel_bridge.redaction import MASK, mask_url

EXIT_OK, EXIT_DESTINATION_FAILED, EXIT_CONFIG_ERROR = 0, 1, 2
CHECK_TIMEOUT = 3.0  # seconds per network check: a doctor must answer quickly


@dataclass(frozen=True)
class Check:
    destination: str
    ok: bool
    message: str  # ok: what was proven; not ok: the problem, then what to change

    def line(self) -> str:
        return f"{self.destination}: {'ok, ' if self.ok else ''}{self.message}"


def doctor_command(out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"otel-bridge doctor: configuration error: {error}", file=err)
        return EXIT_CONFIG_ERROR
    print("otel-bridge doctor: effective configuration", file=out)
    for line in describe(settings):
        print(f"  {line}", file=out)
    if settings.ineffective:
        print("warnings:", file=out)
        for item in settings.ineffective:
            print(f"  {item}", file=out)
    if settings.disabled:
        return EXIT_OK
    checks = run_checks(settings)
    print("checks:", file=out)
    for check in checks:
        print(f"  {check.line()}", file=out)
    failed = [c for c in checks if not c.ok]
    if failed:
        print(f"{len(failed)} destination(s) failed; fix the line(s) above.", file=out)
        return EXIT_DESTINATION_FAILED
    print("all destinations ok" if checks else "no destination to check", file=out)
    return EXIT_OK


# --- the configuration, as the bridge will use it --------------------------------------------


def describe(settings: Settings) -> list[str]:
    if settings.disabled:
        return ["OTEL_SDK_DISABLED=true: the bridge is off and the app runs untouched"]
    service = settings.service_name or "unknown_service (OTEL_SERVICE_NAME is unset)"
    names = [n for n, on in (("otlp", settings.otlp), ("mlflow", settings.mlflow)) if on]
    names += ["console"] if settings.console else []
    lines = [f"service.name: {service}", f"destinations: {', '.join(names) or 'none'}"]
    lines += _describe_otlp(settings.otlp)
    lines += _describe_mlflow(settings.mlflow, settings.service_name)
    content = settings.content
    to = [d for d in ("otlp", "mlflow") if content.allows(d)]
    not_to = [d for d in ("otlp", "mlflow") if not content.allows(d)]
    lines.append(
        f"message content (prompts, completions, tool arguments): to {', '.join(to) or 'none'}"
        + (f"; not to {', '.join(not_to)}" if not_to else "")
    )
    batch = settings.batch
    lines.append(
        f"batching per destination: queue {batch.max_queue_size}, batch "
        f"{batch.max_export_batch_size}, every {batch.schedule_delay_millis} ms, export timeout "
        f"{batch.export_timeout_millis / 1000:g} s; shutdown timeout "
        f"{settings.shutdown_timeout:g} s"
    )
    return lines


def _describe_otlp(otlp: OtlpSettings | None) -> list[str]:
    if otlp is None:
        return [
            "OTLP: off (no OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, "
            "or OTEL_TRACES_EXPORTER leaves otlp out)"
        ]
    tls = "insecure" if otlp.insecure else "system CA" if not otlp.certificate else "custom CA"
    if otlp.client_certificate:
        tls += " + client certificate"
    headers = ", ".join(f"{k}={MASK}" for k in otlp.headers) or "none"
    return [
        f"OTLP: {mask_url(otlp.endpoint)}",
        f"  protocol: {otlp.protocol} ({otlp.protocol_reason})",
        f"  headers: {headers}",
        f"  timeout: {otlp.timeout:g} s, compression: {otlp.compression or 'none'}, TLS: "
        + (tls if otlp.endpoint.startswith("https") else "none (http)"),
    ]


def _describe_mlflow(mlflow: MlflowSettings | None, service_name: str | None) -> list[str]:
    if mlflow is None:
        return ["MLflow: off (OTEL_TRACES_EXPORTER leaves mlflow out)"]
    if mlflow.embedded:
        why = "the default" if mlflow.tracking_uri == EMBEDDED_TRACKING_URI else "a SQL store"
        path = store_path(mlflow.tracking_uri)
        where = f"embedded store {mask_url(mlflow.tracking_uri)} ({why}"
        where += f", file {path})" if path else ")"
    else:
        where = f"server {mask_url(mlflow.tracking_uri)} (MLFLOW_TRACKING_URI)"
    if mlflow.experiment_id is not None:
        experiment = f"id {mlflow.experiment_id} (MLFLOW_EXPERIMENT_ID)"
    elif mlflow.experiment_name is not None:
        source = (
            "MLFLOW_EXPERIMENT_NAME or OTEL_SERVICE_NAME"
            if mlflow.experiment_name == service_name
            else "MLFLOW_EXPERIMENT_NAME"
        )
        experiment = f"{mlflow.experiment_name!r} ({source}; created if missing)"
    else:
        experiment = "Default, id 0 (no MLFLOW_EXPERIMENT_ID/_NAME, no OTEL_SERVICE_NAME)"
    lines = [f"MLflow: {where}", f"  experiment: {experiment}"]
    if not mlflow.embedded:
        if mlflow.token:
            auth = f"bearer token {MASK} (MLFLOW_TRACKING_TOKEN)"
        elif mlflow.username and mlflow.password:
            auth = f"basic, user {mlflow.username!r}, password {MASK}"
        else:
            auth = "none"
        if isinstance(mlflow.verify, str):
            tls = f"CA bundle {mlflow.verify}"
        else:
            tls = "system CA" if mlflow.verify else "not verified (MLFLOW_TRACKING_INSECURE_TLS)"
        lines.append(f"  auth: {auth}, TLS: {tls}")
    return lines


# --- the checks -------------------------------------------------------------------------------


def run_checks(settings: Settings) -> list[Check]:
    checks = []
    if settings.otlp is not None:
        checks.append(check_otlp(settings.otlp))
    if settings.mlflow is not None:
        checks.append(check_mlflow(settings.mlflow))
    return checks


def check_otlp(otlp: OtlpSettings) -> Check:
    """Send one export request with no spans through the very transport the bridge exports with
    (its TLS, headers, compression), once, within the check's timeout.

    An empty ``ExportTraceServiceRequest`` is valid OTLP, and a receiver answers it as it answers
    spans, after the same transport, TLS, authentication and decoding: the Collector's
    otlpreceiver (which Jaeger and Tempo embed) returns success for it before anything reaches a
    pipeline, so the check leaves no trace among the user's traces."""
    fix = "start Jaeger/the Collector or fix OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    endpoint = mask_url(otlp.endpoint)
    problem = _tcp_problem(otlp.endpoint)
    if problem:
        return Check("OTLP", False, f"{problem} {endpoint} — {fix}")

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from otel_bridge.exporters.otlp import build_otlp_transport
    from otel_bridge.exporters.retry import RejectedError, RetryableError, RetryPolicy

    settings = replace(otlp, timeout=min(otlp.timeout, CHECK_TIMEOUT))
    transport = build_otlp_transport(settings, RetryPolicy(max_attempts=1))
    started = time.monotonic()
    try:
        transport.send(ExportTraceServiceRequest(), started + CHECK_TIMEOUT)
    except (RetryableError, RejectedError) as error:
        seconds = time.monotonic() - started
        status = getattr(error, "status", None)
        return Check(
            "OTLP",
            False,
            f"{endpoint} did not accept an OTLP export request ({otlp.protocol}, "
            f"{seconds:.1f} s): {_shorten(mask_url(str(error)))} — {_otlp_hint(status, otlp)}",
        )
    finally:
        transport.close()
    return Check(
        "OTLP",
        True,
        f"{endpoint} accepted an OTLP export request ({otlp.protocol}; it carried no span, "
        "nothing is stored)",
    )


def _otlp_hint(status: int | str | None, otlp: OtlpSettings) -> str:
    if status in (401, 403, "UNAUTHENTICATED", "PERMISSION_DENIED"):
        return "check OTEL_EXPORTER_OTLP_TRACES_HEADERS (the backend refused the credentials)"
    if status == "TLS":
        return (
            "check OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE / _CLIENT_CERTIFICATE / _CLIENT_KEY "
            "(the TLS handshake failed)"
        )
    if otlp.protocol == "http/protobuf" and isinstance(status, int):
        return (
            "it answered, but not as an OTLP/HTTP receiver: fix OTEL_EXPORTER_OTLP_TRACES_ENDPOINT "
            "(the full URL, e.g. http://localhost:4318/v1/traces)"
        )
    other = "http/protobuf" if otlp.protocol == "grpc" else "grpc"
    return (
        f"is it an OTLP {otlp.protocol} port? set OTEL_EXPORTER_OTLP_TRACES_PROTOCOL={other} "
        "or fix OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )


def check_mlflow(mlflow: MlflowSettings) -> Check:
    """Embedded: open the store (when it exists). Server: /health, the experiment, /v1/traces."""
    from otel_bridge.exporters.mlflow.experiments import resolve_experiment_id

    path = store_path(mlflow.tracking_uri)
    if path is not None and not path.exists():
        return _check_new_store(path, mlflow)
    problem = None if mlflow.embedded else _server_problem(mlflow)
    if problem:
        return Check("MLflow", False, problem)
    if mlflow.embedded:
        import mlflow as _mlflow  # noqa: F401 - its import resets its loggers: import before quieting
    try:
        with quiet_loggers("mlflow", "alembic"):  # "Creating initial MLflow database tables..."
            experiment_id = resolve_experiment_id(mlflow)
    except ConfigError as error:
        return Check("MLflow", False, str(error))
    experiment = f"experiment {_experiment_label(mlflow)} is id {experiment_id}"
    if mlflow.embedded:
        where = path or mask_url(mlflow.tracking_uri)
        return Check("MLflow", True, f"store {where} opened, {experiment}")
    problem = _otlp_door_problem(mlflow, experiment_id)
    if problem:
        return Check("MLflow", False, problem)
    return Check(
        "MLflow",
        True,
        f"server {mask_url(mlflow.tracking_uri)} healthy, {experiment}, "
        f"{OTLP_TRACES_PATH} accepts OTLP",
    )


def _experiment_label(mlflow: MlflowSettings) -> str:
    if mlflow.experiment_id:  # the id wins over a name, as in resolve_experiment_id
        return f"id {mlflow.experiment_id}"
    return repr(mlflow.experiment_name) if mlflow.experiment_name else "'Default'"


def _check_new_store(path: Path, settings: MlflowSettings) -> Check:
    """No store file yet: the first traced run creates it. Do not leave one behind here."""
    if not path.parent.is_dir():
        return Check(
            "MLflow",
            False,
            f"the directory {path.parent} of the store does not exist — create it or fix "
            "MLFLOW_TRACKING_URI",
        )
    if importlib.util.find_spec("sqlalchemy") is None:
        return Check(
            "MLflow",
            False,
            "the embedded store needs full MLflow (mlflow-skinny has no SQL store) — "
            "pip install 'otel-bridge[mlflow]' or set MLFLOW_TRACKING_URI to a server",
        )
    return Check(
        "MLflow",
        True,
        f"store {path} does not exist yet; the first traced run creates it "
        f"(experiment {_experiment_label(settings)})",
    )


def _server_problem(mlflow: MlflowSettings) -> str | None:
    import requests

    from otel_bridge.exporters.mlflow.http_client import mlflow_session

    uri = mask_url(mlflow.tracking_uri)
    start = (
        "start it (mlflow server --backend-store-uri sqlite:///mlflow.db) or unset "
        "MLFLOW_TRACKING_URI to use the embedded store"
    )
    tcp = _tcp_problem(mlflow.tracking_uri)
    if tcp:
        return f"{tcp} {uri} — {start}"
    with mlflow_session(mlflow) as session:
        try:
            response = session.get(f"{mlflow.tracking_uri}/health", timeout=CHECK_TIMEOUT)
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


def _otlp_door_problem(mlflow: MlflowSettings, experiment_id: str) -> str | None:
    """POST an empty OTLP request: a server with the door answers 200/400, one without 404."""
    import requests

    from otel_bridge.exporters.mlflow.http_client import mlflow_session

    url = mlflow.tracking_uri + OTLP_TRACES_PATH
    headers = {"Content-Type": "application/x-protobuf", MLFLOW_EXPERIMENT_HEADER: experiment_id}
    with mlflow_session(mlflow) as session:
        try:
            response = session.post(url, data=b"", headers=headers, timeout=CHECK_TIMEOUT)
        except requests.RequestException as error:
            return f"{mask_url(url)} did not answer ({type(error).__name__}) — is the server busy?"
    if response.status_code in (404, 405):
        return (
            f"{mask_url(url)} does not exist (HTTP {response.status_code}): the server is older "
            "than MLflow 3.5 — upgrade it (pip install 'mlflow>=3.5')"
        )
    if response.status_code >= 500:
        return f"{mask_url(url)} answered HTTP {response.status_code} — see the server's log"
    return None


# --- helpers ----------------------------------------------------------------------------------


def store_path(tracking_uri: str) -> Path | None:
    """The absolute file of a ``sqlite:///`` store (relative to the working directory)."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    return Path(tracking_uri[len(prefix) :].split("?", 1)[0]).absolute()


def _tcp_problem(url: str) -> str | None:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=CHECK_TIMEOUT):
            return None
    except socket.gaierror:
        return f"the host {host!r} does not resolve:"
    except ConnectionRefusedError:
        return "nothing listens on"
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:g} s (a firewall?) from"
    except OSError as error:
        return f"cannot connect ({error.strerror or error}) to"


@contextmanager
def quiet_loggers(*names: str) -> Iterator[None]:
    """Raise these loggers to WARNING for the block (MLflow's INFO lines on store creation)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
