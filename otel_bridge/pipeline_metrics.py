"""The metrics half of the pipeline: a MeterProvider whose reader exports OTLP on its own thread.

Built by :func:`otel_bridge.configure` when :class:`otel_bridge.config.MetricsSettings` are set
(an OTLP endpoint for metrics, ``OTEL_METRICS_EXPORTER`` not ``none``). A LiteLLM call only
queues its values in the :class:`~otel_bridge.instrumentation.metrics.MetricsHandoff` (the SDK's
``record`` costs as much as the call's span: see benchmarks/RESULTS.md); this module's drainer
thread records them into the GenAI client histograms through the metrics API every
:data:`DRAIN_INTERVAL_S`, and the reader drains once more before each collection, so a flush or
the export at exit misses no call. The SDK aggregates in memory and a
``PeriodicExportingMetricReader`` sends them every ``OTEL_METRIC_EXPORT_INTERVAL`` from its own
thread, with the SDK's OTLP metric exporter (gRPC or HTTP, the same protocol rules, headers, TLS
and compression as traces). So a slow or dead metrics backend costs the app's calls nothing; at
exit the last export is bounded by ``OTEL_BRIDGE_SHUTDOWN_TIMEOUT``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from typing import Any, Protocol

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from otel_bridge.config import MetricsSettings, OtlpSettings
from otel_bridge.instrumentation.metrics import GenAIMetrics, MetricsHandoff

_logger = logging.getLogger(__name__)

DRAIN_INTERVAL_S = 0.5
"""How often queued calls are recorded: at 1000 calls/s, ~500 calls' values wait in memory."""


class _Drainable(Protocol):
    def drain(self) -> int: ...
    def clear(self) -> None: ...


class _Handoffs:
    """Every handoff of the pipeline (the instrumentor's, the proxy callback's), drained as one."""

    def __init__(self, first: MetricsHandoff) -> None:
        self.all = [first]

    def drain(self) -> int:
        return sum(handoff.drain() for handoff in tuple(self.all))

    def clear(self) -> None:
        for handoff in tuple(self.all):
            handoff.clear()


class _DrainingReader(PeriodicExportingMetricReader):
    """The periodic OTLP reader, recording what the calls queued before every collection."""

    def __init__(self, exporter: MetricExporter, handoff: _Drainable, **kwargs: Any):
        self._handoff = handoff  # before super(): its thread may collect at once
        super().__init__(exporter, **kwargs)

    # The SDK marks collect() final, but offers no hook that runs before a collection (both the
    # periodic thread and force_flush() call it): the queued calls must be recorded first.
    def collect(self, timeout_millis: float = 10_000) -> None:  # type: ignore[misc]
        self._handoff.drain()
        super().collect(timeout_millis=timeout_millis)


class _Drainer:
    """A daemon thread recording the queued calls every ``interval`` seconds (again in a
    forked child, whose queue starts empty: the parent records what it had queued)."""

    def __init__(self, handoff: _Drainable, interval: float = DRAIN_INTERVAL_S):
        self.handoff = handoff
        self.interval = interval
        self._stop = threading.Event()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._start_in_child)

            def in_child() -> None:
                method = ref()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=in_child)
        self._start()

    def _start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="otel-bridge-metrics-drain", daemon=True
        )
        self._thread.start()

    def _start_in_child(self) -> None:
        self.handoff.clear()
        self._stop = threading.Event()
        self._start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.handoff.drain()

    def stop(self) -> None:
        self._stop.set()


