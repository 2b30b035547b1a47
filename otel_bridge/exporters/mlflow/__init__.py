"""The MLflow destination: one exporter class, two transports (server or local store)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_bridge.config import MlflowSettings, load_settings
from otel_bridge.exporters.retry import RetryableError, RetryPolicy
from otel_bridge.exporters.spans import replace_span

from .experiments import resolve_experiment_id
from .trace_roots import TraceRoots
from .transports import RejectedError, ServerTransport, StoreTransport, Transport

__all__ = ["MlflowSpanExporter"]

_logger = logging.getLogger(__name__)


class MlflowSpanExporter(SpanExporter):
    """Sends spans to an MLflow tracking server, or with no server to the local store
    that ``mlflow ui`` reads. The experiment is resolved (and created when missing)
    at construction, so a wrong setting fails there and not at the first export."""

    def __init__(
        self,
        settings: MlflowSettings | None = None,
        *,
        export_timeout: float = 30.0,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        # No settings: built by name from OTEL_TRACES_EXPORTER=...,mlflow (opentelemetry-instrument)
        settings = settings or _settings_from_env()
        self.settings = settings
        self.experiment_id = resolve_experiment_id(settings)
        self._export_timeout = export_timeout
        self._transport: Transport = (
            StoreTransport(settings, self.experiment_id)
            if settings.embedded
            else ServerTransport(settings, self.experiment_id, retry_policy or RetryPolicy())
        )
        self._warned: set[str] = set()
        self._roots = TraceRoots()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        deadline = time.monotonic() + self._export_timeout
        try:
            spans = self._roots.process([rooted_here(span) for span in spans])
            self._transport.send(encode_spans(spans), deadline)
        except RejectedError as error:
            self._warn_once("rejected", "MLflow rejected %d spans: %s", len(spans), error)
            return SpanExportResult.FAILURE
        except RetryableError as error:
            self._warn_once(
                "unavailable", "MLflow unavailable, %d spans not delivered: %s", len(spans), error
            )
            return SpanExportResult.FAILURE
        except Exception as error:
            self._warn_once(
                type(error).__name__, "MLflow export failed for %d spans: %r", len(spans), error
            )
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _warn_once(self, kind: str, message: str, *args: object) -> None:
        level = logging.WARNING if kind not in self._warned else logging.DEBUG
        self._warned.add(kind)
        _logger.log(level, message, *args)

    def shutdown(self) -> None:
        self._transport.close()

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
