"""Whole processes: SIGTERM flushes (and chains the app's own handler), shutdown is bounded
with both destinations hanging, a kill -9 in the middle of a spool write corrupts nothing, and
the next process delivers what the previous one spooled."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.apps import REPO_ROOT, base_env, run_app
from tests.support.ports import free_port

from .fault_proxy import FaultProxy

pytestmark = pytest.mark.e2e

SPANS = """
import json, os, sys, time
import otel_bridge
from opentelemetry import trace
bridge = otel_bridge.configure()
tracer = trace.get_tracer("app")
def spans(count, prefix):
    for i in range(count):
        with tracer.start_as_current_span(f"{prefix}-{i}"):
            pass
"""

# The app waits (with the tests' own polling) until its worker replayed what the spool held.
WAIT_REPLAYED = f"""
sys.path.insert(0, {str(REPO_ROOT)!r})
from tests.support.polling import wait_for
def wait_replayed(count, destination="otlp"):
    replayed = lambda: bridge.stats()[destination]["replayed"]
    wait_for(f"{{count}} spans replayed", replayed, lambda n: n >= count, timeout=90)
"""


def fast_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BSP_EXPORT_TIMEOUT": "2000",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1",
        "OTEL_BRIDGE_SPOOL_DIR": str(tmp_path / "spool"),
        "OTEL_TRACES_EXPORTER": "otlp",
    }
    return base_env(**{**env, **extra})


def start(app: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    (cwd / "app.py").write_text(app)
    return subprocess.Popen(
        [sys.executable, str(cwd / "app.py")],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_line(process: subprocess.Popen[str], expected: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if expected in line:
            return
        if not line and process.poll() is not None:
            break
    stderr = process.stderr.read() if process.stderr else ""
    raise AssertionError(f"no {expected!r} line; stderr:\n{stderr}")


def test_sigterm_flushes_then_ends_the_process_as_the_default_action_would(otlp_receiver, tmp_path):
    app = (
        SPANS
        + """
spans(5, "before-sigterm")
print("ready", flush=True)
time.sleep(60)
"""
    )
    env = fast_env(
        tmp_path,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BSP_SCHEDULE_DELAY="30000",
    )  # nothing leaves before the signal
    process = start(app, tmp_path, env)
    wait_for_line(process, "ready")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == -signal.SIGTERM
    assert len(otlp_receiver.wait_for_spans(5, timeout=5)) == 5


def test_sigterm_chains_the_handler_the_app_installed(otlp_receiver, tmp_path):
    app = (
        """
import os, signal, sys
def own_handler(signum, frame):
    # os.write, not print: the signal may land while the main thread is still inside
    # print("ready"), and a second print there is a reentrant call (RuntimeError, exit 1)
    os.write(1, b"app handler ran\\n")
    sys.exit(3)
signal.signal(signal.SIGTERM, own_handler)
"""
        + SPANS
        + """
spans(4, "chained")
print("ready", flush=True)
time.sleep(60)
"""
    )
    env = fast_env(
        tmp_path,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BSP_SCHEDULE_DELAY="30000",
    )
    process = start(app, tmp_path, env)
    wait_for_line(process, "ready")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 3  # the app's own exit, through atexit: flushed
    out = process.stdout.read() if process.stdout else ""
    assert "app handler ran" in out
    assert len(otlp_receiver.wait_for_spans(4, timeout=5)) == 4


def test_shutdown_with_both_destinations_hanging_ends_within_the_deadline(
    otlp_receiver, mlflow_server, tmp_path
):
    otlp_receiver.delay(30)
    with FaultProxy(mlflow_server.uri) as proxy:
        proxy.delay(30)
        app = (
            SPANS
            + """
spans(20, "hung")
time.sleep(0.5)  # both senders are now stuck in a request
started = time.monotonic()
finished = bridge.shutdown(timeout=2)
print(json.dumps({"took": time.monotonic() - started, "finished": finished,
                  "stats": bridge.stats()}))
