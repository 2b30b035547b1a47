"""Start-up: what tracing adds before a program's first line and at its exit.

Whole processes, measured from outside (``os.wait4``: wall time, user+sys CPU and peak RSS of
that one child), per destination configuration, beside the same ``python -c pass`` without the
bridge:

- ``otel-bridge run -- python -c pass``: the wrapper and a program that does nothing;
- ``python -c 'import otel_bridge; otel_bridge.configure()'``: the library alone; the child also
  times ``import otel_bridge`` and ``configure()`` itself.

Neither program makes a span, so its whole life comes before any export: its peak RSS is the
peak "until the first export". Every run starts in a fresh working directory (the embedded
store and the spool are made there, as on a first contact). Runs are interleaved: each round
runs every (configuration, program) once, starting one later each round; a figure is the median
over rounds.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

CONFIGURE_S = 0.3  # configure() returns within this (wall)
RUN_ADDED_S = 0.6  # `otel-bridge run -- python -c pass` over `python -c pass` (wall)
RSS_ADDED_MIB = 60  # peak RSS over the bare program's

BARE = "python -c pass"
RUN = "otel-bridge run -- python -c pass"
CONFIGURE = "import otel_bridge; otel_bridge.configure()"
CONFIGURE_SOURCE = """
import json, time
started = time.perf_counter()
import otel_bridge
imported = time.perf_counter()
otel_bridge.configure()
configured = time.perf_counter()
print(json.dumps({"import_s": imported - started, "configure_s": configured - imported}))
"""

# (key, label); "server" is a real `mlflow server` the harness starts (not in a smoke run)
CONFIGURATIONS = (
    ("embedded", "MLflow embedded store (the default)"),
    ("server", "MLflow server (live, SQLite)"),
    ("unreachable", "MLflow server URI, nothing listening"),
    ("otlp", "OTLP only (gRPC, live receiver)"),
    ("both", "OTLP + MLflow embedded store"),
)


def commands(python: str) -> dict[str, list[str]]:
    return {
        BARE: [python, "-c", "pass"],
        RUN: [str(Path(python).parent / "otel-bridge"), "run", "--", python, "-c", "pass"],
        CONFIGURE: [python, "-c", CONFIGURE_SOURCE],
    }


# The child is started by this small launcher (python -S), not by the harness itself: on exec,
# Linux charges a process the RSS high-water mark of the memory it was forked with, so a child
# forked straight from a large harness (or pytest) would report the harness's own size.
_LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"wall_s": time.perf_counter() - started, "cpu_s": usage.ru_utime + usage.ru_stime,
               "rss_kib": usage.ru_maxrss, "exit": os.waitstatus_to_exitcode(status)}, out)
"""


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run ``argv`` once in ``cwd``: wall s, CPU s (user+sys), peak RSS MiB, exit code, and the
    JSON line the program printed, if any."""
    cwd.mkdir(parents=True, exist_ok=True)
    usage_file = cwd / "usage.json"
    with open(cwd / "stdout", "wb") as out, open(cwd / "stderr", "wb") as err:
        launcher = [sys.executable, "-S", "-c", _LAUNCHER, str(usage_file), *argv]
        subprocess.run(launcher, cwd=cwd, env=env, stdout=out, stderr=err, check=True)
    usage = json.loads(usage_file.read_text())
    sample: dict[str, Any] = {
        "wall_s": usage["wall_s"],
        "cpu_s": usage["cpu_s"],
        "rss_mib": usage["rss_kib"] / 1024,  # KiB on Linux
        "exit": usage["exit"],
    }
    printed = [line for line in (cwd / "stdout").read_text().splitlines() if line.startswith("{")]
    if printed:
        sample.update(json.loads(printed[-1]))
    if usage["exit"] != 0:
        sample["stderr"] = (cwd / "stderr").read_text(errors="replace")[-1500:]
    return sample


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def destinations(
    python: str, workdir: Path, *, smoke: bool, log: Callable[[str], None]
) -> Iterator[tuple[dict[str, dict[str, str]], dict[str, str]]]:
    """The environment of each configuration (and why any is left out), its services running.
    A smoke run leaves out the live server (~30 s to start) and OTLP + embedded (the sum of two
    rows it has)."""
    sys.path.insert(0, str(REPO))
    from benchmarks.run import start_sink, stop_process

    sink, ports = start_sink(python)
    otlp = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{ports['grpc_port']}",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
    }
    envs = {
        "embedded": {},
        "unreachable": {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{_free_port()}"},
        "otlp": {**otlp, "OTEL_TRACES_EXPORTER": "otlp"},
        "both": otlp,
    }
    skipped = {}
    if smoke:
        del envs["both"]
        skipped["both"] = "smoke run: the embedded store and OTLP are measured on their own"
    server = None
    try:
        if not smoke:
            from tests.support.mlflow_server import MlflowServer

            log("startup: starting an MLflow server (SQLite), ~30 s")
            server = MlflowServer(workdir / "startup-mlflow-server").start(timeout=240)
            envs["server"] = {"MLFLOW_TRACKING_URI": server.uri}
        else:
            skipped["server"] = "smoke run: no live MLflow server (it takes ~30 s to start)"
        yield envs, skipped
    finally:
        if server is not None:
            server.stop()
        stop_process(sink)


def run(
    python: str,
    workdir: Path,
    *,
    runs: int = 5,
    smoke: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every (configuration, program) ``runs`` times, one process at a time (a smoke run: two at
    a time, its numbers mean nothing)."""
    from benchmarks.run import WORKER_ENV, app_env

    argv = commands(python)
    with destinations(python, workdir, smoke=smoke, log=log) as (envs, skipped):
        plan = [("none", BARE)]
        plan += [
            (key, program)
            for key, _ in CONFIGURATIONS
            if key in envs
            for program in (RUN, CONFIGURE)
        ]
        samples: dict[str, list[dict[str, Any]]] = {f"{k}|{p}": [] for k, p in plan}
        for number in range(runs):
            log(f"startup: round {number + 1}/{runs}, {len(plan)} processes")
            shift = number % len(plan)

            def one(key: str, program: str, number: int = number) -> dict[str, Any]:
                env = app_env(**WORKER_ENV, **envs.get(key, {}))
                cwd = workdir / "startup" / f"{number}-{key}-{program.split()[0]}"
                return measure(argv[program], env, cwd)

            order = plan[shift:] + plan[:shift]
            with ThreadPoolExecutor(2 if smoke else 1) as pool:
                measured = list(pool.map(one, *zip(*order, strict=True)))
            for (key, program), sample in zip(order, measured, strict=True):
                samples[f"{key}|{program}"].append(sample)
    return {
        "runs": runs,
        "python": python,
        "rows": [
            {"config": key, "program": program, "samples": samples[f"{key}|{program}"]}
            for key, program in plan
        ],
        "skipped": skipped,
    }


