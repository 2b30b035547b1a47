"""Nothing heavy on the program's start (issue 13): `otel-bridge run`'s own process imports
neither MLflow nor LiteLLM, `configure()` asks no server and opens no store on the app's thread,
and a server or store that does not answer holds back neither; the spans wait in the spool and
the program says so. (The timings themselves are measured in benchmarks/.)"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import sys
from collections.abc import Iterator

import pytest

from otel_bridge.exporters.mlflow.server_check import CALL_TIMEOUT
from tests.e2e.apps import base_env, run_app, run_cli
from tests.support.ports import LOOPBACK, free_port

pytestmark = pytest.mark.e2e

IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", re.MULTILINE)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections (the kernel's backlog) and never answers a request."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(64)
        yield f"http://{LOOPBACK}:{listener.getsockname()[1]}"


@pytest.mark.parametrize("mlflow", ["embedded", "unreachable", "silent"])
def test_the_run_wrapper_imports_neither_mlflow_nor_litellm(mlflow, silent_server, tmp_path):
    uri = {
        "embedded": None,
        "unreachable": f"http://{LOOPBACK}:{free_port()}",
        "silent": silent_server,
    }[mlflow]
    env = base_env(
        OTEL_SERVICE_NAME="light-wrapper", **({"MLFLOW_TRACKING_URI": uri} if uri else {})
    )
    app = [sys.executable, "-c", "print('app ran')"]
    done = run_cli(["run", "--", *app], tmp_path, env, python_flags=("-X", "importtime"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "app ran\n"
    imported = {name.split(".")[0] for name in IMPORTED.findall(done.stderr)}
    assert "otel_bridge" in imported  # the wrapper's own imports were seen
    assert not imported & {"mlflow", "litellm", "sqlalchemy", "opentelemetry"}, sorted(imported)


CONFIGURE_APP = """
import importlib.util, json, os, sys, threading, time

importers = {}
homes = {n: os.path.dirname(importlib.util.find_spec(n).origin) for n in ("mlflow", "litellm")}

def watch(event, args):  # the thread that first reads a package's code imports it
    if event != "open" or not isinstance(args[0], str):
        return
    for name, home in homes.items():
        if name not in importers and args[0].startswith(home + os.sep):
            importers[name] = threading.current_thread().name

sys.addaudithook(watch)
from otel_bridge import configure
started = time.monotonic()
bridge = configure()
took = time.monotonic() - started
after_configure = dict(importers)
from opentelemetry import trace
with trace.get_tracer("app").start_as_current_span("work") as span:
    pass
flushed = bridge.force_flush(60)
print(json.dumps({"took": took, "after_configure": after_configure, "importers": importers,
                  "flushed": flushed, "stats": bridge.stats(),
                  "trace_id": format(span.get_span_context().trace_id, "032x")}))