"""
        )
        env = fast_env(
            tmp_path,
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
            OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="30",
            OTEL_BSP_EXPORT_TIMEOUT="30000",
            OTEL_TRACES_EXPORTER="otlp,mlflow",
            MLFLOW_TRACKING_URI=proxy.uri,
            OTEL_SERVICE_NAME="both-hanging",
        )
        started = time.monotonic()
        run = run_app(app, tmp_path, env, under_bridge=False, timeout=60)
        wall = time.monotonic() - started
    otlp_receiver.reset_faults()
    assert run.returncode == 0, run.stderr
    result = run.result
    assert result["took"] < 2.7 and result["finished"] is False
    assert wall < 25  # the whole process, start-up included: nothing waits for the backends
    for name in ("otlp", "mlflow"):
        stats = result["stats"][name]
        assert stats["received"] == 20
        assert stats["spooled"] == 20 and stats["dropped"] == 0, stats


KILLED_WRITER = (
    SPANS
    + """
import otel_bridge.spool as spool_module
real_fsync = os.fsync
writes = 0
import stat
def slow_fsync(fd):
    global writes
    if stat.S_ISREG(os.fstat(fd).st_mode):
        writes += 1
    if writes == 4:  # the 4th batch: announce it, then hang inside the write
        print("writing", flush=True)
        time.sleep(60)
    real_fsync(fd)
spool_module.os.fsync = slow_fsync
for batch in range(6):
    spans(10, f"batch{batch}")
    bridge.force_flush(5)
print("not killed", flush=True)
"""
)


def test_kill_9_during_a_spool_write_loses_only_that_batch(otlp_receiver, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/v1/traces"
    env = fast_env(tmp_path, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=dead, OTEL_SERVICE_NAME="killed")
    process = start(KILLED_WRITER, tmp_path, env)
    wait_for_line(process, "writing")
    process.kill()
    process.wait(timeout=10)
    directory = tmp_path / "spool" / "killed" / "otlp"
    batches = [p for p in directory.glob("*.span") if not p.name.startswith(".")]
    assert len(batches) == 3  # the batches written before
    assert len(list(directory.glob(".tmp-*"))) == 1  # the one cut short, never renamed

    replay = (
        SPANS
        + WAIT_REPLAYED
        + """
bridge.force_flush(5)
wait_replayed(30)
bridge.shutdown(3)
print(json.dumps(bridge.stats()))
"""
    )
    env = fast_env(
        tmp_path,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_SERVICE_NAME="killed",
    )
    run = run_app(replay, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    spans = otlp_receiver.wait_for_spans(30, timeout=10)
    assert sorted({s.name.split("-")[0] for s in spans}) == ["batch0", "batch1", "batch2"]
    stats = json.loads(run.stdout.strip().splitlines()[-1])["otlp"]
    assert stats["replayed"] == 30 and stats["spool"]["corrupt_files"] == 0
    assert not list(directory.glob("*.corrupt")) and not list(directory.glob(".tmp-*"))
    assert not [p for p in directory.glob("*.span") if not p.name.startswith(".")]


def test_the_next_process_delivers_what_a_process_spooled_while_the_backend_was_down(
    otlp_receiver, tmp_path
):
    otlp_receiver.fail_with(http_status=503)
    first = (
        SPANS
        + """
spans(25, "process-a")
bridge.shutdown(3)
print(json.dumps(bridge.stats()))
"""
    )
    env = fast_env(tmp_path, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint)
    run = run_app(first, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["otlp"]["spooled"] == 25
    assert otlp_receiver.spans() == []

    otlp_receiver.reset_faults()
    second = (
        SPANS
        + WAIT_REPLAYED
        + """
wait_replayed(25)
bridge.shutdown(3)
print(json.dumps(bridge.stats()))
"""
    )
    run = run_app(second, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    spans = otlp_receiver.wait_for_spans(25, timeout=5)
    assert {s.name for s in spans} == {f"process-a-{i}" for i in range(25)}
    assert json.loads(run.stdout.strip().splitlines()[-1])["otlp"]["replayed"] == 25
