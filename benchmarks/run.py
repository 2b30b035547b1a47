"""The benchmark harness: overhead per call against bare LiteLLM, its peers and the SDK floor.

    python -m benchmarks                 # full run: every mode available, RESULTS.md rewritten
    python -m benchmarks --setup-peers   # first: benchmarks/.venv-peers with the peers
    python -m benchmarks --smoke --out /tmp/smoke   # CI's seconds-long check of the harness

One run measures every mode, each in its own process, the modes alternated across rounds; a
mode's added cost in a round is its median batch minus the same round's baseline. The table
gives the median over rounds and the min-max.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import machine, report
from benchmarks.modes import MODES, NO_PEERS, PEERS
from benchmarks.peers import PEERS_VENV, ensure_peers_venv, missing_peers, peers_python
from benchmarks.workload import VARIANTS

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

WORKER_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "PYTHONHASHSEED": "0",
}


def app_env(**extra: str) -> dict[str, str]:
    """The environment of a child that configures the bridge itself (throughput, memory): this
    one without the OTLP/MLflow variables of the shell it was started from."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "MLFLOW_TRACKING", "MLFLOW_EXPERIMENT"))
    }
    return {**env, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true", **extra}


@dataclass
class Profile:
    """How much to measure."""

    rounds: int
    batches: int
    calls: dict[str, int]
    warmup: dict[str, int]
    instruction_calls: dict[str, int]
    jobs: int = 1
    throughput_seconds: float = 10.0
    startup_runs: int = 5
    smoke: bool = False


FULL = Profile(
    rounds=5,
    batches=7,
    calls={"plain": 200, "plain_large": 50, "stream_short": 100, "stream_long": 4, "async": 200},
    warmup={"plain": 100, "plain_large": 10, "stream_short": 20, "stream_long": 2, "async": 50},
    # enough calls that garbage collection, which runs every few hundred allocations, is
    # averaged over rather than caught or missed
    instruction_calls={
        "plain": 100,
        "plain_large": 40,
        "stream_short": 40,
        "stream_long": 6,
        "async": 100,
    },
)
SMOKE = Profile(
    rounds=1,
    batches=2,
    calls={"plain": 5, "plain_large": 2, "stream_short": 3, "stream_long": 1, "async": 5},
    warmup={"plain": 2, "plain_large": 1, "stream_short": 1, "stream_long": 1, "async": 2},
    instruction_calls={"plain": 2, "stream_short": 1, "stream_long": 1},
    jobs=2,
    throughput_seconds=1.0,
    startup_runs=1,
    smoke=True,
)


@dataclass
class Services:
    otlp_endpoint: str = ""
    otlp_http: str = ""
    mlflow_uri: str = ""
    mlflow_kind: str = ""
    sink: subprocess.Popen[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _log(message: str) -> None:
    sys.stderr.write(f"[benchmarks {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# -- services -----------------------------------------------------------------------------------


def start_sink(
    python: str, ports: dict[str, int] | None = None
) -> tuple[subprocess.Popen[str], dict[str, int]]:
    """The counting OTLP receiver, in its own process (it must not share our GIL); on ``ports``
    (``grpc_port``, ``http_port``) when given: the receiver again, where the app sends."""
    command = [python, "-m", "benchmarks.sink"]
    if ports is not None:
        command += ["--grpc-port", str(ports["grpc_port"]), "--http-port", str(ports["http_port"])]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError("the OTLP sink did not start")
    return process, json.loads(line)


def stop_process(process: subprocess.Popen[str] | None) -> None:
    if process is None:
        return
    with suppress(Exception):
        if process.stdin is not None:
            process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def sink_stats(http_port: int) -> dict[str, int]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/stats", timeout=5) as reply:
        return json.loads(reply.read())


@contextmanager
def services(python: str, workdir: Path, mlflow: str) -> Iterator[Services]:
    """The live destinations of the pipeline mode: the OTLP sink, and MLflow as asked:
    ``server`` (a real ``mlflow server`` on SQLite) or ``embedded`` (a SQLite store in-process)."""
    found = Services()
    server = None
    sink, ports = start_sink(python)
    found.sink = sink
    found.otlp_endpoint = f"http://127.0.0.1:{ports['grpc_port']}"
    found.extra["sink_http_port"] = ports["http_port"]
    try:
        if mlflow == "server":
            sys.path.insert(0, str(REPO))
            from tests.support.mlflow_server import MlflowServer

            _log("starting an MLflow server (SQLite), ~30 s")
            server = MlflowServer(workdir / "mlflow-server")
            server.start(timeout=240)
            found.mlflow_uri = server.uri
            found.mlflow_kind = "server (SQLite)"
        else:
            found.mlflow_uri = f"sqlite:///{workdir / 'embedded-mlflow.db'}"
            found.mlflow_kind = "embedded store (SQLite)"
        found.extra["mlflow_server"] = server
        yield found
    finally:
        if server is not None:
            server.stop()
        stop_process(sink)


# -- workers ------------------------------------------------------------------------------------


def run_worker(
    python: str, spec: dict[str, Any], timeout: float = 900, valgrind: list[str] | None = None
) -> dict[str, Any]:
    command = [*(valgrind or []), python, "-m", "benchmarks.worker", json.dumps(spec)]
    env = {**os.environ, **WORKER_ENV, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.splitlines()[-25:])
        raise RuntimeError(f"worker {spec['mode']} (content {spec['content']}) failed:\n{tail}")
    return json.loads(lines[-1])


def _spec(
    mode: str, content: bool, profile: Profile, svc: Services, workdir: Path, **extra: Any
) -> dict[str, Any]:
    run_dir = workdir / f"{mode}-{'on' if content else 'off'}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return {
        "mode": mode,
        "content": content,
        "workdir": str(run_dir),
        "variants": list(VARIANTS),
        "calls": profile.calls,
        "warmup": profile.warmup,
        "batches": profile.batches,
        "otlp_endpoint": svc.otlp_endpoint,
        "mlflow_uri": svc.mlflow_uri,
        **extra,
    }


def plan(modes: list[str], smoke: bool = False) -> list[tuple[str, bool]]:
    """(mode, content) runs of one round; the baseline runs once per content setting. The smoke
    run has every mode with content off, and configure() with content on too."""
    if smoke:
        runs = [(m, False) for m in modes]
        if "pipeline" in modes:
            runs += [("baseline", True), ("pipeline", True)]
        return runs
    runs: list[tuple[str, bool]] = []
    for content in (False, True):
        runs.append(("baseline", content))
        for mode in modes:
            if mode == "baseline":
                continue
            if not MODES[mode].content and content is False and mode != "baseline":
                continue  # no content switch: measured once, with its content on
            runs.append((mode, content))
    return runs


def measure_rounds(
    python: str, modes: list[str], profile: Profile, svc: Services, workdir: Path
) -> list[list[dict[str, Any]]]:
    rounds: list[list[dict[str, Any]]] = []
    runs = plan(modes, profile.smoke)
    for number in range(profile.rounds):
        # alternate: every round starts one run later in the list, so no mode always follows
        # the same neighbour or runs at the same point of the round
        shift = number % len(runs)
        order = runs[shift:] + runs[:shift]
        _log(f"round {number + 1}/{profile.rounds}: {len(order)} processes")

        def one(run: tuple[str, bool]) -> dict[str, Any]:
            mode, content = run
            return run_worker(python, _spec(mode, content, profile, svc, workdir))

        if profile.jobs > 1:
            with ThreadPoolExecutor(profile.jobs) as pool:
                results = list(pool.map(one, order))
        else:
            results = [one(run) for run in order]
        rounds.append(results)
    return rounds


def measure_instructions(
    python: str,
    modes: list[str],
    profile: Profile,
    svc: Services,
    workdir: Path,
    content: bool | None = None,
) -> list[dict[str, Any]]:
    """Each (mode, content) once under callgrind (only ``content``'s runs when given):
    instructions per call, deterministic."""
    out_dir = workdir / "callgrind"
    out_dir.mkdir(parents=True, exist_ok=True)
    variants = [v for v in VARIANTS if profile.instruction_calls.get(v)]

    def one(run: tuple[str, bool]) -> dict[str, Any] | None:
        try:
            return counted(run)
        except (RuntimeError, subprocess.TimeoutExpired) as failed:
            # one process lost (killed, out of memory) must not lose the others' hours of counts
            _log(f"instruction counts of {run}: {failed}")
            return None

    def counted(run: tuple[str, bool]) -> dict[str, Any]:
        mode, content = run
        stem = out_dir / f"{mode}-{'on' if content else 'off'}.out"
        for old in out_dir.glob(stem.name + "*"):
            old.unlink()
        valgrind = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={stem}",
            "--collect-atstart=no",
            "--toggle-collect=functools_reduce",
            "--dump-after=functools_reduce",
        ]
        spec = _spec(mode, content, profile, svc, workdir, instructions=True)
        spec["variants"] = variants
        spec["calls"] = profile.instruction_calls
        spec["warmup"] = {v: 10 for v in variants}
        result = run_worker(python, spec, timeout=3600, valgrind=valgrind)
        result["dumps"] = len(list(out_dir.glob(stem.name + ".*")))
        dumps = sorted(out_dir.glob(stem.name + ".*"), key=lambda p: int(p.suffix.lstrip(".") or 0))
        # the last dumps are ours: a library may call functools.reduce while being imported
        counts = [_callgrind_total(p) for p in dumps][-len(variants) :]
        for variant, total in zip(variants, counts, strict=False):
            entry = result["variants"][variant]
            entry["instructions"] = total / entry["calls"]
        return result

    runs = [
        run
        for run in plan(modes, profile.smoke)
        if MODES[run[0]].callgrind and content in (None, run[1])
    ]
    _log(f"instruction counts: {len(runs)} processes under callgrind (slow)")
    with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        return [result for result in pool.map(one, runs) if result is not None]


def _callgrind_total(path: Path) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    return 0


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="seconds-long run (CI)")
    parser.add_argument("--setup-peers", action="store_true", help="create .venv-peers first")
    parser.add_argument("--no-peers", action="store_true", help="only the modes needing no peer")
    parser.add_argument("--modes", help="comma list of modes (default: all available)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--mlflow", choices=("server", "embedded"), help="pipeline's MLflow")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions under callgrind"
    )
    parser.add_argument(
        "--content",
        choices=("off", "on"),
        help="with --add instructions: count only the runs with content capture off (or on)",
    )
    parser.add_argument(
        "--variants",
        help=f"comma list of the calls measured (default all: {', '.join(VARIANTS)})",
    )
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument(
        "--no-postgres",
        action="store_true",
        help="leave out the throughput row of an MLflow server on PostgreSQL (on in a full run)",
    )
    parser.add_argument(
        "--throughput-seconds", type=float, help="window per offered rate (default 10, smoke 1)"
    )
    parser.add_argument("--memory", action="store_true", help="the 2-minute outage RSS run")
    parser.add_argument("--no-startup", action="store_true", help="leave out start-up")
    parser.add_argument(
        "--startup-runs", type=int, help="runs per start-up measurement (default 5, smoke 1)"
    )
    parser.add_argument(
        "--add",
        help="comma list of parts (rounds, instructions, memory, chunks, throughput, startup) to "
        "run and add to the results.json already in --out, RESULTS.md re-rendered "
        "(instructions: only the --modes given, when given)",
    )
    parser.add_argument(
        "--out", type=Path, help="where RESULTS.md and results.json go (default: benchmarks/)"
    )
    args = parser.parse_args(argv)

    profile = SMOKE if args.smoke else FULL
    if args.rounds:
        profile.rounds = args.rounds
    if args.throughput_seconds:
        profile.throughput_seconds = args.throughput_seconds
    if args.startup_runs:
        profile.startup_runs = args.startup_runs
    if args.variants:
        chosen = {v.strip() for v in args.variants.split(",") if v.strip()}
        if chosen - set(VARIANTS):
            parser.error(f"unknown variants {sorted(chosen - set(VARIANTS))}; known: {VARIANTS}")
        profile.calls = {v: n for v, n in profile.calls.items() if v in chosen}
        profile.instruction_calls = {
            v: n for v, n in profile.instruction_calls.items() if v in chosen
        }
    if args.setup_peers:
        _log("setting up benchmarks/.venv-peers")
        ensure_peers_venv()
    python = sys.executable
    modes = list(NO_PEERS)
    skipped: dict[str, str] = {}
    if not args.no_peers and not args.smoke:
        if peers_python().exists():
            python = str(peers_python())
            missing = missing_peers(python)
            modes += [m for m in PEERS if m not in missing]
            skipped.update({m: "not importable in .venv-peers" for m in missing})
        else:
            skipped.update({m: f"no {PEERS_VENV.name} (run with --setup-peers)" for m in PEERS})
    if args.modes:
        wanted = [m.strip() for m in args.modes.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in MODES]
        if unknown:
            parser.error(f"unknown modes {unknown}; known: {', '.join(MODES)}")
        extra = [
            m
            for m in wanted
            if not MODES[m].default and (python != sys.executable or not MODES[m].peer)
        ]
        modes = [m for m in modes if m in wanted or m == "baseline"] + extra
    out_dir = args.out or HERE
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.add:
        if not (out_dir / "results.json").exists():
            parser.error(f"--add needs an earlier run's results.json in {out_dir}")
        parts = [p.strip() for p in args.add.split(",") if p.strip()]
        wanted_modes = modes if args.modes else None
        return _add_parts(
            python,
            out_dir,
            parts,
            profile,
            postgres=not args.no_postgres,
            modes=wanted_modes,
            content={"off": False, "on": True}.get(args.content or ""),
        )
    mlflow = args.mlflow or ("embedded" if args.smoke else "server")

    started = time.time()
    described = machine.describe(python)
    results: dict[str, Any] = {
        "smoke": args.smoke,
        "machine": described,
        "profile": profile.__dict__,
        "modes": modes,
        "skipped": skipped,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
    }
    with tempfile.TemporaryDirectory(prefix="otel-bridge-bench-") as tmp:
        workdir = Path(tmp)
        with services(python, workdir, mlflow) as svc:
            results["mlflow"] = svc.mlflow_kind
            results["rounds"] = measure_rounds(python, modes, profile, svc, workdir)
            _log("per-chunk cost, isolated")
            results["chunks"] = run_chunks(python)
            if args.instructions:
                results["instructions"] = measure_instructions(python, modes, profile, svc, workdir)
        if not args.no_throughput:
            from benchmarks import throughput

            results["throughput"] = throughput.run_all(
                python,
                workdir,
                profile.throughput_seconds,
                smoke=args.smoke,
                postgres=not (args.smoke or args.no_postgres),
                log=_log,
            )
        if not args.no_startup:
            results["startup"] = run_startup(workdir, profile)
        if args.memory:
            from benchmarks import memory

            results["memory"] = memory.run(python, workdir, log=_log)
    results["elapsed_s"] = round(time.time() - started, 1)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    results["machine"]["load_at_end"] = [round(x, 2) for x in load] if load else None
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    text = report.render(results)
    (out_dir / "RESULTS.md").write_text(text)
    _log(f"wrote {out_dir / 'RESULTS.md'} in {results['elapsed_s']} s")
    return 0


