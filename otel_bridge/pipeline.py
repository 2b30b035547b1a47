"""One TracerProvider, one span processor per destination, and the handle that owns them."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import wrapt
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.metrics import MeterProvider, get_meter_provider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

from otel_bridge import sigterm
from otel_bridge.config import BatchSettings, Settings, load_settings
from otel_bridge.deferred_content import ContentRegistry
from otel_bridge.exporters.delivery import Transport
from otel_bridge.exporters.destination import DestinationProcessor
from otel_bridge.exporters.mlflow import MlflowSpanExporter
from otel_bridge.exporters.mlflow.runs import ActiveRunProcessor
from otel_bridge.exporters.stats import (
    QUEUE_FULL,
    SHUTDOWN_DEADLINE,
    CountingExporter,
    DestinationStats,
    StatsSnapshot,
)
from otel_bridge.pipeline_content import (
    ContentBinder,
    ContentExporter,
    with_content,
    without_content,
)
from otel_bridge.pipeline_processor import PipelineProcessor
from otel_bridge.redaction import install_log_scrubbing, mask_url
from otel_bridge.sigterm import hold_across_fork, start_thread
from otel_bridge.spool import Spool, destination_directory
from otel_bridge.spool.payload import Payload

if TYPE_CHECKING:
    from otel_bridge import pipeline_metrics

_logger = logging.getLogger(__name__)

# Each destination bounds its own shutdown by the timeout; this covers the spool writes after.
_JOIN_GRACE = 0.5
# Longest wait the bridge accepts anywhere (a day): Thread.join and Condition.wait refuse
# timeouts past threading.TIMEOUT_MAX, and a shutdown no one can wait for is lost anyway.
MAX_WAIT = 86400.0


class _ConsoleProcessor(BatchSpanProcessor):
    """The console destination (a debugging aid): the SDK's batch processor, counted."""

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
            self._stats.add_received(1)
            queue = getattr(self._batch_processor, "_queue", ())
            if len(queue) >= self._max_queue_size:
                self._stats.add_dropped(1, QUEUE_FULL)
        super().on_end(span)

    def shutdown(self, timeout_millis: int = 30000) -> None:
        # BatchSpanProcessor.shutdown() takes no deadline; its inner processor does.
        self._batch_processor.shutdown(timeout_millis=timeout_millis)
        # What is still queued or being exported will never arrive.
        lost = len(getattr(self._batch_processor, "_queue", ())) + self._counting.abandon()
        self._stats.add_dropped(lost, SHUTDOWN_DEADLINE)


@dataclass
class _Destination:
    name: str
    processor: DestinationProcessor | _ConsoleProcessor
    stats: DestinationStats
    description: str


# Flush or shut one destination down within the milliseconds given; true when all went out.
_Action = Callable[[_Destination, int], bool]


