"""Whole processes and real signals: a SIGTERM that lands while the bridge is already shutting
down waits for that shutdown."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from otel_bridge.spool import decode_file
from tests.e2e.apps import REPO_ROOT

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