def run_chunks(python: str) -> dict[str, Any]:
    """The bridge's per-chunk cost, isolated (benchmarks/chunks.py), in its own process."""
    env = {**os.environ, **WORKER_ENV, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [python, "-m", "benchmarks.chunks"], cwd=REPO, env=env, capture_output=True, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": done.stderr[-2000:]}
    return json.loads(lines[-1])


def run_startup(workdir: Path, profile: Profile) -> dict[str, Any]:
    """Start-up (benchmarks/startup.py) with this venv's python and `otel-bridge`: what a user
    runs, whatever python the peers' modes use."""
    from benchmarks import startup

    return startup.run(
        sys.executable,
        workdir,
        runs=profile.startup_runs,
        smoke=profile.smoke,
        log=_log,
    )


def _add_parts(
    python: str,
    out_dir: Path,
    parts: list[str],
    profile: Profile,
    *,
    postgres: bool,
    modes: list[str] | None = None,
    content: bool | None = None,
) -> int:
    """Run some parts alone and merge them into an earlier run's results (table re-rendered).
    ``instructions`` counts only ``modes`` (with the baseline) when given, and only the runs
    with that ``content`` setting when given, replacing their earlier counts and keeping the
    others'."""
    results = json.loads((out_dir / "results.json").read_text())
    for part in parts:
        when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
        what = part
        if part == "instructions" and modes:
            what = f"instructions of {', '.join(modes)}"
        if part == "instructions" and content is not None:
            what += f" (content {'on' if content else 'off'})"
        results.setdefault("added", []).append(f"{what} at {when}")
        if part == "instructions":
            counted = modes or results["modes"]
            mlflow = "embedded" if "embedded" in str(results.get("mlflow")) else "server"
            with (
                tempfile.TemporaryDirectory(prefix="otel-bridge-bench-") as tmp,
                services(python, Path(tmp), mlflow) as svc,
            ):
                fresh = measure_instructions(
                    python, counted, profile, svc, Path(tmp), content=content
                )
            again = {(run["mode"], run["content"]) for run in fresh}
            kept = [
                run
                for run in results.get("instructions", [])
                if (run["mode"], run["content"]) not in again
            ]
            results["instructions"] = kept + fresh
            # the counts kept were made with the earlier versions of what this run left out
            earlier = results.get("instructions_versions") or {}
            results["instructions_versions"] = {**earlier, **machine.versions(python)}
            results["modes"] += [m for m in counted if m not in results["modes"]]
        elif part == "rounds":  # the timed rounds again (say, on a quieter machine)
            with tempfile.TemporaryDirectory(prefix="otel-bridge-bench-") as tmp:
                mlflow = "embedded" if "embedded" in str(results.get("mlflow")) else "server"
                with services(python, Path(tmp), mlflow) as svc:
                    results["rounds"] = measure_rounds(
                        python, results["modes"], profile, svc, Path(tmp)
                    )
        elif part == "chunks":
            _log("per-chunk cost, isolated")
            results["chunks"] = run_chunks(python)
        elif part == "memory":
            from benchmarks import memory

            with tempfile.TemporaryDirectory(prefix="otel-bridge-bench-") as tmp:
                results["memory"] = memory.run(python, Path(tmp), log=_log)
        elif part == "throughput":
            from benchmarks import throughput

            with tempfile.TemporaryDirectory(prefix="otel-bridge-bench-") as tmp:
                results["throughput"] = throughput.run_all(
                    python,
                    Path(tmp),
                    profile.throughput_seconds,
                    smoke=profile.smoke,
                    postgres=postgres and not profile.smoke,
                    log=_log,
                )
        elif part == "startup":
            with tempfile.TemporaryDirectory(prefix="otel-bridge-bench-") as tmp:
                results["startup"] = run_startup(Path(tmp), profile)
        else:
            raise SystemExit(
                f"unknown part {part!r}: rounds, instructions, memory, chunks, throughput, startup"
            )
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (out_dir / "RESULTS.md").write_text(report.render(results))
    _log(f"added {', '.join(parts)} to {out_dir / 'RESULTS.md'}")
    return 0