class Bridge:
    """What :func:`configure` returns: flush, shut down, and read the counts."""

    def __init__(self, settings: Settings, provider: TracerProvider | None) -> None:
        self.settings = settings
        self.provider = provider
        self._destinations: list[_Destination] = []
        self._is_shut_down = False
        self.shutdown_until = 0.0  # monotonic time by which every shutdown started ends
        # LiteLLM calls' content, serialised by the destinations that receive content, and the
        # usage of streams without one, counted by whichever destination needs it first
        self.content_registry: ContentRegistry | None = None
        self.metrics: pipeline_metrics.MetricsPipeline | None = None  # set by configure()
        if provider is None:  # OTEL_SDK_DISABLED
            return
        destinations = build_destinations(settings)
        self.content_registry = ContentRegistry()
        bind = ContentBinder(self.content_registry).on_end
        receivers: list[Callable[[ReadableSpan], None]] = []
        for name, built, description in destinations:
            stats = DestinationStats(name)
            processor: DestinationProcessor | _ConsoleProcessor
            if isinstance(built, SpanExporter):  # the console: what is captured
                exporter = CountingExporter(ContentExporter(built), stats)
                processor = _ConsoleProcessor(exporter, stats, settings.batch)
                receivers.append(processor.on_end)
            else:
                payloads, transport, after_fork, connect = built
                rewrite = with_content if settings.content.allows(name) else without_content
                payloads = _rewritten(payloads, rewrite)
                processor = DestinationProcessor(
                    name,
                    payloads,
                    transport,
                    stats,
                    settings.batch,
                    spool=_open_spool(settings, name, stats),
                    shutdown_timeout=settings.shutdown_timeout,
                    after_fork=after_fork,
                    connect=connect,
                )
                receivers.append(processor.enqueue)
            self._destinations.append(_Destination(name, processor, stats, description))
            _logger.info("otel-bridge: exporting to %s", description)
        # traces started under an MLflow run are linked to it
        link_run = ActiveRunProcessor().on_start if settings.mlflow is not None else None
        provider.add_span_processor(
            PipelineProcessor(
                receivers,
                flush=lambda millis: self.force_flush(millis / 1000),
                shutdown=self.shutdown,
                bind=bind,
                on_start=link_run,
            )
        )

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @property
    def destinations(self) -> dict[str, str]:
        """Destination name -> where its spans go."""
        return {d.name: d.description for d in self._destinations}

    def force_flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far; True when every destination handled it all
        (delivered, spooled, or counted as dropped) within the timeout."""
        return self._each_destination(
            lambda d, millis: d.processor.force_flush(millis),
            timeout or self.settings.shutdown_timeout,
        )

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush and stop every destination, in parallel, each within ``timeout`` seconds
        (default ``OTEL_BRIDGE_SHUTDOWN_TIMEOUT``); what cannot be sent in time is spooled
        (or counted as dropped without a spool). True when nothing had to be left behind.

        A call made while a shutdown runs (SIGTERM during the ``atexit`` flush, a second
        thread) waits for that shutdown (each destination's own shutdown waits for the one
        under way): it never returns first, so a process ended right after it never ends
        mid-flush."""
        # No lock: SIGTERM's handler runs on the main thread, maybe in the middle of this call,
        # and calls it again from another thread, which must never wait for the main one.
        self._is_shut_down = True
        timeout = min(max(timeout or self.settings.shutdown_timeout, 0.0), MAX_WAIT)
        until = time.monotonic() + timeout + _JOIN_GRACE
        self.shutdown_until = max(self.shutdown_until, until)
        run = self._start_each(_shutdown_processor, timeout)
        run.deadline = self.shutdown_until  # a destination shut down earlier keeps its deadline
        return self._finish(run)

    def stats(self) -> dict[str, StatsSnapshot]:
        """Per destination: spans ``received``, ``exported`` (``replayed`` of them from the
        spool), ``spooled`` (``refused`` of them: in batches the destination refused whole),
        ``dropped`` and ``dropped_by_reason``, and the spool's level."""
        return {d.name: d.stats.snapshot() for d in self._destinations}

    def _each_destination(self, action: _Action, timeout: float) -> bool:
        return self._finish(self._start_each(action, timeout))

    def _start_each(self, action: _Action, timeout: float) -> _Run:
        """``action`` started for every destination, each on a thread of its own."""
        timeout = min(max(timeout, 0.0), MAX_WAIT)  # Thread.join refuses inf and huge values
        results: dict[str, bool] = {}

        def run(destination: _Destination) -> None:
            try:
                results[destination.name] = bool(action(destination, int(timeout * 1000)))
            except Exception:
                _logger.exception("otel-bridge: %s failed to flush", destination.name)
                results[destination.name] = False

        threads = [start_thread(run, f"otel-bridge-{d.name}", d) for d in self._destinations]
        return _Run(threads, results, time.monotonic() + timeout + _JOIN_GRACE, timeout)

    def _finish(self, run: _Run) -> bool:
        """Wait for a started action, bounded."""
        for thread in run.threads:
            thread.join(max(0.0, run.deadline - time.monotonic()))
        finished = all(run.results.get(d.name, False) for d in self._destinations)
        # A destination that returned said itself what it left behind (spooled or dropped).
        late = [d.name for d in self._destinations if d.name not in run.results]
        if late:
            _logger.warning(
                "otel-bridge: %s did not finish within %.1fs (the rest is spooled or counted)",
                ", ".join(late),
                run.timeout,
            )
        return finished


@dataclass
class _Run:
    """One flush or shutdown of every destination, started."""

    threads: list[threading.Thread]
    results: dict[str, bool]
    deadline: float
    timeout: float


def _shutdown_processor(destination: _Destination, timeout_millis: int) -> bool:
    """True when nothing had to be spooled or dropped for lack of time."""

    def left_behind() -> tuple[int, int]:
        counts = destination.stats.snapshot()
        return counts["spooled"], counts["dropped_by_reason"].get(SHUTDOWN_DEADLINE, 0)

    before = left_behind()
    destination.processor.shutdown(timeout_millis)
    return left_behind() == before


