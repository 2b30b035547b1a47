"""RESULTS.md from a run's results: tables, ratios, targets, throughput, memory, machine."""

from __future__ import annotations

from typing import Any

from benchmarks.modes import MODES, PEERS
from benchmarks.stats import Spread, added, per_chunk, ratio, spread

METRIC = "wall_us"
# the other LiteLLM instrumentations (util_genai is a candidate builder for the bridge, not one)
RIVALS = tuple(m for m in PEERS if m != "util_genai")
# otel-bridge's own modes, as the ratio tables name them
OURS = (
    ("bridge", "instrumentor"),
    ("pipeline", "configure()"),
    ("pipeline_metrics", "configure(), metrics on"),
)
COLUMNS = (
    ("plain", "plain call"),
    ("plain_large", "plain, 32 KiB conversation"),
    ("stream_short", "stream call (2 chunks)"),
    ("chunk", "per stream chunk"),
    ("async", "async call"),
)


def _runs_by_round(results: dict[str, Any]) -> list[dict[tuple[str, bool], dict[str, Any]]]:
    return [{(r["mode"], r["content"]): r for r in rnd} for rnd in results.get("rounds", [])]


def _base_for(runs: dict[tuple[str, bool], dict[str, Any]], content: bool) -> dict[str, Any]:
    return runs.get(("baseline", content)) or runs[("baseline", not content)]


def _content_of(mode: str, content: bool) -> bool | None:
    """The content setting a mode was run with for a table of ``content`` (None: not run)."""
    if MODES[mode].content:
        return content
    return True if content else None


def added_spreads(
    results: dict[str, Any], metric: str = METRIC
) -> dict[tuple[str, bool], dict[str, Spread | None]]:
    """(mode, content) -> column -> spread over rounds of the added cost."""
    table: dict[tuple[str, bool], dict[str, Spread | None]] = {}
    rounds = _runs_by_round(results)
    for mode in results.get("modes", []):
        if mode == "baseline":
            continue
        for content in (False, True):
            ran_with = _content_of(mode, content)
            if ran_with is None:
                continue
            columns: dict[str, list[float]] = {c: [] for c, _ in COLUMNS}
            for runs in rounds:
                run = runs.get((mode, ran_with))
                if run is None:
                    continue
                base = _base_for(runs, ran_with)
                for column, _ in COLUMNS:
                    value = (
                        per_chunk(run, base, metric)
                        if column == "chunk"
                        else added(run, base, column, metric)
                    )
                    if value is not None:
                        columns[column].append(value)
            table[(mode, content)] = {c: spread(v) for c, v in columns.items()}
    return table


def baseline_spreads(results: dict[str, Any], metric: str = METRIC) -> dict[str, Spread | None]:
    values: dict[str, list[float]] = {c: [] for c, _ in COLUMNS}
    for runs in _runs_by_round(results):
        for (mode, _content), run in runs.items():
            if mode != "baseline":
                continue
            for column, _ in COLUMNS:
                if column == "chunk":
                    try:
                        v = run["variants"]["stream_long"]
                        s = run["variants"]["stream_short"]
                        values[column].append((v[metric] - s[metric]) / (v["chunks"] - s["chunks"]))
                    except (KeyError, ZeroDivisionError):
                        pass
                elif column in run["variants"]:
                    values[column].append(run["variants"][column][metric])
    return {c: spread(v) for c, v in values.items()}


def _cell(s: Spread | None, digits: int = 1) -> str:
    return s.fmt(digits) if s is not None else "-"


