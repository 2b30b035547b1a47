"""``otel-bridge doctor``: show the effective configuration, then check every destination.

Exit code 0 when every destination answers, 1 when one fails its check, 2 when the
configuration itself is wrong. Secrets (header values, tokens, passwords, credentials
in URLs) are never printed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from otel_bridge.config import (
    EMBEDDED_TRACKING_URI,
    ConfigError,
    MlflowSettings,
    OtlpSettings,
    Settings,
    load_settings,
)
from otel_bridge.exporters.mlflow.store_check import sqlite_path
from otel_bridge.redaction import MASK, mask_url

if TYPE_CHECKING:
    from otel_bridge.exporters.probe import ProbeResult

EXIT_OK, EXIT_DESTINATION_FAILED, EXIT_CONFIG_ERROR = 0, 1, 2


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
        print(f"  {_line(check)}", file=out)
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
        path = sqlite_path(mlflow.tracking_uri)
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


# --- the checks: each destination's own probe -----------------------------------------------


def run_checks(settings: Settings) -> list[ProbeResult]:
    checks = []
    if settings.otlp is not None:
        from otel_bridge.exporters.otlp_check import probe_otlp

        checks.append(probe_otlp(settings.otlp))
    if settings.mlflow is not None:
        from otel_bridge.exporters.mlflow.probe import probe_mlflow

        checks.append(probe_mlflow(settings.mlflow))
    return checks


def _line(check: ProbeResult) -> str:
    return f"{check.destination}: {'ok, ' if check.ok else ''}{check.message}"