PayloadsFn = Callable[[Sequence[ReadableSpan]], list[Payload]]
# payloads, transport, after_fork, connect (run first by the destination's sender thread)
Built = tuple[PayloadsFn, Transport, Callable[[], None] | None, Callable[[], None] | None]


def build_destinations(settings: Settings) -> list[tuple[str, Built | SpanExporter, str]]:
    """(name, what sends to it, where it is) per destination; no I/O, nothing started."""
    built: list[tuple[str, Built | SpanExporter, str]] = []
    if settings.otlp is not None:
        otlp = settings.otlp
        _logger.info(
            "otel-bridge: OTLP protocol %s for %s (%s)",
            otlp.protocol,
            mask_url(otlp.endpoint),
            otlp.protocol_reason,
        )
        from otel_bridge.exporters.otlp import build_otlp_transport  # requests: only if used

        transport = build_otlp_transport(otlp)
        where = f"OTLP {otlp.protocol} {mask_url(otlp.endpoint)}"
        built.append(("otlp", (_otlp_payloads, transport, transport.after_fork, None), where))
    if settings.mlflow is not None:
        mlflow = settings.mlflow
        # Connected by the destination's own thread, never the application's: a server is
        # probed first thing (a refusal is reported before any span), the embedded store is
        # opened (MLflow imported: seconds, 200 MB) when there is something to store.
        exporter = MlflowSpanExporter(
            mlflow,
            export_timeout=settings.batch.export_timeout_millis / 1000,
            shutdown_timeout=settings.shutdown_timeout,
            close_waits=False,  # its atexit waits, after the bridge's shutdown (bounded)
        )
        kind = "embedded store" if mlflow.embedded else "server"
        uri = mask_url(mlflow.tracking_uri)
        experiment = (
            f"id {mlflow.experiment_id}"
            if mlflow.experiment_id
            else repr(mlflow.experiment_name or "Default")
        )
        connection = exporter.transport
        connect = None if mlflow.embedded else connection.ready
        built.append(
            (
                "mlflow",
                (exporter.payloads, connection, exporter.after_fork, connect),
                f"MLflow {kind} {uri} experiment {experiment}",
            )
        )
    if settings.console:
        built.append(("console", ConsoleSpanExporter(), "console"))
    return built


def _otlp_payloads(spans: Sequence[ReadableSpan]) -> list[Payload]:
    return [Payload(encode_spans(spans), {}, len(spans))]


def _rewritten(payloads: PayloadsFn, rewrite: Callable[[ReadableSpan], ReadableSpan]) -> PayloadsFn:
    def rewritten(spans: Sequence[ReadableSpan]) -> list[Payload]:
        return payloads([rewrite(span) for span in spans])

    return rewritten


def _open_spool(settings: Settings, name: str, stats: DestinationStats) -> Spool | None:
    spool = settings.spool
    if not spool.enabled:
        return None
    directory = destination_directory(spool.directory, settings.service_name, name)
    try:
        return Spool(directory, spool.max_bytes, stats)
    except OSError as error:
        _logger.warning(
            "otel-bridge: no spool for %s (%s: %s); spans it cannot take now are dropped",
            name,
            directory,
            error,
        )
        return None


_lock = threading.Lock()
_bridge: Bridge | None = None


def configure(**overrides: Any) -> Bridge:
    """Read the environment, build the pipeline, instrument LiteLLM; once per process.

    A second call returns the first call's :class:`Bridge`. Raises
    :class:`otel_bridge.ConfigError` naming the variable and value on bad input.
    """
    global _bridge
    with _lock:
        if _bridge is not None and not _bridge._is_shut_down:
            return _bridge
        install_log_scrubbing()
        settings = load_settings(**overrides)
        if settings.disabled:
            _bridge = Bridge(settings, None)
            return _bridge
        provider = _tracer_provider(settings)
        bridge = Bridge(settings, provider)  # raises ConfigError before anything is installed
        if provider is not trace.get_tracer_provider():
            trace.set_tracer_provider(provider)
        if settings.metrics is not None:  # imported only then: the SDK's metrics cost start-up
            from otel_bridge import pipeline_metrics

            bridge.metrics = pipeline_metrics.start(
                settings.metrics, provider.resource, settings.shutdown_timeout
            )
        _instrument_litellm(provider, settings, bridge.content_registry, bridge.metrics)
        atexit.register(bridge.shutdown)
        _flush_in_multiprocessing_children(bridge)
        _bridge = bridge
        _handle_sigterm()
        return bridge