def _x(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "-"


def _overhead_table(
    results: dict[str, Any], content: bool, metric: str = METRIC
) -> tuple[list[str], dict]:
    spreads = added_spreads(results, metric)
    lines = [
        "| mode | " + " | ".join(label for _, label in COLUMNS) + " |",
        "| --- |" + " ---: |" * len(COLUMNS),
    ]
    for mode in results.get("modes", []):
        if mode == "baseline":
            continue
        row = spreads.get((mode, content))
        if row is None or all(cell is None for cell in row.values()):
            continue  # a mode counted under callgrind only
        label = MODES[mode].label
        if not MODES[mode].content:
            label += " (always captures content)"
        lines.append(
            f"| {label} | "
            + " | ".join(_cell(row[c], 2 if c == "chunk" else 1) for c, _ in COLUMNS)
            + " |"
        )
    return lines, spreads


def valid_instructions(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The callgrind runs whose counts can be trusted: not of a mode that calls the collection
    toggle (functools.reduce) itself, and with as many dumps as the baseline's."""
    runs = results.get("instructions") or []
    base_dumps = {r.get("dumps") for r in runs if r["mode"] == "baseline"}
    return [
        r
        for r in runs
        if MODES[r["mode"]].callgrind and (r.get("dumps") is None or r["dumps"] in base_dumps)
    ]


def _instruction_lines(results: dict[str, Any]) -> list[str]:
    runs = valid_instructions(results)
    if not runs:
        return []
    by = {(r["mode"], r["content"]): r for r in runs}
    skipped = [MODES[m].label for m in results.get("modes", []) if not MODES[m].callgrind]
    lines = [
        "## Instructions (callgrind, deterministic)",
        "",
        "Each (mode, content) once under `valgrind --tool=callgrind`, collecting only while the "
        "calls run: instructions per call added over the baseline (thousands), and per stream "
        "chunk; the µs column converts with the baseline's own µs per instruction (plain call). "
        "Callgrind's collection toggle is per thread, so these are the calling thread's "
        "instructions only: immune to other processes and blind to work done in other threads "
        "(LiteLLM's logging pool; the destinations' workers, where configure() builds the "
        "content). "
        "The per-chunk columns move by tens of thousands with the process's memory layout "
        "(CPython 3.11's type attribute cache, see `benchmarks/README.md`), more than the "
        "bridge's own work per chunk; see the isolated figure above."
        + (
            f" Not counted: {', '.join(skipped)} (they call `functools.reduce`, the collection "
            "toggle, inside the calls)."
            if skipped
            else ""
        ),
        "",
        "| mode | content | plain (k) | 32 KiB conv. (k) | stream 2 chunks (k) | per chunk "
        "| per chunk, µs est. | async (k) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base_wall = baseline_spreads(results).get("plain")
    for (mode, content), run in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if mode == "baseline":
            continue
        base = by.get(("baseline", content)) or by.get(("baseline", not content))
        if base is None:
            continue
        cells = []
        for variant in ("plain", "plain_large", "stream_short"):
            value = added(run, base, variant, "instructions")
            cells.append(f"{value / 1000:.1f}" if value is not None else "-")
        chunk = per_chunk(run, base, "instructions")
        base_ir = base["variants"].get("plain", {}).get("instructions")
        us_per_ir = base_wall.median / base_ir if base_wall and base_ir else None
        cells.append(f"{chunk:.0f}" if chunk is not None else "-")
        cells.append(f"{chunk * us_per_ir:.2f}" if chunk is not None and us_per_ir else "-")
        value = added(run, base, "async", "instructions")
        cells.append(f"{value / 1000:.1f}" if value is not None else "-")
        lines.append(
            f"| {MODES[mode].label} | {'on' if content else 'off'} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "Ratios of instructions added: otel-bridge (its instrumentor alone, the default "
        "pipeline of configure(), and configure() with the GenAI metrics on) against the floor, "
        "each peer and opentelemetry-util-genai as the span/metric builder (below 1: the bridge "
        "does less).",
        "",
        "| otel-bridge | against | content | plain | 32 KiB conv. | async |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for mode, who in OURS:
        for other in ("floor", *PEERS):
            for content in (False, True):
                ours = by.get((mode, content))
                theirs = by.get((other, _content_of(other, content)))
                base = by.get(("baseline", content)) or by.get(("baseline", not content))
                if not ours or not theirs or not base or _content_of(other, content) is None:
                    continue
                cells = []
                for variant in ("plain", "plain_large", "async"):
                    a = added(ours, base, variant, "instructions")
                    b = added(theirs, base, variant, "instructions")
                    cells.append(_x(a / b) if a is not None and b else "-")
                lines.append(
                    f"| {who} | {MODES[other].label} | {'on' if content else 'off'} | "
                    + " | ".join(cells)
                    + " |"
                )
    return [*lines, ""]


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, evidence, holds) for the issue's targets."""
    spreads = added_spreads(results)
    out: list[tuple[str, str, bool | None]] = []
    instr = {(r["mode"], r["content"]): r for r in valid_instructions(results)}

    def instructions(mode: str, content: bool) -> float | None:
        ran_with = _content_of(mode, content)
        run = instr.get((mode, ran_with)) if ran_with is not None else None
        base = instr.get(("baseline", ran_with)) or instr.get(("baseline", not ran_with))
        return added(run, base, "plain", "instructions") if run and base else None

    def timed_ratio(a: Spread | None, b: Spread | None) -> tuple[float | None, str]:
        """The ratio of medians, and its text: not used when either side's min..max reaches
        zero (inside the machine's noise, as the tables above say)."""
        r = ratio(a, b)
        if r is None:
            return None, _x(r)
        if a is None or b is None or a.low <= 0 or b.low <= 0:
            return None, f"{_x(r)} (inside the noise: not used)"
        return r, _x(r)

    def verdict(timed: float | None, counted: float | None, limit: float) -> bool | None:
        # both must agree for a "yes"; instructions alone decide when there is no timed ratio
        checks = [r <= limit for r in (timed, counted) if r is not None]
        return None if not checks else all(checks)

    cpu_spreads = added_spreads(results, "cpu_us")
    for content in (False, True):
        tag = "content on" if content else "content off"
        floor = spreads.get(("floor", content), {}).get("plain")
        floor_cpu = cpu_spreads.get(("floor", content), {}).get("plain")
        f_ir = instructions("floor", content)
        for mode, who in (
            ("bridge", "instrumentor alone"),
            ("pipeline", "configure()"),
            ("pipeline_metrics", "configure() with GenAI metrics"),
        ):
            ours = spreads.get((mode, content), {}).get("plain")
            if ours is None and instructions(mode, content) is None:
                continue
            ours_cpu = cpu_spreads.get((mode, content), {}).get("plain")
            r_cpu, shown_cpu = timed_ratio(ours_cpu, floor_cpu)
            o_ir = instructions(mode, content)
            r_ir = o_ir / f_ir if o_ir is not None and f_ir else None
            evidence = (
                f"wall: {who} {_cell(ours)} µs, floor {_cell(floor)} µs: "
                f"{_x(ratio(ours, floor))}; calling thread's CPU: {_cell(ours_cpu)} vs "
                f"{_cell(floor_cpu)} µs: {shown_cpu}"
            )
            if r_ir is not None:
                evidence += (
                    f"; callgrind: {o_ir / 1000:.0f}k vs {f_ir / 1000:.0f}k instr: {_x(r_ir)}"
                )
            out.append(
                (
                    f"plain call ≤ 2x the bare span ({who}, {tag})",
                    evidence,
                    verdict(r_cpu, r_ir, 2.0),
                )
            )
        bridge = spreads.get(("bridge", content), {}).get("plain")
        b_ir = instructions("bridge", content)
        peers = {
            m: spreads.get((m, content), {}).get("plain")
            for m in RIVALS
            if spreads.get((m, content), {}).get("plain") is not None
        }
        if peers and bridge is not None:
            lightest, value = min(peers.items(), key=lambda kv: kv[1].median)
            r, shown = timed_ratio(
                cpu_spreads.get(("bridge", content), {}).get("plain"),
                cpu_spreads.get((lightest, content), {}).get("plain"),
            )
            evidence = (
                f"wall: instrumentor alone {_cell(bridge)} µs, lightest {MODES[lightest].label} "
                f"{_cell(value)} µs: {_x(ratio(bridge, value))}; calling thread's CPU: {shown}"
            )
            peer_ir = {m: instructions(m, content) for m in RIVALS}
            peer_ir = {m: v for m, v in peer_ir.items() if v}
            r_ir = None
            if peer_ir and b_ir is not None:
                light_ir, v_ir = min(peer_ir.items(), key=lambda kv: kv[1])
                r_ir = b_ir / v_ir
                evidence += (
                    f"; callgrind: lightest {MODES[light_ir].label} {v_ir / 1000:.0f}k instr: "
                    f"{_x(r_ir)}"
                )
            out.append(
                (f"plain call ≤ ¼ of the lightest peer ({tag})", evidence, verdict(r, r_ir, 0.25))
            )
        else:
            out.append((f"plain call ≤ ¼ of the lightest peer ({tag})", "no peer measured", None))
    chunk_evidence = []
    holds: bool | None = None
    isolated = results.get("chunks") or {}
    for content in (False, True):
        found = isolated.get("content_on" if content else "content_off")
        if found:
            value = found["per_chunk_us"]
            chunk_evidence.append(f"isolated, content {'on' if content else 'off'}: {value:.2f} µs")
            holds = (holds is not False) and value < 2.0
    for content in (False, True):
        wall = spreads.get(("bridge", content), {}).get("chunk")
        if wall is not None:
            chunk_evidence.append(
                f"whole-process difference ({'on' if content else 'off'}, noise-bound): "
                f"{_cell(wall, 2)} µs"
            )
    out.append(("per stream chunk < 2 µs", "; ".join(chunk_evidence) or "not measured", holds))
    out += _serialisation_target(results)
    out.append(_growth_target(results, spreads, "bridge", False))
    out.append(_growth_target(results, spreads, "pipeline", True))
    return out


def _serialisation_target(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    counts: dict[tuple[str, bool], int] = {}
    for rnd in results.get("rounds", []):
        for run in rnd:
            found = run.get("info", {}).get("content_serialisations")
            if found is not None:
                key = (run["mode"], bool(run["content"]))
                counts[key] = counts.get(key, 0) + found
    out: list[tuple[str, str, bool | None]] = []
    for content, target in (
        (False, "no content serialisation on the app's thread when no destination gets content"),
        (True, "no content serialisation on the app's thread under configure() (content on)"),
    ):
        found = {m: n for (m, c), n in counts.items() if c == content}
        calls = "content-on" if content else "content-off"
        evidence = (
            ", ".join(f"{MODES[m].label}: {n}" for m, n in found.items())
            + f" JSON texts built on the app's thread over all {calls} calls"
            if found
            else "not counted"
        )
        holds = None if not found else all(n == 0 for n in found.values())
        out.append((target, evidence, holds))
    return out


def _growth_target(
    results: dict[str, Any],
    spreads: dict[tuple[str, bool], dict[str, Spread | None]],
    mode: str,
    content: bool,
) -> tuple[str, str, bool | None]:
    who = "instrumentor alone" if mode == "bridge" else "configure()"
    target = (
        f"nothing growing with message size on the app's thread ({who}, "
        f"content {'on' if content else 'off'})"
    )
    instr = {(r["mode"], r["content"]): r for r in valid_instructions(results)}
    run, base = instr.get((mode, content)), instr.get(("baseline", content))
    if run and base:
        small = added(run, base, "plain", "instructions")
        large = added(run, base, "plain_large", "instructions")
        if small is not None and large is not None:
            growth = (large - small) / small if small else 0.0
            return (
                target,
                f"callgrind: added {small / 1000:.0f}k instructions per call with ~400 "
                f"characters of messages, {large / 1000:.0f}k with 32 KiB ({growth:+.0%})",
                abs(growth) < 0.10,
            )
    row = spreads.get((mode, content), {})
    small, large = row.get("plain"), row.get("plain_large")
    if small is None or large is None:
        return (target, "not measured", None)
    return (
        target,
        f"timed: added {_cell(small)} us with ~400 characters, {_cell(large)} us with 32 KiB "
        "(timing noise; run with --instructions for a deterministic figure)",
        None,
    )


def _versions_if_other(results: dict[str, Any]) -> str:
    """The versions the merged instruction counts ran with, where they differ from the run's."""
    first = results["machine"].get("versions", {})
    later = results.get("instructions_versions") or {}
    return ", ".join(f"{k} {v}" for k, v in later.items() if first.get(k) != v)


RATIO_COLUMNS = ("plain", "plain_large", "stream_short", "async")


def ratio_rows(spreads: dict[tuple[str, bool], dict[str, Spread | None]]) -> list[str]:
    """One row per (ours, other, content) both timed; a cell is "-" where the other's median
    added cost is not positive (the machine's noise), never a row left out for it."""
    rows = []
    for mode, who in OURS:
        for other in ("floor", *PEERS):
            for content in (False, True):
                theirs = spreads.get((other, content))
                ours = spreads.get((mode, content))
                if not ours or not theirs or not _timed(ours) or not _timed(theirs):
                    continue  # not run, or a mode counted under callgrind only
                cells = [_x(ratio(ours[c], theirs[c])) for c in RATIO_COLUMNS]
                rows.append(
                    f"| {who} | {MODES[other].label} | {'on' if content else 'off'} | "
                    + " | ".join(cells)
                    + " |"
                )
    return rows


def _timed(columns: dict[str, Spread | None]) -> bool:
    return any(columns.get(c) is not None for c in RATIO_COLUMNS)


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    smoke = results.get("smoke")
    lines = [
        "# Benchmark results" + (" (SMOKE RUN: numbers meaningless)" if smoke else ""),
        "",
        "Written by `python -m benchmarks` (see `benchmarks/README.md`); do not edit by hand.",
        "",
        f"- run: {results.get('started')}, {results.get('elapsed_s')} s; "
        f"{results['profile']['rounds']} round(s), {results['profile']['batches']} batches per "
        "process, each mode in its own process, modes alternated across rounds",
        *(
            [f"- parts run again later and merged (`--add`): {'; '.join(results['added'])}"]
            if results.get("added")
            else []
        ),
        f"- machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, "
        f"{m.get('os')}; shared and noisy (load average {m.get('load_at_start')} at start, "
        f"{m.get('load_at_end')} at end)",
        f"- Python {m.get('python')}; {versions}",
        *(
            [f"- instruction counts merged later measured with: {counted_with}"]
            if (counted_with := _versions_if_other(results))
            else []
        ),
        f"- the pipeline's MLflow destination: {results.get('mlflow')}; its OTLP destination: a "
        "counting OTLP/gRPC receiver in its own process on loopback",
    ]
    for mode, why in (results.get("skipped") or {}).items():
        lines.append(f"- not measured: {MODES[mode].label}: {why}")
    base = baseline_spreads(results)
    lines += [
        "",
        "## Added cost per call (µs of wall time over bare LiteLLM)",
        "",
        "Median over rounds (min..max) of each round's mode minus that round's baseline. Bare "
        f"`litellm.completion` with `mock_response` itself: plain {_cell(base.get('plain'))} µs, "
        f"32 KiB conversation {_cell(base.get('plain_large'))} µs, 2-chunk stream "
        f"{_cell(base.get('stream_short'))} µs, per chunk {_cell(base.get('chunk'))} µs, async "
        f"{_cell(base.get('async'))} µs. The per-chunk cost is the ~130-chunk stream's added "
        "cost less the 2-chunk one's, per extra chunk; LiteLLM's own work per chunk is ~400 µs "
        "here, so the timed per-chunk figure is dominated by noise: see the callgrind section.",
        "",
    ]
    for content in (False, True):
        lines.append(f"### Content capture {'on' if content else 'off'}")
        lines.append("")
        table, _ = _overhead_table(results, content)
        lines += table
        lines.append("")
    spreads = added_spreads(results)
    lines += [
        "## Ratios (medians)",
        "",
        "otel-bridge's added cost (its instrumentor alone, and configure()) divided by the "
        "floor's and by each peer's (below 1: the bridge is lighter). Timed: where the medians "
        "above are within the machine's noise (negative, or min..max spanning zero) these ratios "
        "mean nothing; the callgrind ratios below do not depend on the noise.",
        "",
        "| otel-bridge | against | content | plain | 32 KiB conv. | stream call | async |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    lines += ratio_rows(spreads)
    lines.append("")
    for content in (False, True):
        cpu, _ = _overhead_table(results, content, "cpu_us")
        lines += [
            f"## Added CPU time of the calling thread (µs, content {'on' if content else 'off'})",
            "",
            "The same runs, counting only the application thread's CPU time (less sensitive to "
            "other processes, blind to work moved to background threads, as configure() moves "
            "the content's serialisation).",
            "",
            *cpu,
            "",
        ]
    chunks = results.get("chunks") or {}
    if chunks.get("content_off"):
        lines += [
            "## Per stream chunk, isolated",
            "",
            f"The chunks of one real {chunks['chunks']}-chunk LiteLLM stream, recorded, then fed "
            "through the bridge's stream proxy from a list: (N-chunk stream - 1-chunk stream) / "
            "(N - 1), less the bare iteration, best of 7 repeats (`benchmarks/chunks.py`).",
            "",
            "| content | per chunk µs | whole stream µs | 1-chunk stream µs (span start+end) |",
            "| --- | ---: | ---: | ---: |",
        ]
        for key in ("content_off", "content_on"):
            c = chunks[key]
            lines.append(
                f"| {key.split('_')[1]} | {c['per_chunk_us']:.2f} | {c['stream_us']:.1f} "
                f"| {c['one_chunk_stream_us']:.1f} |"
            )
        lines.append("")
    lines += _instruction_lines(results)
    lines += [
        "## Targets",
        "",
        "What decides the cost targets is the calling thread's cost, where the hot path runs: "
        "its instructions (callgrind) and its CPU time, each ratio of medians used only when "
        "neither side's min..max reaches zero. Wall time is shown too; under configure() it also "
        "carries the export work of the destinations' threads and servers, which share this "
        "machine's two cores with the app at ~1000 calls/s (see Throughput for what they take).",
        "",
        "| target | measured | holds |",
        "| --- | --- | --- |",
    ]
    for target, evidence, holds in targets(results):
        verdict = "n/a" if holds is None else ("yes" if holds else "**no**")
        lines.append(f"| {target} | {evidence} | {verdict} |")
    lines.append("")
    if results.get("throughput"):
        from benchmarks import throughput

        lines += throughput.render(results["throughput"])
    if results.get("startup"):
        from benchmarks import startup

        lines += startup.render(results["startup"])
    elif not smoke:
        lines += ["## Start-up", "", "Not measured in this run: `--add startup` adds it.", ""]
    if results.get("memory"):
        from benchmarks import memory

        lines += memory.render(results["memory"])
    elif not smoke:
        lines += [
            "## Memory over a 2-minute outage",
            "",
            "Not measured in this run (`--memory` not given, or not available yet): the 64 MiB "
            "target is open.",
            "",
        ]
    lines += [
        "## Method",
        "",
        "- Modes: " + "; ".join(f"`{k}`: {v.label}" for k, v in MODES.items()) + ".",
        "- Instrumentors (the bridge's, OpenInference, OpenLLMetry, LiteLLM's `otel` callback) "
        "export into the same provider: one default `BatchSpanProcessor` in front of an exporter "
        "that drops the spans. `mlflow.litellm.autolog()` exports through MLflow's own "
        "processors into a local SQLite store (MLflow's provider takes no other exporter). The "
        "floor is a bare SDK span started before and ended after the same call, carrying the "
        "attributes the bridge's span has for that call (same count, same values).",
        "- The workload: `gpt-4o-mini`, a system and a user message (~300 characters), a "
        "75-character reply; the 32 KiB conversation has 18 messages.",
        "- Each process: import LiteLLM, turn the mode on, warm up, then batches of each "
        "variant, the variants interleaved; its figure per variant is the median batch.",
        "",
    ]
    return "\n".join(lines)
