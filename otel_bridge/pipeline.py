"""One TracerProvider, one batch processor per destination, and the handle that owns them."""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from dataclasses import dataclass

import wrapt
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

from otel_bridge.config import BatchSettings, Settings, load_settings
from otel_bridge.exporters.content_filter import ContentFilterExporter
from otel_bridge.exporters.mlflow import MlflowSpanExporter
from otel_bridge.exporters.otlp import build_otlp_exporter
from otel_bridge.exporters.stats import CountingExporter, DestinationStats
from otel_bridge.redaction import mask_url

_logger = logging.getLogger(__name__)


class _DestinationProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor that counts the spans its full queue pushes out."""

    def __init__(self, exporter: CountingExporter, stats: DestinationStats, batch: BatchSettings):
        super().__init__(
            exporter,
            max_queue_size=batch.max_queue_size,
            max_export_batch_size=batch.max_export_batch_size,
            schedule_delay_millis=batch.schedule_delay_millis,
            export_timeout_millis=batch.export_timeout_millis,
        )
        self._stats = stats
        self._max_queue_size = batch.max_queue_size
        self._counting = exporter

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            queue = getattr(self._batch_processor, "_queue", ())
            if len(queue) >= self._max_queue_size:
                self._stats.add_dropped(1, "queue_full")
        super().on_end(span)

    def shutdown(self, timeout_millis: float = 30000) -> None:
        # BatchSpanProcessor.shutdown() takes no deadline; its inner processor does.
        self._batch_processor.shutdown(timeout_millis=timeout_millis)

    def count_unsent_as_lost(self) -> None:
        """After shutdown: what is still queued or being exported will never arrive."""
        lost = len(getattr(self._batch_processor, "_queue", ())) + self._counting.abandon()
        if lost:
            self._stats.add_dropped(lost, "shutdown_deadline")


@dataclass
class _Destination:
    name: str
    processor: _DestinationProcessor
    stats: DestinationStats
    description: str


class Bridge:
    """What :func:`configure` returns: flush, shut down, and read the counts."""

    def __init__(self, settings: Settings, provider: TracerProvider | None) -> None:
        self.settings = settings
        self.provider = provider
        self._destinations: list[_Destination] = []
        self._shutdown_lock = threading.Lock()
        self._is_shut_down = False
        if provider is None:  # OTEL_SDK_DISABLED
            return
        for name, exporter, description in _build_exporters(settings):
            stats = DestinationStats()
            if not settings.content.allows(name) and settings.content.any:
                exporter = ContentFilterExporter(exporter)
            processor = _DestinationProcessor(
                CountingExporter(exporter, stats), stats, settings.batch
            )
            provider.add_span_processor(processor)
            self._destinations.append(_Destination(name, processor, stats, description))
            _logger.info("otel-bridge: exporting to %s", description)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @property
    def destinations(self) -> dict[str, str]:
        """Destination name -> where its spans go."""
        return {d.name: d.description for d in self._destinations}

    def force_flush(self, timeout: float | None = None) -> bool:
        """Export everything queued so far; True when every destination finished."""
        return self._each_destination(
            lambda d, millis: d.processor.force_flush(millis),
            timeout or self.settings.shutdown_timeout,
        )

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush and stop every destination, in parallel, each within ``timeout`` seconds."""
        with self._shutdown_lock:
            if self._is_shut_down:
                return True
            self._is_shut_down = True
        finished = self._each_destination(
            _shutdown_processor, timeout or self.settings.shutdown_timeout
        )
        for destination in self._destinations:
            destination.processor.count_unsent_as_lost()
        return finished

    def stats(self) -> dict[str, dict[str, object]]:
        """Spans exported and dropped, per destination."""
        return {d.name: d.stats.snapshot() for d in self._destinations}

    def _each_destination(self, action, timeout: float) -> bool:
        results: dict[str, bool] = {}

        def run(destination: _Destination) -> None:
            try:
                results[destination.name] = bool(action(destination, int(timeout * 1000)))
            except Exception:
                _logger.exception("otel-bridge: %s failed to flush", destination.name)
                results[destination.name] = False

        threads = [
            threading.Thread(target=run, args=(d,), name=f"otel-bridge-{d.name}", daemon=True)
            for d in self._destinations
        ]
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        finished = all(results.get(d.name, False) for d in self._destinations)
        if not finished:
            late = [d.name for d in self._destinations if not results.get(d.name)]
            _logger.warning("otel-bridge: %s did not finish within %.1fs", ", ".join(late), timeout)
        return finished


def _shutdown_processor(destination: _Destination, timeout_millis: int) -> bool:
    destination.processor.shutdown(timeout_millis)
    return True


def _build_exporters(settings: Settings) -> list[tuple[str, SpanExporter, str]]:
    built: list[tuple[str, SpanExporter, str]] = []
    if settings.otlp is not None:
        otlp = settings.otlp
        _logger.info(
            "otel-bridge: OTLP protocol %s for %s (%s)",
            otlp.protocol,
            otlp.endpoint,
            otlp.protocol_reason,
        )
        built.append(("otlp", build_otlp_exporter(otlp), f"OTLP {otlp.protocol} {otlp.endpoint}"))
    if settings.mlflow is not None:
        exporter = MlflowSpanExporter(
            settings.mlflow, export_timeout=settings.batch.export_timeout_millis / 1000
        )
        where = "embedded store" if settings.mlflow.embedded else "server"
        uri = mask_url(settings.mlflow.tracking_uri)
        built.append(
            ("mlflow", exporter, f"MLflow {where} {uri} experiment {exporter.experiment_id}")
        )
    if settings.console:
        built.append(("console", ConsoleSpanExporter(), "console"))
    return built


_lock = threading.Lock()
_bridge: Bridge | None = None


def configure(**overrides: object) -> Bridge:
    """Read the environment, build the pipeline, instrument LiteLLM; once per process.

    A second call returns the first call's :class:`Bridge`. Raises
    :class:`otel_bridge.ConfigError` naming the variable and value on bad input.
    """
    global _bridge
    with _lock:
        if _bridge is not None and not _bridge._is_shut_down:
            return _bridge
        settings = load_settings(**overrides)
        if settings.disabled:
            _bridge = Bridge(settings, None)
            return _bridge
        provider = _tracer_provider(settings)
        bridge = Bridge(settings, provider)
        _instrument_litellm(provider, settings)
        atexit.register(bridge.shutdown)
        _bridge = bridge
        return bridge


def _tracer_provider(settings: Settings) -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        _logger.info("otel-bridge: adding its destinations to the application's TracerProvider")
        return current
    attributes = {SERVICE_NAME: settings.service_name} if settings.service_name else {}
    # The bridge shuts its own processors down at exit, bounded and in parallel.
    provider = TracerProvider(resource=Resource.create(attributes), shutdown_on_exit=False)
    trace.set_tracer_provider(provider)
    return provider


def _instrument_litellm(provider: TracerProvider, settings: Settings) -> None:
    """Instrument LiteLLM now if the app imported it, else the moment it does:
    importing LiteLLM takes seconds, and a process that never uses it should not pay."""

    def instrument(_module: object = None) -> None:
        try:
            from otel_bridge.instrumentation import LiteLLMInstrumentor

            instrumentor = LiteLLMInstrumentor()
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(
                    tracer_provider=provider, capture_content=settings.content.any
                )
        except Exception:  # the app's `import litellm` must succeed whatever happens here
            _logger.exception("otel-bridge: could not instrument LiteLLM; calls are not traced")

    if "litellm" in sys.modules:
        instrument()
    else:
        wrapt.register_post_import_hook(instrument, "litellm")
