"""Throughput of each destination from one process, and what happens above it.

    python -m benchmarks.throughput '<spec json>'     (one destination, one process)

The producer makes spans shaped like the bridge's chat span (GenAI attributes; for MLflow with
the input/output messages too), each its own trace, at an offered rate, for a few seconds, through
``otel_bridge.configure()`` with only the destination under test. It then flushes and reads
``Bridge.stats()``: exported, dropped (by reason) and spooled. ``max`` offers as fast as the
producer can: the destination's sustained rate is what it exported per second of the window.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

CHAT_ATTRIBUTES: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.provider.name": "openai",
    "openai.api.type": "chat_completions",
    "server.address": "api.openai.com",
    "server.port": 443,
    "gen_ai.response.id": "chatcmpl-0123456789abcdef",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 60,
    "gen_ai.usage.output_tokens": 20,
    "gen_ai.response.finish_reasons": ("stop",),
}
CONTENT_ATTRIBUTES: dict[str, Any] = {
    "gen_ai.input.messages": json.dumps(
        [
            {"role": "system", "parts": [{"type": "text", "content": "You are a weather " * 15}]},
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        ]
    ),
    "gen_ai.output.messages": json.dumps(
        [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Paris: 18 °C, light rain."}],
                "finish_reason": "stop",
            }
        ]
    ),
}


def produce(rate: float | None, seconds: float) -> int:
    """Spans at ``rate`` per second (None: as fast as possible) for ``seconds``; returns count."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    tracer = trace.get_tracer("benchmarks.throughput")
    attributes = {**CHAT_ATTRIBUTES, **CONTENT_ATTRIBUTES}
    start = time.perf_counter()
    made = 0
    while True:
        now = time.perf_counter()
        elapsed = now - start
        if elapsed >= seconds:
            return made
        due = int(elapsed * rate) + 1 if rate else made + 100
        if made >= due:
            time.sleep(0.002)
            continue
        for _ in range(due - made):
            tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=attributes).end()
        made = due


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    os.chdir(spec["workdir"])
    for key, value in spec["environ"].items():
        os.environ[key] = value
    import otel_bridge

    bridge = otel_bridge.configure()
    [name] = bridge.destinations
    levels = []
    for rate in spec["rates"]:
        before = bridge.stats()[name]
        t0 = time.perf_counter()
        made = produce(rate, spec["seconds"])
        window = time.perf_counter() - t0
        during = bridge.stats()[name]
        t1 = time.perf_counter()
        bridge.force_flush(timeout=spec.get("drain_timeout", 60))
        drain = time.perf_counter() - t1
        after = bridge.stats()[name]
        levels.append(
            {
                "offered_rate": rate,
                "made": made,
                "window_s": window,
                "drain_s": drain,
                "exported_in_window": during["exported"] - before["exported"],
                "exported": after["exported"] - before["exported"],
                "spooled": after.get("spooled", 0) - before.get("spooled", 0),
                # spooled spans sent later count as exported AND spooled: replayed tells them apart
                "replayed": after.get("replayed", 0) - before.get("replayed", 0),
                "dropped": after["dropped"] - before["dropped"],
                "dropped_by_reason": _diff(
                    after.get("dropped_by_reason", {}), before.get("dropped_by_reason", {})
                ),
            }
        )
    bridge.shutdown(timeout=10)
    return {"destination": name, "description": bridge.destinations[name], "levels": levels}


