#!/usr/bin/env python
"""The fault matrix of docs/reliability.md: each fault on each destination, measured, not typed.

For every (fault, destination) cell an app runs in its own process under the bridge: LiteLLM
calls (``mock_response``, each under an app span) paced over a few seconds while the fault is
on, then the fault is lifted ("recovery") and a few more calls follow; the app shuts down; a
second process with the same spool then runs until it has replayed what the first left (at most
30 s). The
other destination stays healthy all along. Recorded per cell:

* app errors: exceptions raised into the app's calls, plus a non-zero exit;
* per-call time: median time of one call (span included) while the fault is on, against the
  same app with both destinations healthy;
* delivered: spans that reached the faulty destination (distinct ids) / spans the app made;
* counted: spans dropped with a reason (``Bridge.stats()``), plus spans still in the spool;
* other destination: spans it received / made.

Both destinations are reached through a fault-injecting HTTP proxy (tests/reliability): OTLP is
OTLP/HTTP to the tests' OTLP receiver, MLflow a real ``mlflow server`` (started here, ~30 s).

    .venv/bin/python scripts/fault_matrix.py            # prints the table, rewrites the docs
    .venv/bin/python scripts/fault_matrix.py --calls 100 --faults healthy,down --no-docs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from tests.e2e.apps import base_env, run_app  # noqa: E402
from tests.reliability.fault_proxy import FaultProxy  # noqa: E402
from tests.support.mlflow_server import MlflowServer  # noqa: E402
from tests.support.otlp_receiver import OtlpReceiver  # noqa: E402

DOC = REPO / "docs" / "reliability.md"
START, END = "<!-- fault-matrix:start -->", "<!-- fault-matrix:end -->"
FAULTS = ["healthy", "down", "hanging", "slow 5 s", "500", "429 Retry-After", "422", "flapping"]
DESTINATIONS = ["otlp", "mlflow"]

APP = """
import json, os, sys, time, statistics
import otel_bridge
bridge = otel_bridge.configure()
import litellm
from opentelemetry import trace
tracer = trace.get_tracer("app")
durations, errors = [], 0
def calls(count, pace):
    global errors
    for i in range(count):
        started = time.perf_counter()
        try:
            with tracer.start_as_current_span("handle"):
                litellm.completion(model="gpt-4o-mini", mock_response="ok",
                                   messages=[{"role": "user", "content": "hi"}])
        except Exception:
            errors += 1
        durations.append(time.perf_counter() - started)
        time.sleep(pace)
calls(20, 0)  # warm-up: first-call costs are not the fault's
durations.clear()
calls(int(os.environ["CALLS"]), float(os.environ["PACE"]))
during = list(durations)
print("phase1", flush=True)
while not os.path.exists("recovered"):
    time.sleep(0.05)
calls(int(os.environ["AFTER_CALLS"]), 0.01)
time.sleep(float(os.environ["LINGER"]))
bridge.shutdown(5)
print(json.dumps({"during": during, "errors": errors, "made": 2 * (20 + int(os.environ["CALLS"])
                  + int(os.environ["AFTER_CALLS"])), "stats": bridge.stats()}), flush=True)
"""

NEXT = """
import json, time, otel_bridge
bridge = otel_bridge.configure()
deadline = time.monotonic() + 30  # replays the spool it finds, until it is empty
time.sleep(1)
while time.monotonic() < deadline and any(
    s["spool"]["spans"] for s in bridge.stats().values()
):
    time.sleep(0.2)
