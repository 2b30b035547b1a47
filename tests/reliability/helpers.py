"""In-process building blocks for the reliability tests: a destination processor wired to a real
loopback receiver, with short delays so faults and recoveries play out in a second or two."""

from __future__ import annotations

import threading
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider

from otel_bridge.config import BatchSettings, OtlpSettings
from otel_bridge.exporters.destination import DestinationProcessor
from otel_bridge.exporters.otlp import build_otlp_transport
from otel_bridge.exporters.retry import Backoff, RetryPolicy
from otel_bridge.exporters.stats import DestinationStats
from otel_bridge.spool import Spool
from otel_bridge.spool.payload import Payload

FAST_RETRY = RetryPolicy(initial_backoff=0.05, max_backoff=0.2, jitter=0.1, max_attempts=3)
BATCH = BatchSettings(
    max_queue_size=2048,
    max_export_batch_size=64,
    schedule_delay_millis=50,
    export_timeout_millis=1500,
)


def otlp_payloads(spans) -> list[Payload]:
    return [Payload(encode_spans(spans), {}, len(spans))]


class RecordingTransport:
    """Wraps a transport and records the threads it was called on."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.threads: set[str] = set()

    def send(self, request, deadline, **options):
        self.threads.add(threading.current_thread().name)
        return self.inner.send(request, deadline, **options)

    def after_fork(self) -> None:
        self.inner.after_fork()

    def close(self) -> None:
        self.inner.close()


def otlp_destination(
    endpoint: str,
    spool_dir: Path | None,
    *,
    protocol: str = "http/protobuf",
    timeout: float = 1.0,
    batch: BatchSettings = BATCH,
    max_bytes: int = 1 << 20,
    shutdown_timeout: float = 2.0,
    name: str = "otlp",
) -> tuple[TracerProvider, DestinationProcessor, DestinationStats, RecordingTransport]:
    settings = OtlpSettings(
        endpoint=endpoint,
        protocol=protocol,
        protocol_reason="test",  # type: ignore[arg-type]
        timeout=timeout,
    )
    stats = DestinationStats(name)
    transport = RecordingTransport(build_otlp_transport(settings, FAST_RETRY))
    spool = Spool(spool_dir, max_bytes, stats) if spool_dir is not None else None
    processor = DestinationProcessor(
        name,
        otlp_payloads,
        transport,
        stats,
        batch,
        spool=spool,
        shutdown_timeout=shutdown_timeout,
        backoff=Backoff(initial=0.1, max_delay=0.4),
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider, processor, stats, transport


def make_spans(provider: TracerProvider, count: int, prefix: str = "span") -> list[str]:
    tracer = provider.get_tracer("reliability")
    names = [f"{prefix}-{i}" for i in range(count)]
    for name in names:
        with tracer.start_as_current_span(name):
            pass
    return names


def accounted(stats: DestinationStats) -> int:
    """Spans this process made that are exported, spooled or counted (the identity of stats.py)."""
    snap = stats.snapshot()
    by_reason = snap["dropped_by_reason"]
    own_drops = sum(v for k, v in by_reason.items() if k not in ("spool_full", "spool_corrupt"))
    live = snap["exported"] - snap["replayed"]
    return live + snap["spooled"] + own_drops