def _diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _run(python: str, spec: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
    from benchmarks.run import app_env

    env = app_env(LITELLM_LOCAL_MODEL_COST_MAP="True")
    done = subprocess.run(
        [python, "-m", "benchmarks.throughput", json.dumps(spec)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.splitlines()[-20:])
        return {"error": f"exit {done.returncode}: {tail}"}
    return json.loads(lines[-1])


def _environ(exporters: str, spool: Path, **extra: str) -> dict[str, str]:
    """A run's environment; its own spool directory, so that what one run spooled is never
    replayed into the next run's destination (and counted there)."""
    return {
        "OTEL_BRIDGE_SPOOL_DIR": str(spool),
        "OTEL_SERVICE_NAME": "otel-bridge-benchmark",
        "OTEL_TRACES_EXPORTER": exporters,
        "OTEL_BRIDGE_CONTENT_DESTINATIONS": "mlflow",
        "MLFLOW_EXPERIMENT_NAME": "otel-bridge-throughput",
        **extra,
    }


def run_all(
    python: str,
    workdir: Path,
    seconds: float,
    *,
    smoke: bool,
    postgres: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    from benchmarks.run import sink_stats, start_sink, stop_process

    out: dict[str, Any] = {"seconds": seconds, "runs": []}
    tdir = workdir / "throughput"
    tdir.mkdir(parents=True, exist_ok=True)
    otlp_rates = [None] if smoke else [2000, 5000, 10000, None]
    mlflow_rates = [100, 300, 1000, None]

    sink, ports = start_sink(python)
    try:
        log("throughput: OTLP/gRPC into the loopback sink")
        result = _run(
            python,
            {
                "workdir": str(tdir),
                "seconds": seconds,
                "rates": otlp_rates,
                "environ": _environ(
                    "otlp",
                    tdir / "spool-otlp",
                    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"http://127.0.0.1:{ports['grpc_port']}",
                    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="grpc",
                ),
            },
        )
        result["label"] = "OTLP gRPC → loopback receiver"
        result["received_by_sink"] = sink_stats(ports["http_port"])["spans"]
        out["runs"].append(result)
    finally:
        stop_process(sink)

    if smoke:  # creating an MLflow store alone takes longer than the smoke run may
        return out
    log("throughput: MLflow embedded store")
    result = _run(
        python,
        {
            "workdir": str(tdir),
            "seconds": seconds,
            "rates": mlflow_rates,
            "environ": _environ(
                "mlflow",
                tdir / "spool-embedded",
                MLFLOW_TRACKING_URI=f"sqlite:///{tdir / 'embedded.db'}",
            ),
        },
    )
    result["label"] = "MLflow embedded store (SQLite, in-process)"
    if "error" not in result:
        result["stored_traces"] = _sqlite_traces(tdir / "embedded.db")
    out["runs"].append(result)

    backends = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    for backend in backends:
        result = _mlflow_server_run(python, tdir, backend, seconds, mlflow_rates, log)
        out["runs"].append(result)
    return out


def _mlflow_server_run(
    python: str,
    tdir: Path,
    backend: str,
    seconds: float,
    rates: list[float | None],
    log: Callable[[str], None],
) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from tests.support.mlflow_server import MlflowServer

    label = f"MLflow server ({'SQLite' if backend == 'sqlite' else 'PostgreSQL'})"
    postgres = None
    pg_dir = None
    server: Any = None
    try:
        if backend == "postgresql":
            from benchmarks.postgres import Postgres, PostgresUnavailable

            try:
                server_python = _driver_python(python)
                # not under the harness's 0700 temp directory: as root, PostgreSQL runs as the
                # postgres OS user, which must be able to reach its cluster
                pg_dir = Path(tempfile.mkdtemp(prefix="otel-bridge-pg-"))
                postgres = Postgres(pg_dir)
                log(f"throughput: {label}: a fresh PostgreSQL cluster")
                postgres.start()
            except PostgresUnavailable as exc:
                _stop(None, postgres, pg_dir)
                return {"label": label, "error": f"skipped: {exc}"}
            server = _PostgresMlflowServer(tdir / "mlflow-pg", postgres.uri, server_python)
        else:
            server = MlflowServer(tdir / "mlflow-sqlite")
        log(f"throughput: {label}: starting it (~30 s)")
        server.start(timeout=240)
    except Exception as exc:
        _stop(server, postgres, pg_dir)
        return {"label": label, "error": f"could not start: {exc}"}
    try:
        log(f"throughput: {label}")
        result = _run(
            python,
            {
                "workdir": str(tdir),
                "seconds": seconds,
                "rates": rates,
                "drain_timeout": 120,
                "environ": _environ(
                    "mlflow", tdir / f"spool-server-{backend}", MLFLOW_TRACKING_URI=server.uri
                ),
            },
        )
        result["label"] = label
        if "error" not in result:
            # every span is its own trace: the store must hold one trace per exported span
            result["stored_traces"] = _stored_traces(server, postgres)
        if postgres is not None:
            result["backend"] = {"version": postgres.version, "settings": postgres.settings}
        return result
    finally:
        _stop(server, postgres, pg_dir)


def _stop(server: Any, postgres: Any, pg_dir: Path | None) -> None:
    if server is not None:
        server.stop()
    if postgres is not None:
        postgres.stop()
    if pg_dir is not None:
        shutil.rmtree(pg_dir, ignore_errors=True)


_COUNT_TRACES = "SELECT count(*) FROM trace_info"


def _stored_traces(server: Any, postgres: Any) -> int | str:
    """Traces in the MLflow server's store, counted in the database itself."""
    if postgres is None:
        return _sqlite_traces(server.workdir / "mlflow.db")
    try:
        return int(postgres.query(_COUNT_TRACES))
    except Exception as exc:  # a count that failed is reported, not fatal
        return f"not counted: {exc}"


def _sqlite_traces(path: Path) -> int | str:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return int(db.execute(_COUNT_TRACES).fetchone()[0])
    except Exception as exc:
        return f"not counted: {exc}"


def _driver_python(python: str) -> str:
    """An interpreter that has MLflow and psycopg2 (SQLAlchemy's ``postgresql://`` driver):
    ``python`` itself, else benchmarks/.venv-peers, where ``requirements-peers.txt`` puts it
    (the project does not depend on a PostgreSQL driver)."""
    from benchmarks.peers import PEERS_VENV, peers_python
    from benchmarks.postgres import PostgresUnavailable

    candidates = [python]
    if peers_python().exists() and str(peers_python()) != python:
        candidates.append(str(peers_python()))
    for candidate in candidates:
        done = subprocess.run(
            [candidate, "-c", "import psycopg2, mlflow.store.tracking.sqlalchemy_store"],
            capture_output=True,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
            timeout=180,
        )
        if done.returncode == 0:
            return candidate
    raise PostgresUnavailable(
        f"no interpreter with MLflow and psycopg2 ({', '.join(candidates)}); psycopg2-binary is "
        f"in benchmarks/requirements-peers.txt: run with --setup-peers to install it into "
        f"{PEERS_VENV.name}"
    )


def _PostgresMlflowServer(workdir: Path, store_uri: str, python: str) -> Any:
    from tests.support.mlflow_server import MlflowServer

    class PostgresMlflowServer(MlflowServer):
        @property
        def backend_store_uri(self) -> str:
            return store_uri

        def command(self) -> list[str]:
            command = super().command()
            command[0] = python  # the interpreter that has the PostgreSQL driver
            return command

    return PostgresMlflowServer(workdir)


def render(throughput: dict[str, Any]) -> list[str]:
    runs = throughput.get("runs", [])
    lines = [
        "## Throughput (one process, one destination at a time)",
        "",
        f"Spans shaped like the bridge's chat span, each its own trace, offered for "
        f"{throughput['seconds']:g} s per level, then flushed. Exported/s: spans the destination "
        "took per second of the window; the rest is counted backpressure (dropped by reason, or "
        "spooled when the spool is on). Under each MLflow row, the traces its store holds, "
        "counted in the database after the run (one per exported span when nothing was lost).",
    ]
    backend = next((run["backend"] for run in runs if run.get("backend")), None)
    if backend:
        off = [f"`{k}`" for k, v in backend["settings"].items() if v == "off"]
        off = ", ".join(off[:-1]) + f" and {off[-1]}" if len(off) > 1 else "".join(off)
        lines[-1] += (
            f" MLflow server (PostgreSQL): `mlflow server` on a fresh {backend['version']} "
            f"cluster on loopback (psycopg2), with {off} off: a benchmark store, not a durable one."
        )
    lines += [
        "",
        "| destination | offered /s | made | exported in window /s | exported after flush "
        "| flush s | dropped (reason) | spooled |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for run in runs:
        if "error" in run:
            error = " ".join(run["error"].split()).replace("|", "/")
            lines.append(f"| {run['label']} | - | - | - | - | - | {error[:300]} | - |")
            continue
        for level in run["levels"]:
            offered = level["offered_rate"]
            reasons = ", ".join(f"{k} {v}" for k, v in level["dropped_by_reason"].items())
            lines.append(
                f"| {run['label']} | {'max' if offered is None else int(offered)} "
                f"({level['made'] / level['window_s']:.0f}) | {level['made']} "
                f"| {level['exported_in_window'] / level['window_s']:.0f} "
                f"| {level['exported']} | {level['drain_s']:.1f} "
                f"| {level['dropped']}{f' ({reasons})' if reasons else ''} | {level['spooled']} |"
            )
        if "received_by_sink" in run:
            lines.append(
                f"| (the receiver counted {run['received_by_sink']} spans) | | | | | | | |"
            )
        if "stored_traces" in run:
            exported = sum(level["exported"] for level in run["levels"])
            lines.append(
                f"| (the store holds {run['stored_traces']} traces; {exported} spans exported) "
                "| | | | | | | |"
            )
    return [*lines, ""]


if __name__ == "__main__":
    result = worker(json.loads(sys.argv[1]))
    sys.stdout.write("\n" + json.dumps(result) + "\n")
