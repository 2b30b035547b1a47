"""Memory while both destinations are down: RSS of an app making 200 calls/s through the whole
pipeline, healthy, then with the OTLP receiver and the MLflow server gone for 2 minutes, then back.

    python -m benchmarks.memory '<spec json>'      (the app; the harness runs it)

The app prints one JSON line per second: its RSS and ``Bridge.stats()``. The harness stops the
receiver and the server, starts them again on the same ports two minutes later, and compares the
outage's peak RSS with the healthy run's. Spans that cannot be delivered go to the spool (on disk)
or are counted as dropped; memory must not hold them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET_MIB = 64


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def app(spec: dict[str, Any]) -> None:
    os.chdir(spec["workdir"])
    for key, value in spec["environ"].items():
        os.environ[key] = value
    import litellm

    import otel_bridge
    from benchmarks.workload import call_kwargs

    bridge = otel_bridge.configure()
    kwargs = call_kwargs("plain")
    rate, seconds = spec["rate"], spec["seconds"]
    start = time.perf_counter()
    made, next_report = 0, 1.0
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
        if elapsed >= next_report:
            line = {"t": round(elapsed, 1), "rss_mib": round(_rss_mib(), 1), "calls": made}
            line["stats"] = bridge.stats()
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            next_report += 1.0
        if made >= elapsed * rate:
            time.sleep(0.001)
            continue
        litellm.completion(**kwargs)
        made += 1
    bridge.force_flush(timeout=30)
    sys.stdout.write(json.dumps({"final": bridge.stats(), "rss_mib": _rss_mib()}) + "\n")
    bridge.shutdown(timeout=10)


def run(
    python: str,
    workdir: Path,
    *,
    healthy: float = 60.0,
    outage: float = 120.0,
    recovery: float = 60.0,
    rate: int = 200,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from benchmarks.run import app_env, start_sink, stop_process
    from tests.support.mlflow_server import MlflowServer

    mdir = workdir / "memory"
    mdir.mkdir(parents=True, exist_ok=True)
    try:
        import otel_bridge.config as config

        has_spool = hasattr(config, "SPOOL_VAR")
    except Exception:
        has_spool = False
    sink, ports = start_sink(python)
    server = MlflowServer(mdir / "mlflow-server")
    log("memory: starting an MLflow server (~30 s)")
    server.start(timeout=240)
    environ = {
        "OTEL_SERVICE_NAME": "otel-bridge-memory",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{ports['grpc_port']}",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
        "MLFLOW_TRACKING_URI": server.uri,
        "MLFLOW_EXPERIMENT_NAME": "otel-bridge-memory",
        "OTEL_BRIDGE_SPOOL_DIR": str(mdir / "spool"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    spec = {
        "workdir": str(mdir),
        "environ": environ,
        "rate": rate,
        "seconds": healthy + outage + recovery,
    }
    process = subprocess.Popen(
        [python, "-m", "benchmarks.memory", json.dumps(spec)],
        cwd=REPO,
        env=app_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    samples: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    events: list[tuple[float, str]] = []

    first = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("{"):
                data = json.loads(line)
                if "final" in data:
                    final.update(data)
                else:
                    data["at"] = time.monotonic()
                    samples.append(data)
                    first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not first.wait(timeout=300):
            raise RuntimeError("the app did not start")
        t0 = samples[0]["at"] - samples[0]["t"]  # the app's clock, on ours
        log(f"memory: healthy for {healthy:g} s at {rate} calls/s")
        _sleep_until(t0 + healthy)
        log(f"memory: both destinations down for {outage:g} s")
        stop_process(sink)
        server.stop()
        events.append((time.monotonic() - t0, "down"))
        _sleep_until(t0 + healthy + outage)
        sink, _ = start_sink(python, ports)
        server.start(timeout=240)
        events.append((time.monotonic() - t0, "back"))
        log("memory: destinations back")
        process.wait(timeout=healthy + outage + recovery + 600)
        reader.join(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        stop_process(sink)
        server.stop()
    return summarise(samples, final, events, healthy, outage, has_spool, rate)


def _sleep_until(deadline: float) -> None:
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 1.0))


def summarise(
    samples: list[dict[str, Any]],
    final: dict[str, Any],
    events: list[tuple[float, str]],
    healthy: float,
    outage: float,
    has_spool: bool,
    rate: int,
) -> dict[str, Any]:
    settled = [s for s in samples if healthy / 2 <= s["t"] < healthy]
    during = [s for s in samples if healthy <= s["t"] < healthy + outage]
    after = [s for s in samples if s["t"] >= healthy + outage]
    peak_healthy = max((s["rss_mib"] for s in settled), default=None)
    peak_outage = max((s["rss_mib"] for s in during), default=None)
    peak_after = max((s["rss_mib"] for s in after), default=None)
    # the outage and the catching up after it (replay from the spool) both count
    worst = max((p for p in (peak_outage, peak_after) if p is not None), default=None)
    delta = worst - peak_healthy if worst is not None and peak_healthy is not None else None
    return {
        "rate": rate,
        "healthy_s": healthy,
        "outage_s": outage,
        "has_spool": has_spool,
        "events": events,
        "peak_rss_healthy_mib": peak_healthy,
        "peak_rss_outage_mib": peak_outage,
        "peak_rss_after_mib": peak_after,
        "delta_mib": delta,
        "holds": None if delta is None else delta <= TARGET_MIB,
        "series": [
            {"t": s["t"], "rss_mib": s["rss_mib"], "calls": s["calls"], "stats": s["stats"]}
            for s in samples[::10]
        ],
        "final": final.get("final"),
    }


def render(memory: dict[str, Any]) -> list[str]:
    lines = [
        "## Memory over a 2-minute outage of both destinations",
        "",
        f"An app making {memory['rate']} plain calls/s through `otel_bridge.configure()` (OTLP "
        "receiver + MLflow server, content to MLflow): healthy for "
        f"{memory['healthy_s']:g} s, then the receiver and the server stopped for "
        f"{memory['outage_s']:g} s, then started again (the MLflow server takes ~30 s more to "
        "answer). Spool: "
        + ("on (the bridge's default)" if memory["has_spool"] else "not available in this tree")
        + ".",
        "",
        f"- peak RSS, healthy (second half): {memory['peak_rss_healthy_mib']} MiB",
        f"- peak RSS, during the outage: {memory['peak_rss_outage_mib']} MiB, and while "
        f"catching up after it: {memory['peak_rss_after_mib']} MiB "
        f"(+{memory['delta_mib']:.1f} MiB at worst; target: at most +{TARGET_MIB} MiB: "
        + ("holds" if memory["holds"] else "**missed**")
        + ")"
        if memory["delta_mib"] is not None
        else "- no samples",
        "",
        "| t (s) | RSS MiB | calls | OTLP exported / spooled / dropped | MLflow exported / "
        "spooled / dropped |",
        "| ---: | ---: | ---: | --- | --- |",
    ]
    for s in memory["series"]:
        cells = []
        for name in ("otlp", "mlflow"):
            st = s["stats"].get(name, {})
            cells.append(f"{st.get('exported')} / {st.get('spooled')} / {st.get('dropped')}")
        lines.append(f"| {s['t']:g} | {s['rss_mib']} | {s['calls']} | {cells[0]} | {cells[1]} |")
    if memory.get("final"):
        lines.append("")
        lines.append(f"At the end, after a flush: `{json.dumps(memory['final'])}`")
    return [*lines, ""]


if __name__ == "__main__":
    app(json.loads(sys.argv[1]))