# -- the figures and RESULTS.md's section ------------------------------------------------------


def median(row: dict[str, Any], metric: str) -> float | None:
    values = [s[metric] for s in row["samples"] if s.get("exit") == 0 and metric in s]
    return statistics.median(values) if values else None


def _row(startup: dict[str, Any], config: str, program: str) -> dict[str, Any] | None:
    return next(
        (r for r in startup["rows"] if r["config"] == config and r["program"] == program), None
    )


def targets(startup: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, holds) per configuration; None: not measured."""
    bare = _row(startup, "none", BARE)
    bare_wall = median(bare, "wall_s") if bare else None
    bare_rss = median(bare, "rss_mib") if bare else None
    found: list[tuple[str, str, bool | None]] = []
    for key, label in CONFIGURATIONS:
        configure = _row(startup, key, CONFIGURE)
        wrapped = _row(startup, key, RUN)
        if configure is None or wrapped is None:
            continue
        took = median(configure, "configure_s")
        found.append(
            (
                f"{label}: configure() returns within {CONFIGURE_S} s",
                _failed(configure) or f"{took:.2f} s",
                None if took is None else took <= CONFIGURE_S,
            )
        )
        wall, rss = median(wrapped, "wall_s"), median(wrapped, "rss_mib")
        if wall is None or bare_wall is None or rss is None or bare_rss is None:
            failed = _failed(wrapped) or "not measured"
            found.append((f"{label}: `{RUN}`", failed, None))
            continue
        found.append(
            (
                f"{label}: `{RUN}` at most {RUN_ADDED_S} s over `{BARE}`",
                f"+{wall - bare_wall:.2f} s ({wall:.2f} s against {bare_wall:.2f} s)",
                wall - bare_wall <= RUN_ADDED_S,
            )
        )
        found.append(
            (
                f"{label}: peak RSS until the first export at most {RSS_ADDED_MIB} MiB over "
                f"`{BARE}`",
                f"+{rss - bare_rss:.0f} MiB ({rss:.0f} MiB against {bare_rss:.0f} MiB)",
                rss - bare_rss <= RSS_ADDED_MIB,
            )
        )
    return found


def _failed(row: dict[str, Any]) -> str | None:
    bad = [s for s in row["samples"] if s.get("exit") != 0]
    if not bad:
        return None
    return f"failed in {len(bad)} of {len(row['samples'])} runs (exit {bad[0].get('exit')})"


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(startup: dict[str, Any]) -> list[str]:
    labels = {"none": "no bridge", **dict(CONFIGURATIONS)}
    lines = [
        "## Start-up",
        "",
        f"Whole processes from outside, median of {startup['runs']} run(s) each, interleaved, "
        "every run in a fresh working directory: wall time, CPU (user+sys) and peak RSS of the "
        "process (`os.wait4`); `import otel_bridge` and `configure()` timed inside the "
        "configuring program. Neither program makes a span: its peak RSS is the peak until the "
        "first export. `python -m benchmarks --add startup` re-measures this section alone.",
        "",
        "| destinations | program | wall s | CPU s | peak RSS MiB | import s | configure() s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in startup["rows"]:
        failed = _failed(row)
        cells = [
            _cell(median(row, "wall_s"), 2),
            _cell(median(row, "cpu_s"), 2),
            _cell(median(row, "rss_mib"), 0),
            _cell(median(row, "import_s"), 2),
            _cell(median(row, "configure_s"), 2),
        ]
        program = f"`{row['program']}`" + (f" ({failed})" if failed else "")
        lines.append(f"| {labels[row['config']]} | {program} | " + " | ".join(cells) + " |")
    for key, why in startup.get("skipped", {}).items():
        lines.append(f"| {labels[key]} | not measured: {why} | | | | | |")
    lines += ["", "| target | measured | holds |", "| --- | --- | --- |"]
    for target, evidence, holds in targets(startup):
        verdict = "n/a" if holds is None else ("yes" if holds else "**no**")
        lines.append(f"| {target} | {evidence} | {verdict} |")
    failures = [r for r in startup["rows"] if _failed(r)]
    for row in failures:
        stderr = next(s.get("stderr", "") for s in row["samples"] if s.get("exit") != 0)
        lines += ["", f"`{row['program']}` with {labels[row['config']]} failed:", "", "```"]
        lines += [*stderr.strip().splitlines()[-8:], "```"]
    return [*lines, ""]
