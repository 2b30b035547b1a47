"""How long the application's thread stalls while a destination replays a spooled backlog.

Not part of ``python -m benchmarks`` (a standalone measurement for issue 16, item 16):

    .venv/bin/python -m benchmarks.replay_stall [--batches 60] [--spans 512]

A spool holds ``--batches`` batches of ``--spans`` spans (20 attributes each), written while
the destination was "down"; the real OTLP receiver of the tests then takes them, and the
destination replays them, while the main thread runs a tight loop of ~30 µs steps and records
the longest gaps between two steps (the stall an application call would see). Run twice: with
the replay paced (the bridge's default), and with the pause set to zero (the behaviour before).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.config import BatchSettings, OtlpSettings
from otel_bridge.exporters import destination
from otel_bridge.exporters.destination import DestinationProcessor
from otel_bridge.exporters.otlp import build_otlp_transport
from otel_bridge.exporters.stats import DestinationStats
from otel_bridge.spool import Spool
from otel_bridge.spool.payload import Payload
from tests.support.otlp_receiver import OtlpReceiver


def _batch(spans: int) -> Payload:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("replay-stall")
    for i in range(spans):
        attributes = {f"attr.{k}": f"value {k} of span {i} " * 4 for k in range(20)}
        tracer.start_span(f"spooled-{i}", attributes=attributes).end()
    return Payload(encode_spans(exporter.get_finished_spans()), {})


def measure(batches: int, spans: int, paced: bool) -> dict[str, float]:
    saved = destination._MIN_PACE, destination._MAX_PACE
    if not paced:
        destination._MIN_PACE = destination._MAX_PACE = 0.0
    try:
        with tempfile.TemporaryDirectory() as tmp, OtlpReceiver() as receiver:
            stats = DestinationStats("otlp")
            spool = Spool(Path(tmp), 1 << 30, stats)
            batch = _batch(spans)
            for _ in range(batches):
                spool.put(batch)
            settings = OtlpSettings(
                endpoint=receiver.http_endpoint, protocol="http/protobuf", protocol_reason="bench"
            )
            gaps: list[float] = []
            started = time.perf_counter()
            processor = DestinationProcessor(
                "otlp",
                lambda s: [Payload(encode_spans(s), {})],
                build_otlp_transport(settings),
                stats,
                BatchSettings(2048, 512, 5000, 30000),
                spool=spool,
            )
            last = time.perf_counter()
            while stats.snapshot()["replayed"] < batches * spans and last - started < 300:
                sum(range(2000))  # one step of the application's work
                now = time.perf_counter()
                gaps.append(now - last)
                last = now
            took = time.perf_counter() - started
            processor.shutdown(5000)
    finally:
        destination._MIN_PACE, destination._MAX_PACE = saved
    gaps.sort()
    return {
        "replay_s": took,
        "max_gap_ms": gaps[-1] * 1000,
        "p999_gap_ms": gaps[int(len(gaps) * 0.999)] * 1000,
        "median_step_us": statistics.median(gaps) * 1e6,
        "gaps_over_50ms": sum(1 for g in gaps if g > 0.05),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--spans", type=int, default=512)
    args = parser.parse_args()
    for paced in (False, True):
        result = measure(args.batches, args.spans, paced)
        label = "paced (default)" if paced else "unpaced (before)"
        print(f"{label:18} " + "  ".join(f"{k}={v:.1f}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
