"""Whole processes: a SIGTERM that lands while the bridge is already shutting down waits for
that shutdown; the accounting identity of docs/reliability.md, evictions and a batch too big
for the spool included."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from otel_bridge.spool import decode_file
from tests.e2e.apps import REPO_ROOT, run_app

from .test_process_lifecycle import SPANS, fast_env, start, wait_for_line

pytestmark = pytest.mark.e2e


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The lifecycle tests' environment, importing the bridge from this checkout."""
    return fast_env(tmp_path, PYTHONPATH=str(REPO_ROOT), **extra)


def spooled_spans(directory: Path) -> int:
    """Spans waiting in the spool files under ``directory`` (read from their content)."""
    return sum(
        decode_file(path.read_bytes()).spans
        for path in directory.rglob("*.span")
        if not path.name.startswith(".")
    )


def test_sigterm_during_shutdown_waits_for_the_running_shutdown(otlp_receiver, tmp_path):
    """The first shutdown is still sending (a slow backend) when SIGTERM arrives: the signal's
    shutdown waits for it instead of returning at once and letting the process die mid-flush."""
    otlp_receiver.delay(0.25)  # 15 batches of 20: ~4 s to deliver them all
    app = (
        SPANS
        + """
spans(300, "flushing")
print("shutting down", flush=True)
bridge.shutdown(timeout=30)
time.sleep(60)
"""
    )
    env = env_for(
        tmp_path,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BSP_SCHEDULE_DELAY="30000",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE="20",
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="5",
        OTEL_BSP_EXPORT_TIMEOUT="10000",
        OTEL_SERVICE_NAME="sigterm-during-shutdown",
    )
    process = start(app, tmp_path, env)
    try:
        wait_for_line(process, "shutting down")
        otlp_receiver.wait_for_spans(20, timeout=10)  # the first batch is through: mid-flush
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
    otlp_receiver.reset_faults()
    delivered = {span.name for span in otlp_receiver.spans()}
    spooled = spooled_spans(tmp_path / "spool")
    assert len(delivered) + spooled == 300, (len(delivered), spooled)


IDENTITY = (
    SPANS
    + """
from opentelemetry import trace as api
def big(count, prefix):
    for i in range(count):
        with tracer.start_as_current_span(f"{prefix}-{i}") as span:
            span.set_attribute("payload", "x" * 2000)
for round in range(6):
    spans(10, f"small{round}")
    bridge.force_flush(5)
    if round == 2:
        big(10, "big")  # one batch larger than the whole spool
        bridge.force_flush(5)
bridge.shutdown(3)
print(json.dumps(bridge.stats()), flush=True)
"""
)


def test_the_accounting_identity_holds_with_evictions_and_a_batch_too_big_to_spool(
    otlp_receiver, tmp_path
):
    """docs/reliability.md: received == (exported - replayed) + spooled + dropped, the drops
    that are evictions of spans spooled before (spool_full, spool_corrupt) left out."""
    otlp_receiver.fail_with(http_status=503)
    env = env_for(
        tmp_path,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BRIDGE_SPOOL_MAX_BYTES="3000",  # two or three small batches
        OTEL_SERVICE_NAME="identity",
    )
    run = run_app(IDENTITY, tmp_path, env, under_bridge=False)
    otlp_receiver.reset_faults()
    assert run.returncode == 0, run.stderr
    stats = run.result["otlp"]
    by_reason = stats["dropped_by_reason"]
    assert by_reason.get("spool_error") == 10, stats  # the big batch: never spooled
    assert by_reason.get("spool_full", 0) > 0, stats  # small batches evicted
    own = sum(v for k, v in by_reason.items() if k not in ("spool_full", "spool_corrupt"))
    assert stats["received"] == 70
    assert stats["received"] == stats["exported"] - stats["replayed"] + stats["spooled"] + own
    # what is left on disk is what was spooled and not evicted
    assert stats["spool"]["spans"] == stats["spooled"] - by_reason["spool_full"]
    assert spooled_spans(tmp_path / "spool") == stats["spool"]["spans"]
