"""Replay after an outage yields to the application: after each replayed batch the sender
pauses at least as long as the CPU time the batch cost it, and content is built from at most
``MAX_ITEMS`` items of a list. Structural properties, no timing thresholds: the stall the app
sees is measured in ``benchmarks/replay_stall.py``."""

from __future__ import annotations

import itertools
import time

from opentelemetry.sdk.trace import TracerProvider

from otel_bridge.config import OtlpSettings
from otel_bridge.exporters.destination import DestinationProcessor
from otel_bridge.exporters.otlp import build_otlp_transport
from otel_bridge.exporters.retry import Backoff
from otel_bridge.exporters.stats import DestinationStats
from otel_bridge.instrumentation.content import MAX_ITEMS, chat_input_messages, to_json
from otel_bridge.spool import Spool
from tests.support.polling import wait_for

from .helpers import BATCH, FAST_RETRY, otlp_payloads
from .test_spool import payload

BATCHES = 8
BURN = 0.02  # CPU seconds each send costs the sender (as encoding a large batch would)


class CpuCostingTransport:
    """The real OTLP transport, after ``BURN`` seconds of CPU on the calling thread; records
    when each send started and ended and the CPU it cost."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.sends: list[tuple[float, float, float]] = []  # (start, end, cpu)

    def send(self, request, deadline, **options):
        start, cpu = time.monotonic(), time.thread_time()
        while time.thread_time() - cpu < BURN:
            pass
        result = self.inner.send(request, deadline, **options)
        self.sends.append((start, time.monotonic(), time.thread_time() - cpu))
        return result

    def after_fork(self) -> None:
        self.inner.after_fork()

    def close(self) -> None:
        self.inner.close()


def test_replay_pauses_after_each_batch_at_least_its_cpu_time(otlp_receiver, tmp_path):
    stats = DestinationStats("otlp")
    spool = Spool(tmp_path, 1 << 24, stats)
    for i in range(BATCHES):  # full batches: one request each
        assert spool.put(payload(BATCH.max_export_batch_size, f"spooled{i}"))
    settings = OtlpSettings(
        endpoint=otlp_receiver.http_endpoint, protocol="http/protobuf", protocol_reason="test"
    )
    transport = CpuCostingTransport(build_otlp_transport(settings, FAST_RETRY))
    processor = DestinationProcessor(
        "otlp", otlp_payloads, transport, stats, BATCH, spool=spool, backoff=Backoff(initial=0.1)
    )
    try:
        wait_for("the replay", lambda: len(transport.sends) == BATCHES, timeout=30)
    finally:
        processor.shutdown(2000)
    total = BATCH.max_export_batch_size * BATCHES
    ours = otlp_receiver.wait_for_spans(total, lambda s: s.name.startswith("spooled"), timeout=10)
    assert len(ours) == total
    assert stats.snapshot()["replayed"] == total
    for (_, end, cpu), (next_start, _, _) in itertools.pairwise(transport.sends):
        assert next_start - end >= cpu, transport.sends


def test_small_spooled_files_are_replayed_together_up_to_a_batch(otlp_receiver, tmp_path):
    """An outage spools one small file per schedule delay; replayed one request each, a long
    outage took longer to replay than the app ran. Merged up to a batch's spans per request."""
    stats = DestinationStats("otlp")
    spool = Spool(tmp_path, 1 << 24, stats)
    for i in range(30):  # 30 files of 5 spans: 150 spans, batches of 64
        assert spool.put(payload(5, f"small{i}"))
    settings = OtlpSettings(
        endpoint=otlp_receiver.http_endpoint, protocol="http/protobuf", protocol_reason="test"
    )
    transport = CpuCostingTransport(build_otlp_transport(settings, FAST_RETRY))
    processor = DestinationProcessor("otlp", otlp_payloads, transport, stats, BATCH, spool=spool)
    try:
        wait_for("the replay", lambda: stats.snapshot()["replayed"] == 150, timeout=30)
    finally:
        processor.shutdown(2000)
    assert len(transport.sends) == 3  # 60 + 60 + 30 spans: whole files only, oldest first
    assert stats.snapshot()["spool"]["files"] == 0
    # only this test's spans: a late export of an earlier test may reach the shared receiver
    ours = otlp_receiver.wait_for_spans(150, lambda s: s.name.startswith("small"), timeout=10)
    assert len({s.name for s in ours}) == 150


def test_a_live_batch_is_not_held_back_by_the_replay_pause(otlp_receiver, tmp_path):
    """The pause delays the next spooled batch only: spans the app ends meanwhile go out."""
    stats = DestinationStats("otlp")
    spool = Spool(tmp_path, 1 << 24, stats)
    assert spool.put(payload(3, "old"))
    settings = OtlpSettings(
        endpoint=otlp_receiver.http_endpoint, protocol="http/protobuf", protocol_reason="test"
    )
    transport = CpuCostingTransport(build_otlp_transport(settings, FAST_RETRY))
    processor = DestinationProcessor("otlp", otlp_payloads, transport, stats, BATCH, spool=spool)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    try:
        wait_for("the replayed batch", lambda: len(transport.sends) == 1)
        with provider.get_tracer("t").start_as_current_span("live"):
            pass
        assert processor.force_flush(5000)
    finally:
        processor.shutdown(2000)
    ours = otlp_receiver.wait_for_spans(
        4, lambda s: s.name.startswith("old") or s.name == "live", timeout=10
    )
    assert {s.name for s in ours} == {"old-0", "old-1", "old-2", "live"}


def test_content_of_a_million_parts_is_built_from_the_first_max_items():
    message = {"role": "user", "content": [{"type": "text", "text": "p"}] * 1_000_000}
    built = chat_input_messages([message] * (MAX_ITEMS + 5))
    assert len(built) == MAX_ITEMS + 1
    assert built[-1]["parts"][0]["content"] == "…[5 more messages elided by otel-bridge]"
    parts = built[0]["parts"]
    assert len(parts) == MAX_ITEMS + 1
    assert parts[-1]["content"] == f"…[{1_000_000 - MAX_ITEMS} more parts elided by otel-bridge]"
    assert len(to_json(chat_input_messages([message]))) <= 64 * 1024 + 100
