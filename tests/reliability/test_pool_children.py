"""``multiprocessing`` pool workers forked from a configured app, ended by the pool's exit
(``terminate()``: SIGTERM to each worker, maybe while it is already flushing at its exit)."""

from __future__ import annotations

import pytest

from tests.e2e.apps import run_app

from .test_signals import env_for, spooled_spans

pytestmark = pytest.mark.e2e


ROUNDS = 5
POOL_APP = """
import json, multiprocessing, os, time
ROUNDS = int(os.environ['TEST_ROUNDS'])
import otel_bridge
from opentelemetry import trace
bridge = otel_bridge.configure()
tracer = trace.get_tracer("app")

def work(i):
    with tracer.start_as_current_span(f"pool-{i}"):
        time.sleep(0.01)
    return os.getpid()

if __name__ == "__main__":
    pids = set()
    for round in range(ROUNDS):  # each pool's exit is one more chance to lose a worker's spans
        with multiprocessing.get_context("fork").Pool(4) as pool:
            pids |= set(pool.map(work, range(round * 40, round * 40 + 40)))
        # the with block's exit called terminate(): SIGTERM to each worker
    print(json.dumps({"workers": len(pids)}), flush=True)
    bridge.shutdown(5)
"""


def test_pool_workers_terminated_by_the_pool_exit_flush_their_spans(otlp_receiver, tmp_path):
    env = env_for(
        tmp_path,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BSP_SCHEDULE_DELAY="30000",  # nothing leaves a worker before it is terminated
        OTEL_SERVICE_NAME="pool-terminate",
        TEST_ROUNDS=str(ROUNDS),
    )
    run = run_app(POOL_APP, tmp_path, env, under_bridge=False, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.result["workers"] >= ROUNDS
    spans = otlp_receiver.wait_for_spans(40 * ROUNDS, timeout=10)
    delivered = {span.name for span in spans}
    spooled = spooled_spans(tmp_path / "spool")
    assert delivered == {f"pool-{i}" for i in range(40 * ROUNDS)}, (len(delivered), spooled)
