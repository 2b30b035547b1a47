"""The MLflow destination: one exporter class, two transports (server or local store)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import requests
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_bridge.config import ConfigError, MlflowSettings, load_settings
from otel_bridge.exporters.delivery import Payload, deliver
from otel_bridge.exporters.retry import RejectedError, RetryableError, RetryPolicy
from otel_bridge.exporters.spans import replace_span
from otel_bridge.redaction import mask_url

from .dialect import to_mlflow
from .experiments import resolve_experiment_id
from .runs import split_by_run
from .trace_roots import TraceRoots
from .transports import ServerTransport, StoreTransport, Transport

__all__ = ["MlflowSpanExporter", "is_unreachable"]

_logger = logging.getLogger(__name__)


class MlflowSpanExporter(SpanExporter):
    """Sends spans to an MLflow tracking server, or with no server to the local store
    that ``mlflow ui`` reads. The experiment is resolved (and created when missing)
    at construction, so a wrong setting fails there and not at the first export.

    ``lazy_experiment``: a server that cannot be reached at all (connection refused, timeout)
    is not an error: the experiment is resolved at the first export that reaches it, and until
    then every send fails as transient (the bridge spools meanwhile). A server that answers but
    refuses (credentials, a missing experiment id) is still a :class:`ConfigError` here."""

    def __init__(
        self,
        settings: MlflowSettings | None = None,
        *,
        export_timeout: float = 30.0,
        retry_policy: RetryPolicy | None = None,
        lazy_experiment: bool = False,
    ) -> None:
        # No settings: built by name from OTEL_TRACES_EXPORTER=...,mlflow (opentelemetry-instrument)
        settings = settings or _settings_from_env()
        self.settings = settings
        self._export_timeout = export_timeout
        self._warned: set[str] = set()
        self._roots = TraceRoots()
        policy = retry_policy or RetryPolicy()
        if settings.embedded:
            experiment_id = resolve_experiment_id(settings)
            self.transport: Transport = StoreTransport(settings, experiment_id)
            self._door: _ServerDoor | None = None
            self._experiment_id: str | None = experiment_id
            return
        self._door = _ServerDoor(settings, policy, lazy=lazy_experiment)
        self.transport = self._door
        self._experiment_id = None

    @property
    def experiment_id(self) -> str | None:
        """None while the server has not been reached (``lazy_experiment``)."""
        return self._door.experiment_id if self._door is not None else self._experiment_id

    def payloads(self, spans: Sequence[ReadableSpan]) -> list[Payload]:
        """The spans as MLflow must receive them, one request per MLflow run of their roots."""
        prepared = self._roots.process([to_mlflow(rooted_here(span)) for span in spans])
        return [
            Payload(encode_spans(group), {"run_id": run_id} if run_id else {}, len(group))
            for run_id, group in split_by_run(prepared)  # one group unless roots have runs
        ]

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """For a plain SDK pipeline (``OTEL_TRACES_EXPORTER=mlflow``): no spool there."""
        if not spans:
            return SpanExportResult.SUCCESS
        deadline = time.monotonic() + self._export_timeout
        failed = False
        try:
            for payload in self.payloads(spans):
                outcome = deliver(self.transport, payload, deadline)
                if outcome.invalid:
                    self._warn_once(
                        "rejected",
                        "MLflow rejected %d spans: %s",
                        outcome.invalid,
                        outcome.error,
                    )
                if outcome.kept:
                    failed = True
                    self._warn_once(
                        "unavailable",
                        "MLflow unavailable, %d spans not delivered: %s",
                        outcome.kept_spans,
                        outcome.error,
                    )
        except Exception as error:
            self._warn_once(
                type(error).__name__, "MLflow export failed for %d spans: %r", len(spans), error
            )
            return SpanExportResult.FAILURE
        return SpanExportResult.FAILURE if failed else SpanExportResult.SUCCESS

    def _warn_once(self, kind: str, message: str, *args: object) -> None:
        level = logging.WARNING if kind not in self._warned else logging.DEBUG
        self._warned.add(kind)
        _logger.log(level, message, *args)

    def after_fork(self) -> None:
        if self._door is not None:
            self._door.after_fork()
        elif isinstance(self.transport, StoreTransport):
            self.transport.after_fork()

    def shutdown(self) -> None:
        self.transport.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _ServerDoor:
    """The server transport, built once the experiment is known (at once, or lazily)."""

    def __init__(self, settings: MlflowSettings, policy: RetryPolicy, *, lazy: bool) -> None:
        self._settings = settings
        self._policy = policy
        self._lock = threading.Lock()
        self._inner: ServerTransport | None = None
        self.experiment_id: str | None = None
        try:
            self._connect()
        except ConfigError as error:
            if not (lazy and is_unreachable(error)):
                raise
            _logger.warning(
                "otel-bridge: the MLflow server %s cannot be reached now; spans for MLflow are "
                "spooled and sent once it answers",
                mask_url(settings.tracking_uri),
            )

    def _connect(self) -> ServerTransport:
        experiment_id = resolve_experiment_id(self._settings)
        with self._lock:
            if self._inner is None:
                self.experiment_id = experiment_id
                self._inner = ServerTransport(self._settings, experiment_id, self._policy)
            return self._inner

    def send(self, request: ExportTraceServiceRequest, deadline: float, **options: str) -> object:
        inner = self._inner
        if inner is None:
            try:
                inner = self._connect()
            except ConfigError as error:
                if is_unreachable(error):
                    raise RetryableError(str(error)) from None
                raise RejectedError(str(error), "configuration") from None
            _logger.warning(
                "otel-bridge: the MLflow server %s answers now (experiment %s)",
                mask_url(self._settings.tracking_uri),
                self.experiment_id,
            )
        return inner.send(request, deadline, **options)

    def after_fork(self) -> None:
        with self._lock:
            if self._inner is not None and self.experiment_id is not None:
                self._inner = ServerTransport(self._settings, self.experiment_id, self._policy)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


def is_unreachable(error: ConfigError) -> bool:
    """The configuration error only says the server could not be reached (refused, timed out,
    DNS): not a TLS failure, not an answer."""
    cause = error.__cause__ or error.__context__
    return isinstance(cause, requests.RequestException) and not isinstance(
        cause, requests.exceptions.SSLError
    )


def check_experiment(settings: MlflowSettings, *, spool: bool) -> str | None:
    """What ``otel-bridge run`` checks before starting the program: the experiment resolves.
    With the spool on, a server that cannot be reached at all only warns (None): the program
    runs and its spans wait in the spool."""
    try:
        return resolve_experiment_id(settings)
    except ConfigError as error:
        if spool and not settings.embedded and is_unreachable(error):
            return None
        raise


def rooted_here(span: ReadableSpan) -> ReadableSpan:
    """A span whose parent lives in another process (a caller's ``traceparent``) is the
    root of the trace for MLflow, which never receives that parent: a trace must not be
    left without a root there. The trace id stays the same; the OTLP copy keeps its parent."""
    if span.parent is not None and span.parent.is_remote:
        return replace_span(span, parent=None)
    return span


def _settings_from_env() -> MlflowSettings:
    settings = load_settings(exporters="mlflow").mlflow
    assert settings is not None  # asked for by name just above
    return settings
