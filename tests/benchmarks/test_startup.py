"""The start-up part of the harness: one child measured on its own (wall, CPU, peak RSS), the
medians and the targets read from the samples, and the section of RESULTS.md. The harness run
itself is in the smoke test (tests/benchmarks/test_smoke.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks import startup
from benchmarks.startup import BARE, CONFIGURE, RUN

BIG = "b = bytearray(150 * 2**20); import json; print(json.dumps({'made': len(b)}))"
BUSY = "import time; end = time.process_time() + 0.3\nwhile time.process_time() < end: pass"


def test_each_child_is_measured_on_its_own(tmp_path: Path) -> None:
    big = startup.measure([sys.executable, "-c", BIG], {}, tmp_path / "big")
    assert big["exit"] == 0 and big["rss_mib"] > 150
    assert big["made"] == 150 * 2**20  # the JSON line the program printed
    # a later small child is not charged the earlier big one's peak (as RUSAGE_CHILDREN would)
    small = startup.measure([sys.executable, "-c", "pass"], {}, tmp_path / "small")
    assert small["rss_mib"] < 60
    busy = startup.measure([sys.executable, "-c", BUSY], {}, tmp_path / "busy")
    assert busy["cpu_s"] >= 0.29 and busy["wall_s"] >= busy["cpu_s"] * 0.9
    failed = startup.measure(
        [sys.executable, "-c", "raise SystemExit('no such store')"], {}, tmp_path / "f"
    )
    assert failed["exit"] == 1 and "no such store" in failed["stderr"]


def _row(config: str, program: str, *values: tuple[float, float, float], **extra: float) -> dict:
    """A row of samples (wall s, CPU s, peak RSS MiB) of runs that succeeded."""
    samples = [{"wall_s": w, "cpu_s": c, "rss_mib": r, "exit": 0, **extra} for w, c, r in values]
    return {"config": config, "program": program, "samples": samples}


def _results() -> dict:
    """The issue's figures for the embedded store, a fixed-up unreachable server, a failed OTLP."""
    failed = {
        "wall_s": 0.2,
        "cpu_s": 0.1,
        "rss_mib": 20,
        "exit": 2,
        "stderr": "otel-bridge: X='y': bad",
    }
    configured = {"configure_s": 0.01, "import_s": 0.2}
    return {
        "runs": 3,
        "rows": [
            _row("none", BARE, (0.05, 0.02, 12), (0.04, 0.02, 12), (0.03, 0.02, 13)),
            _row("embedded", RUN, (9.2, 6.0, 242), (9.0, 6.1, 240), (9.9, 6.3, 250)),
            _row(
                "embedded",
                CONFIGURE,
                *[(3.1, 2.0, 230), (3.0, 2.0, 231), (3.4, 2.1, 229)],
                **{**configured, "configure_s": 2.8},
            ),
            _row("unreachable", RUN, (0.5, 0.3, 38), (0.7, 0.3, 40), (0.6, 0.3, 80)),
            _row("unreachable", CONFIGURE, *[(0.3, 0.2, 30)] * 3, **configured),
            {"config": "otlp", "program": RUN, "samples": [failed]},
            _row("otlp", CONFIGURE, (0.3, 0.2, 30), configure_s=0.05),
        ],
        "skipped": {"server": "smoke run: no live MLflow server"},
    }


def test_the_targets_are_read_from_the_medians() -> None:
    verdicts = {
        target: (measured, holds) for target, measured, holds in startup.targets(_results())
    }
    embedded = "MLflow embedded store (the default)"
    unreachable = "MLflow server URI, nothing listening"
    assert verdicts[f"{embedded}: configure() returns within 0.3 s"] == ("2.80 s", False)
    assert verdicts[f"{embedded}: `{RUN}` at most 0.6 s over `{BARE}`"] == (
        "+9.16 s (9.20 s against 0.04 s)",
        False,
    )
    rss = f": peak RSS until the first export at most 60 MiB over `{BARE}`"
    assert verdicts[embedded + rss] == ("+230 MiB (242 MiB against 12 MiB)", False)
    assert verdicts[f"{unreachable}: configure() returns within 0.3 s"] == ("0.01 s", True)
    assert verdicts[f"{unreachable}: `{RUN}` at most 0.6 s over `{BARE}`"][1] is True
    assert verdicts[unreachable + rss] == ("+28 MiB (40 MiB against 12 MiB)", True)  # the median
    # a run that failed is not a number: the target is open, the failure shown
    otlp = "OTLP only (gRPC, live receiver)"
    assert verdicts[f"{otlp}: `{RUN}`"] == ("failed in 1 of 1 runs (exit 2)", None)
    assert not any(target.startswith("MLflow server (live") for target in verdicts)


def test_the_section_shows_every_row_the_skipped_and_the_failures() -> None:
    lines = startup.render(_results())
    text = "\n".join(lines)
    assert lines[0] == "## Start-up"
    assert "median of 3 run(s) each" in text
    assert "| no bridge | `python -c pass` | 0.04 | 0.02 | 12 | - | - |" in lines
    assert (
        f"| MLflow embedded store (the default) | `{CONFIGURE}` | 3.10 | 2.00 | 230 | 0.20 | 2.80 |"
        in lines
    )
    assert f"| OTLP only (gRPC, live receiver) | `{RUN}` (failed in 1 of 1 runs (exit 2)) |" in text
    assert (
        "| MLflow server (live, SQLite) | not measured: smoke run: no live MLflow server |" in text
    )
    assert "otel-bridge: X='y': bad" in text  # what the failed run said
    assert text.count("| **no** |") == 3 and "| n/a |" in text