def _flush_in_multiprocessing_children(bridge: Bridge) -> None:
    """A ``multiprocessing`` child started by fork ends with ``os._exit()``: no ``atexit``, and
    the spans it made would die in its queues. In each such child, multiprocessing's own exit
    finalizers shut the bridge down (flushing both destinations, bounded) before ``os._exit``.
    A child that exits through ``sys.exit`` (gunicorn's workers) runs ``atexit`` as usual."""
    from multiprocessing import util

    def in_child(bridge: Bridge) -> None:
        util.Finalize(bridge, bridge.shutdown, exitpriority=10)
        if _sigterm_installed:  # terminate() must end it, whatever its main thread waits on
            sigterm.handler_started.clear()
            sigterm.watch_for_missed_signal()

    util.register_after_fork(bridge, in_child)


_sigterm_installed = False


def _handle_sigterm() -> None:
    """Flush on SIGTERM, whose default action ends the process without running ``atexit``.

    Only from the main thread (Python's rule), once per process, and not when SIGTERM is
    ignored. A handler the application installed before is chained and runs FIRST: it decides
    how the program stops (a server's graceful stop, ``sys.exit``), and ``atexit`` flushes at
    the end. With the default action the bridge shuts down (each destination within
    ``OTEL_BRIDGE_SHUTDOWN_TIMEOUT``, in parallel), then the signal is raised again with the
    default action, so the process ends exactly as it would have. Under uvicorn (the LiteLLM
    proxy) uvicorn's own handler is chained, and the proxy's shutdown event flushes.
    """
    global _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, AttributeError):
        return
    if previous is signal.SIG_IGN:
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        sigterm.handler_started.set()
        if callable(previous):
            previous(signum, frame)
            return
        _shutdown_on_signal()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):
        return
    _sigterm_installed = True
    hold_across_fork()


def _shutdown_on_signal() -> None:
    """On another thread: the signal may have interrupted the main thread inside a lock the
    shutdown needs; the join bounds the wait whatever happens."""
    bridge = _bridge
    if bridge is None:
        return
    worker = start_thread(bridge.shutdown, "otel-bridge-sigterm")
    wait = min(bridge.settings.shutdown_timeout, MAX_WAIT) + _JOIN_GRACE + 0.5
    # a shutdown already under way (the atexit flush) keeps its own, maybe longer, deadline
    worker.join(max(wait, bridge.shutdown_until - time.monotonic() + 0.5))


def _tracer_provider(settings: Settings) -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        _logger.info("otel-bridge: adding its destinations to the application's TracerProvider")
        return current
    attributes = {SERVICE_NAME: settings.service_name} if settings.service_name else {}
    # The bridge shuts its own processors down at exit, bounded and in parallel. It becomes the
    # global provider only once every destination is built (configure() may still raise).
    return TracerProvider(resource=Resource.create(attributes), shutdown_on_exit=False)


def _apps_meter_provider() -> MeterProvider | None:
    """The application's own SDK MeterProvider, when it set one before ``configure()`` and the
    bridge has no metrics pipeline: the GenAI metrics are recorded there. Without either, none
    are (the API's no-op would still cost every call its histograms' attributes)."""
    sdk = sys.modules.get("opentelemetry.sdk.metrics")  # never imported for this: start-up time
    current = get_meter_provider()
    return current if sdk is not None and isinstance(current, sdk.MeterProvider) else None


def _instrument_litellm(
    provider: TracerProvider,
    settings: Settings,
    registry: ContentRegistry | None,
    metrics: pipeline_metrics.MetricsPipeline | None = None,
) -> None:
    """Instrument LiteLLM now if the app imported it, else the moment it does:
    importing LiteLLM takes seconds, and a process that never uses it should not pay."""

    def instrument(_module: object = None) -> None:
        try:
            from otel_bridge.instrumentation import LiteLLMInstrumentor

            instrumentor = LiteLLMInstrumentor()
            if not instrumentor.is_instrumented_by_opentelemetry:
                meter_provider = metrics.provider if metrics is not None else _apps_meter_provider()
                instrumentor.instrument(
                    tracer_provider=provider,
                    meter_provider=meter_provider,
                    _metrics_handoff=metrics.handoff if metrics is not None else None,
                    _record_metrics=meter_provider is not None,
                    capture_content=settings.content.any,
                    _content_registry=registry,
                )
        except Exception:  # the app's `import litellm` must succeed whatever happens here
            _logger.exception("otel-bridge: could not instrument LiteLLM; calls are not traced")

    if "litellm" in sys.modules:
        instrument()
    else:
        wrapt.register_post_import_hook(instrument, "litellm")
