"""Stopping the proxy the documented way flushes both destinations, whichever way LiteLLM's
launcher runs the server: SIGTERM goes to the pid the user started (``litellm ...``, which is PID 1
under ``docker stop``); with workers, that pid is their parent and passes the signal on, and each
worker flushes its own spans. The single-process form is test_proxy_e2e's
test_example_config_and_sigterm_flush."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest
import requests
from mlflow import MlflowClient

from tests.e2e.apps import REPO_ROOT
from tests.support.polling import wait_for
from tests.support.ports import LOOPBACK

from .proxy_process import LiteLLMProxy, strong_key

pytestmark = pytest.mark.e2e

EXAMPLE_CONFIG = REPO_ROOT / "examples" / "proxy" / "config.yaml"
CALLS = 8


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _command(pid: int) -> str:
    try:
        return f"{pid} " + Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
    except OSError:
        return f"{pid} (gone)"


def _alive(pid: int) -> bool:
    """Running: neither gone nor a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((LOOPBACK, port)) == 0


def _mlflow_trace_ids(client: MlflowClient, experiment_name: str) -> set[str]:
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return set()
    traces = client.search_traces(locations=[experiment.experiment_id], max_results=100)
    return {trace.info.trace_id for trace in traces}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc for the workers")
@pytest.mark.parametrize(
    "launcher_args",
    [
        # LiteLLM's default 5 s worker health check kills workers that are still importing the
        # proxy on a busy 2-core machine (a restart loop): give them time.
        pytest.param(
            ["--num_workers", "2", "--timeout_worker_healthcheck", "120"], id="uvicorn-workers"
        ),
        pytest.param(["--run_gunicorn", "--num_workers", "2"], id="gunicorn-workers"),
    ],
)
def test_sigterm_to_the_started_pid_flushes_every_worker(
    launcher_args, tmp_path, otlp_receiver, mlflow_server, monkeypatch
):
    for name in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    service = f"llm-gateway-{uuid.uuid4().hex[:8]}"
    master_key = strong_key("sk-master")
    proxy = LiteLLMProxy(
        tmp_path,
        EXAMPLE_CONFIG,
        {
            "LITELLM_MASTER_KEY": master_key,
            "OTEL_SERVICE_NAME": service,
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_receiver.http_endpoint,
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "OTEL_BSP_SCHEDULE_DELAY": "60000",  # only the flush at shutdown can deliver
        },
        launcher_args,
    )
    proxy.start(timeout=300)
    try:
        assert proxy.pid is not None
        workers = [pid for pid in _children(proxy.pid) if _alive(pid)]
        assert len(workers) >= 2, f"no worker processes under {proxy.pid}: {workers}"
        traced = set()
        for _ in range(CALLS):
            trace_id = secrets.token_hex(16)
            response = requests.post(
                f"{proxy.url}/chat/completions",
                headers={
                    "Authorization": f"Bearer {master_key}",
                    "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
                },
                json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
                timeout=60,
            )
            assert response.status_code == 200, response.text
            traced.add(trace_id)
        assert not [s for s in otlp_receiver.spans() if s.trace_id in traced]

        os.kill(proxy.pid, signal.SIGTERM)  # to the pid `litellm` started as, nothing else
        wait_for(
            "the proxy to exit after SIGTERM",
            lambda: _alive(proxy.pid),
            lambda alive: not alive,
            timeout=60,
            describe=lambda _: f"proxy still running:\n{proxy.log_tail()}",
        )
        # Checked before kill() below, which would end any leftover of the process group. A
        # child's own exit may lag its parent's on a busy machine (a loaded run saw one still
        # running at the parent's end): what must not be is one left running.
        wait_for(
            "the proxy's children to end after their parent",
            lambda: [pid for pid in workers if _alive(pid)],
            lambda running: not running,
            timeout=30,
            describe=lambda running: "still running: " + ", ".join(map(_command, running)),
        )
        assert not _port_open(proxy.port)
    finally:
        proxy.kill()

    spans = otlp_receiver.wait_for_spans(CALLS, lambda s: s.trace_id in traced, timeout=10)
    assert {s.trace_id for s in spans} == traced
    client = MlflowClient(mlflow_server.uri)
    deadline = time.monotonic() + 30
    while _mlflow_trace_ids(client, service) != {f"tr-{t}" for t in traced}:
        assert time.monotonic() < deadline, _mlflow_trace_ids(client, service)
        time.sleep(0.5)
