"""The MLflow span exporter: MLflow's view of the spans, over a connection made on first use."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_bridge.config import MlflowSettings, load_settings
from otel_bridge.exporters.delivery import deliver
from otel_bridge.exporters.retry import RetryPolicy
from otel_bridge.exporters.spans import replace_span
from otel_bridge.spool.payload import Payload

from .connection import MlflowConnection
from .dialect import to_mlflow
from .runs import split_by_run
from .store_check import check_embedded_store
from .trace_roots import TraceRoots

__all__ = ["MlflowSpanExporter", "rooted_here"]

_logger = logging.getLogger(__name__)


class MlflowSpanExporter(SpanExporter):
    """Sends spans to an MLflow tracking server, or with no server to the local store
    that ``mlflow ui`` reads.

    Building it is cheap and does no I/O: only what needs no MLflow import and no request is
    checked (:class:`~otel_bridge.config.ConfigError` at once). The store is opened, or the
    server probed (experiment resolved or created, what ``/v1/traces`` accepts), by
    :meth:`connect`: the bridge's MLflow destination calls it first thing on its own thread, a
    plain SDK pipeline at its first export. What it finds (refused credentials, a missing
    experiment, an incompatible server) fails those sends, and the bridge keeps the spans.

    ``shutdown_timeout``: how long the interpreter's exit waits for a store being opened;
    ``close_waits``: :meth:`shutdown` waits for a connection under way (the bridge's pipeline
    says False: there the exit waits, after the bridge's own shutdown)."""

    def __init__(
        self,
        settings: MlflowSettings | None = None,
        *,
        export_timeout: float = 30.0,
        retry_policy: RetryPolicy | None = None,
        shutdown_timeout: float = 5.0,
        close_waits: bool = True,
    ) -> None:
        # No settings: built by name from OTEL_TRACES_EXPORTER=...,mlflow (opentelemetry-instrument)
        settings = settings or _settings_from_env()
        check_embedded_store(settings)
        self.settings = settings
        self._export_timeout = export_timeout
        self._warned: set[str] = set()
        self._roots = TraceRoots()
        self.transport = MlflowConnection(
            settings,
            retry_policy or RetryPolicy(),
            exit_wait=shutdown_timeout,
            close_waits=close_waits,
        )

    def connect(self) -> str:
        """Open the store or probe the server now (once); the experiment id. Raises
        :class:`~otel_bridge.config.ConfigError` naming the variable at fault."""
        self.transport.connect()
        assert self.transport.experiment_id is not None
        return self.transport.experiment_id

    @property
    def experiment_id(self) -> str | None:
        """None until connected."""
        return self.transport.experiment_id

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
        self.transport.after_fork()

    def shutdown(self) -> None:
        self.transport.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


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