bridge.shutdown(5)
print(json.dumps({"stats": bridge.stats()}))
"""


@dataclass
class Cell:
    fault: str
    destination: str
    errors: int = 0
    median_call: float = 0.0
    made: int = 0
    delivered: int = 0
    counted: dict[str, int] = field(default_factory=dict)
    spool_left: int = 0
    other_delivered: int = 0
    note: str = ""


class Rig:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.receiver = OtlpReceiver().start()
        self.mlflow = MlflowServer(workdir / "mlflow-server")
        self.mlflow.start(timeout=240)
        self.proxies = {
            "otlp": FaultProxy(self.receiver.http_base).start(),
            "mlflow": FaultProxy(self.mlflow.uri).start(),
        }

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
        self.mlflow.stop()
        self.receiver.stop()

    def apply(self, destination: str, fault: str) -> threading.Event | None:
        proxy = self.proxies[destination]
        proxy.reset_faults()
        proxy.start()
        if fault == "down":
            proxy.stop()
        elif fault == "hanging":
            proxy.delay(60)
        elif fault == "slow 5 s":
            proxy.delay(5)
        elif fault == "500":
            proxy.fail_with(500)
        elif fault == "429 Retry-After":
            proxy.fail_with(429, retry_after=1)
        elif fault == "422":
            proxy.fail_with(422)
        elif fault == "flapping":
            stop = threading.Event()

            def flap() -> None:
                failing = True
                while not stop.is_set():
                    if failing:
                        proxy.fail_with(503)
                    else:
                        proxy.reset_faults()
                    failing = not failing
                    stop.wait(0.5)
                proxy.reset_faults()

            threading.Thread(target=flap, daemon=True).start()
            return stop
        return None

    def recover(self, destination: str, flapper: threading.Event | None) -> None:
        if flapper is not None:
            flapper.set()
        proxy = self.proxies[destination]
        proxy.reset_faults()
        proxy.start()

    def otlp_spans(self, service: str) -> int:
        return len(
            {s.span_id for s in self.receiver.spans() if s.resource.get("service.name") == service}
        )

    def mlflow_spans(self, experiment: str) -> int:
        from mlflow import MlflowClient

        client = MlflowClient(self.mlflow.uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return 0
        ids, token = set(), None
        while True:
            page = client.search_traces(
                locations=[found.experiment_id], max_results=500, page_token=token
            )
            for trace in page:
                ids.update(s.span_id for s in trace.data.spans)
            token = page.token
            if not token:
                return len(ids)


def run_cell(rig: Rig, fault: str, destination: str, args: argparse.Namespace) -> Cell:
    cell = Cell(fault, destination)
    name = f"matrix-{destination}-{fault.split()[0]}-{uuid.uuid4().hex[:6]}"
    cwd = rig.workdir / name
    cwd.mkdir()
    env = base_env(
        OTEL_SERVICE_NAME=name,
        MLFLOW_EXPERIMENT_NAME=name,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=rig.proxies["otlp"].uri + "/v1/traces",
        MLFLOW_TRACKING_URI=rig.proxies["mlflow"].uri,
        OTEL_BSP_SCHEDULE_DELAY="200",
        OTEL_BSP_EXPORT_TIMEOUT="5000",
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="5",
        OTEL_BRIDGE_SPOOL_DIR=str(cwd / "spool"),
        CALLS=str(args.calls),
        PACE=str(args.pace),
        AFTER_CALLS=str(args.after_calls),
        LINGER="4",
    )
    flapper = rig.apply(destination, fault)
    (cwd / "app.py").write_text(APP)
    import subprocess

    process = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "python"), "app.py"],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.startswith("phase1"):
                break
        rig.recover(destination, flapper)
        (cwd / "recovered").write_text("")
        out, err = process.communicate(timeout=300)
    finally:
        rig.recover(destination, flapper)
    if process.returncode != 0:
        cell.errors += 1
        cell.note = err.strip().splitlines()[-1] if err.strip() else f"exit {process.returncode}"
        return cell
    result = json.loads(out.strip().splitlines()[-1])
    cell.errors += result["errors"]
    cell.median_call = statistics.median(result["during"])
    cell.made = result["made"]
    stats = result["stats"][destination]
    nxt = run_app(NEXT, cwd, env, under_bridge=False)
    next_stats = json.loads(nxt.stdout.strip().splitlines()[-1])["stats"][destination]
    counted: dict[str, int] = {}
    for part in (stats, next_stats):
        for reason, count in part["dropped_by_reason"].items():
            counted[reason] = counted.get(reason, 0) + count
    cell.counted = counted
    cell.spool_left = next_stats["spool"]["spans"]
    if os.environ.get("FAULT_MATRIX_DEBUG"):
        print(json.dumps({"first": stats, "next": next_stats}), file=sys.stderr)
        print(nxt.stderr[-2000:], file=sys.stderr)
        print(err[-3000:], file=sys.stderr)
    time.sleep(1.0)
    other = "mlflow" if destination == "otlp" else "otlp"
    count = {"otlp": lambda: rig.otlp_spans(name), "mlflow": lambda: rig.mlflow_spans(name)}
    cell.delivered = count[destination]()
    cell.other_delivered = count[other]()
    return cell


def table(cells: list[Cell], baseline: dict[str, float], args: argparse.Namespace) -> str:
    lines = [
        f"Each app made {args.calls} paced LiteLLM calls with the fault on, then "
        f"{args.after_calls} after recovery (2 spans per call, 20 warm-up calls included). "
        f"Settings: `OTEL_BSP_SCHEDULE_DELAY=200`, `OTEL_BSP_EXPORT_TIMEOUT=5000`, "
        f"`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=5`, spool on. Generated by "
        f"`scripts/fault_matrix.py` on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs.",
        "",
        "| fault | destination | app errors | per-call time vs healthy | delivered / made "
        "| counted (dropped, left in spool) | other destination |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cell in cells:
        base = baseline.get(cell.destination) or baseline.get("otlp") or cell.median_call
        change = (cell.median_call / base - 1) * 100 if base else 0.0
        counted = ", ".join(f"{k}={v}" for k, v in sorted(cell.counted.items())) or "none"
        if cell.spool_left:
            counted += f"; {cell.spool_left} in spool"
        accounted = cell.delivered + sum(cell.counted.values()) + cell.spool_left
        mark = "all accounted" if accounted >= cell.made else f"{cell.made - accounted} missing"
        errors = f"{cell.errors} {cell.note}".strip()
        lines.append(
            f"| {cell.fault} | {cell.destination} | {errors} "
            f"| {cell.median_call * 1e3:.2f} ms ({change:+.1f}%) "
            f"| {cell.delivered} / {cell.made} | {counted} ({mark}) "
            f"| {cell.other_delivered} / {cell.made} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--pace", type=float, default=0.02, help="seconds between calls")
    parser.add_argument("--after-calls", type=int, default=50)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--destinations", default=",".join(DESTINATIONS))
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()
    faults = [f.strip() for f in args.faults.split(",")]
    destinations = [d.strip() for d in args.destinations.split(",")]
    with tempfile.TemporaryDirectory(prefix="fault-matrix-") as tmp:
        rig = Rig(Path(tmp))
        try:
            cells: list[Cell] = []
            baseline: dict[str, float] = {}
            for fault in faults:
                for destination in destinations if fault != "healthy" else destinations[:1]:
                    started = time.monotonic()
                    cell = run_cell(rig, fault, destination, args)
                    if fault == "healthy":
                        baseline = {d: cell.median_call for d in destinations}
                        cell.destination = "both"
                    cells.append(cell)
                    print(
                        f"{fault:>16} {cell.destination:>6}: {cell.delivered}/{cell.made} "
                        f"delivered, counted {cell.counted}, errors {cell.errors}, "
                        f"{cell.median_call * 1e3:.2f} ms/call ({time.monotonic() - started:.0f}s)",
                        flush=True,
                    )
        finally:
            rig.close()
    text = table(cells, baseline, args)
    print(text)
    if not args.no_docs:
        doc = DOC.read_text()
        head, _, rest = doc.partition(START)
        _, _, tail = rest.partition(END)
        DOC.write_text(f"{head}{START}\n{text}\n{END}{tail}")
        print(f"written to {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
