"""Fork safety: worker processes forked from a configured application export their own spans.

The parent configures the bridge, makes a call, then forks: two ``multiprocessing`` workers
(start method ``fork``: they end with ``os._exit()``, no ``atexit``) with OTLP/HTTP and the
embedded MLflow store, or one ``os.fork()`` child that ends with ``sys.exit()`` like a gunicorn
worker. Nobody flushes by hand. Every span of the parent and of the children must arrive, each
child's LLM span under its own step, in its own trace, none twice.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import base_env, run_app
from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

COMMON = """
import json, multiprocessing, os, sys, time
import litellm
import otel_bridge
from opentelemetry import trace

bridge = otel_bridge.configure()
tracer = trace.get_tracer("app")

def step(name):
    with tracer.start_as_current_span(name):
        litellm.completion(model="openai/gpt-4o-mini", mock_response="ok",
                           messages=[{"role": "user", "content": name}])

step("parent-before")
# LiteLLM 1.110 imports lazily on its logging thread after a call: a fork at that moment leaves
# the import lock held in the child forever (LiteLLM's matter, not the bridge's). Let it finish.
time.sleep(1.5)
"""

MULTIPROCESSING_APP = (
    COMMON
    + """
def worker(name):
    step(name)  # and return: multiprocessing ends the process with os._exit(), no atexit

context = multiprocessing.get_context("fork")
workers = [context.Process(target=worker, args=(f"mp-child-{i}",)) for i in range(2)]
for process in workers:
    process.start()
for process in workers:
    process.join(60)
step("parent-after")
print(json.dumps({"exit_codes": [p.exitcode for p in workers]}))
"""
)

GUNICORN_STYLE_APP = (
    COMMON
    + """
pid = os.fork()
if pid == 0:  # a gunicorn worker: serves, then sys.exit(), which runs atexit
    step("worker")
    sys.exit(0)
_, status = os.waitpid(pid, 0)
step("parent-after")
print(json.dumps({"exit_codes": [os.waitstatus_to_exitcode(status)]}))
"""
)


def _of(service: str):
    """This test's spans only (the receiver is shared: another test's may arrive late)."""
    return lambda span: span.resource.get("service.name") == service


def _check_traces(spans, steps: list[str]) -> dict:
    """One trace per step: the step and its LLM span under it, nothing twice."""
    by_name = {s.name: s for s in spans if s.name in steps}
    assert sorted(by_name) == sorted(steps)
    chats = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert len(chats) == len(steps)
    assert Counter(s.trace_id for s in spans) == Counter({s.trace_id: 2 for s in by_name.values()})
    for chat in chats:
        parent = next(s for s in by_name.values() if s.span_id == chat.parent_span_id)
        assert parent.trace_id == chat.trace_id
    # no span twice (a child must not resend what the parent had queued)
    assert len(spans) == 2 * len(steps)
    return by_name


def test_multiprocessing_workers_export_their_own_spans(
    otlp_receiver: OtlpReceiver, tmp_path: Path
):
    steps = ["parent-before", "mp-child-0", "mp-child-1", "parent-after"]
    service = f"forking-{uuid.uuid4().hex[:8]}"
    env = base_env(
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BSP_SCHEDULE_DELAY="30000",  # nothing leaves on a timer: only the exits flush
        # each process opens the embedded store at its exit, on its MLflow destination's thread
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",
    )
    run = run_app(MULTIPROCESSING_APP, tmp_path, env, under_bridge=False, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.result["exit_codes"] == [0, 0], run.stderr[-3000:]
    spans = otlp_receiver.wait_for_spans(2 * len(steps), _of(service), timeout=30)
    by_name = _check_traces(spans, steps)

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    traces = wait_for_traces(client, wait_for_experiment(client, service), spans=2 * len(steps))
    names = sorted(s.name for t in traces for s in t.data.spans if s.name in steps)
    assert names == sorted(steps)
    assert {t.info.trace_id for t in traces} == {f"tr-{s.trace_id}" for s in by_name.values()}


def test_a_forked_worker_that_exits_normally_flushes_at_exit(
    otlp_receiver: OtlpReceiver, tmp_path: Path
):
    """OTLP only: with MLflow, importing mlflow imports polars (when installed), and polars
    1.44's exit handler hangs in any forked child that exits through sys.exit (its own bug,
    bridge or not; see docs/security.md)."""
    steps = ["parent-before", "worker", "parent-after"]
    service = f"forking-{uuid.uuid4().hex[:8]}"
    env = base_env(
        OTEL_SERVICE_NAME=service,
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BSP_SCHEDULE_DELAY="30000",
    )
    run = run_app(GUNICORN_STYLE_APP, tmp_path, env, under_bridge=False, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.result["exit_codes"] == [0], run.stderr[-3000:]
    _check_traces(otlp_receiver.wait_for_spans(2 * len(steps), _of(service), timeout=30), steps)
