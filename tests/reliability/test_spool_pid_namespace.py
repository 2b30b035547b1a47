"""The app is PID 1 in every run of a container: a batch the killed PID 1 had claimed must be
put back by the next PID 1, not taken for its own (real processes in real PID namespaces)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.apps import run_app

from .test_process_lifecycle import SPANS
from .test_signals import env_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("unshare") is None,
        reason="a PID namespace needs root and unshare",
    ),
]

REPLAY = (
    SPANS
    + """
print("started", os.getpid(), flush=True)
time.sleep(float(os.environ["TEST_STAY"]))
bridge.shutdown(3)
print(json.dumps(bridge.stats()), flush=True)
"""
)


def as_pid_1(app: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(app)],
        cwd=app.parent,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def test_a_batch_claimed_by_a_killed_pid_1_is_replayed_by_the_next_pid_1(otlp_receiver, tmp_path):
    # 1. a process spools 12 spans while the backend refuses them
    otlp_receiver.fail_with(http_status=503)
    env = env_for(
        tmp_path,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_SERVICE_NAME="pid-one",
    )
    first = SPANS + 'spans(12, "claimed")\nbridge.shutdown(3)\n'
    assert run_app(first, tmp_path, env, under_bridge=False).returncode == 0
    directory = tmp_path / "spool" / "pid-one" / "otlp"
    assert len(list(directory.glob("*.span"))) == 1

    # 2. PID 1 starts replaying it to a backend that hangs, and is killed mid-send
    otlp_receiver.reset_faults()
    otlp_receiver.delay(60)
    (tmp_path / "replay.py").write_text(REPLAY)
    hanging = {**env, "TEST_STAY": "60", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "60"}
    hanging["OTEL_BSP_EXPORT_TIMEOUT"] = "60000"
    process = as_pid_1(tmp_path / "replay.py", hanging)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().split() == ["started", "1"]
        deadline = time.monotonic() + 20
        while not list(directory.glob("*.claimed-1*")):
            assert time.monotonic() < deadline, list(directory.iterdir())
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the whole namespace, PID 1 first
        process.wait(timeout=10)
    otlp_receiver.reset_faults()
    assert [p.name for p in directory.glob("*.span")] == []  # only the claim is left

    # 3. the next PID 1 puts the claim back and delivers it
    process = as_pid_1(tmp_path / "replay.py", {**env, "TEST_STAY": "1.5"})
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.split()[:2] == ["started", "1"]
    spans = otlp_receiver.wait_for_spans(12, timeout=10)
    assert {s.name for s in spans} == {f"claimed-{i}" for i in range(12)}
    stats = json.loads(out.strip().splitlines()[-1])["otlp"]
    assert stats["replayed"] == 12 and stats["spool"]["files"] == 0, stats
    assert list(directory.iterdir()) == []