"""


def test_the_embedded_store_is_opened_by_the_destinations_thread(tmp_path):
    env = base_env(OTEL_SERVICE_NAME="store-off-the-app-thread")
    run = run_app(CONFIGURE_APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    result = run.result
    assert result["after_configure"] == {}  # configure() imported neither
    assert result["flushed"] is True
    assert result["stats"]["mlflow"]["exported"] == 1, run.stderr
    assert result["importers"]["mlflow"].startswith("otel-bridge-mlflow-")
    assert "litellm" not in result["importers"]  # the app never used it

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("store-off-the-app-thread")
    [trace] = client.search_traces(locations=[experiment.experiment_id])
    assert trace.info.trace_id == f"tr-{result['trace_id']}"


def test_configure_does_not_wait_for_a_server_that_never_answers(silent_server, tmp_path):
    """Before, configure() waited for the server's answer (10 s, then the spool); now the
    destination's thread waits, and the program ends saying where its spans are."""
    env = base_env(
        MLFLOW_TRACKING_URI=silent_server,
        OTEL_SERVICE_NAME="silent-server",
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="1",
    )
    app = CONFIGURE_APP.replace("force_flush(60)", "force_flush(0.5)")
    run = run_app(app, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["took"] < CALL_TIMEOUT / 2  # it never waited for a request to time out
    assert run.result["flushed"] is False  # the span was waiting on the server...
    assert "did not finish" not in run.stderr and "lost" not in run.stderr
    [line] = [x for x in run.stderr.splitlines() if "wait in the spool" in x]
    assert line.startswith("otel-bridge: mlflow has not answered yet; 1 spans wait in the spool")
    assert line.endswith(
        "/.otel-bridge/spool/silent-server/mlflow and are resent by the next process, or now "
        "with `otel-bridge flush`"
    )
    assert len(list((tmp_path / ".otel-bridge/spool/silent-server/mlflow").glob("*.span"))) == 1


def test_run_starts_the_program_while_the_server_is_silent(silent_server, tmp_path):
    env = base_env(
        MLFLOW_TRACKING_URI=silent_server,
        OTEL_SERVICE_NAME="silent-server-run",
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="1",
    )
    app = "from opentelemetry import trace\ntrace.get_tracer('a').start_span('work').end()\n"
    run = run_app(app + "print('app ran')", tmp_path, env)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "app ran\n"
    assert "otel-bridge: mlflow has not answered yet; 1 spans wait in the spool" in run.stderr


def test_a_store_that_does_not_answer_holds_back_nothing_then_flush_delivers(tmp_path):
    """The embedded store locked by another process (as a database that does not answer):
    the program runs and ends within its shutdown timeout, its span spooled; `otel-bridge
    flush` stores it once the store answers."""
    from mlflow import MlflowClient

    store = tmp_path / "mlflow.db"
    MlflowClient(f"sqlite:///{store}").search_experiments()  # the tables exist
    env = base_env(OTEL_SERVICE_NAME="locked-store", OTEL_BRIDGE_SHUTDOWN_TIMEOUT="2")
    lock = sqlite3.connect(store, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        app = CONFIGURE_APP.replace("force_flush(60)", "force_flush(0.5)")
        run = run_app(app, tmp_path, env, under_bridge=False)
    finally:
        lock.close()
    assert run.returncode == 0, run.stderr
    assert run.result["after_configure"] == {}
    assert run.result["stats"]["mlflow"]["exported"] == 0
    assert "1 spans wait in the spool" in run.stderr and "otel-bridge flush" in run.stderr

    flush = run_cli(["flush"], tmp_path, env)
    assert flush.returncode == 0, flush.stderr
    assert flush.stderr.rstrip().endswith(
        "mlflow (MLflow embedded store sqlite:///mlflow.db "
        "experiment 'locked-store'): 1 spans sent; nothing "
        "waits any more"
    )
    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("locked-store")
    [trace] = client.search_traces(locations=[experiment.experiment_id])
    assert trace.info.trace_id == f"tr-{run.result['trace_id']}"


EXITS_WHILE_IMPORTING = """
import gc, sys, otel_bridge
from opentelemetry import trace
from otel_bridge.exporters.mlflow import connection

# MLflow's import, longer: the program ends while the MLflow destination's thread imports.
connection._STORE_MODULES = ("slow_to_import", *connection._STORE_MODULES)

class ImportsWhenCollected:  # as LiteLLM's HTTP handlers do in __del__ at exit
    def __del__(self):
        import slow_to_import  # noqa: F401

gc.disable()  # collected by the interpreter's last collection, after its threads are stopped
cycle = ImportsWhenCollected()
cycle.itself = cycle
del cycle
bridge = otel_bridge.configure()
trace.get_tracer("app").start_span("work").end()
print("app done", flush=True)
"""


def test_the_program_ends_while_mlflow_is_still_being_imported(tmp_path):
    """A thread stopped by the interpreter's exit inside an import keeps that import's lock: an
    import at exit (a __del__) would then wait forever. The bridge waits for the import."""
    (tmp_path / "slow_to_import.py").write_text("import time\ntime.sleep(3)\n")
    env = base_env(OTEL_SERVICE_NAME="ends-while-importing", OTEL_BRIDGE_SHUTDOWN_TIMEOUT="0.5")
    env["PYTHONPATH"] += f"{os.pathsep}{tmp_path}"
    run = run_app(EXITS_WHILE_IMPORTING, tmp_path, env, under_bridge=False, timeout=90)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "app done\n"
    assert "1 spans wait in the spool" in run.stderr