class MetricsPipeline:
    """The bridge's MeterProvider and its bounded shutdown."""

    def __init__(self, settings: MetricsSettings, resource: Resource, shutdown_timeout: float):
        self.settings = settings
        self.shutdown_timeout = shutdown_timeout
        self.handoff = MetricsHandoff()  # given to the instrumentor: calls queue their values
        self._handoffs = _Handoffs(self.handoff)
        self.reader = _DrainingReader(
            otlp_metric_exporter(settings.otlp),
            self._handoffs,
            export_interval_millis=settings.interval_millis,
            export_timeout_millis=settings.timeout_millis,
        )
        self.provider = MeterProvider(
            resource=resource, metric_readers=[self.reader], shutdown_on_exit=False
        )
        self._drainer = _Drainer(self._handoffs)
        self._lock = threading.Lock()
        self._is_shut_down = False

    def handoff_for(self, metrics: GenAIMetrics) -> MetricsHandoff:
        """A handoff of its own for another source of calls (the LiteLLM proxy callback, whose
        histograms are on its own meter), drained with the instrumentor's."""
        handoff = MetricsHandoff()
        handoff.metrics = metrics
        self._handoffs.all.append(handoff)
        return handoff

    def force_flush(self, timeout: float | None = None) -> bool:
        return self._bounded(self.provider.force_flush, timeout, "flush")

    def shutdown(self, timeout: float | None = None) -> bool:
        """Export what is left and stop, within ``timeout`` seconds (default the bridge's)."""
        with self._lock:
            if self._is_shut_down:
                return True
            self._is_shut_down = True
        self._drainer.stop()  # the reader's last collection drains what is left
        done = self._bounded(self.provider.shutdown, timeout, "shutdown")
        dropped = sum(handoff.dropped for handoff in self._handoffs.all)
        if dropped:
            _logger.warning(
                "otel-bridge: %d calls' metrics were dropped (over %d waiting to be recorded)",
                dropped,
                self.handoff.max_pending,
            )
        return done

    def _bounded(self, action: Any, timeout: float | None, what: str) -> bool:
        """Run ``action(timeout_millis=...)`` on a daemon thread and wait at most ``timeout``:
        an exporter stuck on a dead backend never holds the app's exit longer."""
        seconds = timeout if timeout is not None else self.shutdown_timeout
        result: list[bool] = []

        def run() -> None:
            try:
                result.append(bool(action(timeout_millis=seconds * 1000)))
            except Exception:
                _logger.warning("otel-bridge: metrics %s failed", what, exc_info=True)

        worker = threading.Thread(target=run, name=f"otel-bridge-metrics-{what}", daemon=True)
        worker.start()
        worker.join(seconds)
        if worker.is_alive() or not result or not result[0]:
            _logger.warning("otel-bridge: metrics %s did not finish within %.1fs", what, seconds)
            return False
        return True


def otlp_metric_exporter(otlp: OtlpSettings) -> MetricExporter:
    """The SDK's OTLP metric exporter for ``otlp`` (endpoint, protocol, headers, TLS, timeout)."""
    if otlp.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcExporter,
        )

        credentials = None
        if otlp.certificate or otlp.client_certificate:
            import grpc

            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(otlp.certificate),
                private_key=_read(otlp.client_key),
                certificate_chain=_read(otlp.client_certificate),
            )
        insecure = otlp.insecure
        if insecure is None:
            insecure = otlp.endpoint.startswith("http://")
        return GrpcExporter(
            endpoint=otlp.endpoint,
            insecure=insecure,
            credentials=credentials,
            headers=dict(otlp.headers) or None,
            timeout=otlp.timeout,
            compression=_grpc_compression(otlp.compression),
        )
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpExporter,
    )

    return HttpExporter(
        endpoint=otlp.endpoint,
        certificate_file=otlp.certificate or None,
        client_key_file=otlp.client_key,
        client_certificate_file=otlp.client_certificate,
        headers=dict(otlp.headers) or None,
        timeout=otlp.timeout,
        compression=Compression(otlp.compression)
        if otlp.compression
        else Compression.NoCompression,
    )


def _grpc_compression(name: str | None) -> Any:
    import grpc

    return {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}.get(
        name or "", grpc.Compression.NoCompression
    )


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as file:
        return file.read()


def start(
    settings: MetricsSettings, resource: Resource, shutdown_timeout: float
) -> MetricsPipeline:
    """The metrics pipeline of ``settings``, made the global MeterProvider unless the
    application set its own, and shut down (bounded) at exit."""
    pipeline = MetricsPipeline(settings, resource, shutdown_timeout)
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(pipeline.provider)
    atexit.register(pipeline.shutdown)
    _logger.info(
        "otel-bridge: exporting GenAI metrics to %s (%s)",
        settings.otlp.endpoint,
        settings.otlp.protocol,
    )
    return pipeline
