"""One mode in one process: set it up, warm up, time batches of calls, print one JSON line.

    python -m benchmarks.worker '{"mode": "bridge", "content": false, ...}'

Timing: every variant runs in ``batches`` batches, the variants interleaved; a batch's cost per
call is its wall time (and the calling thread's CPU time) over its calls; the process reports
the median batch. Under callgrind (``"instructions": true``) each variant's calls run inside
``functools.reduce``, which the harness tells callgrind to collect and dump on leaving: one dump
per variant, its instruction count over the calls.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


def _callers(floor: dict[str, Any] | None, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    """variant -> run(n): makes n calls of that variant, streams consumed to the end."""
    import litellm
    from opentelemetry.trace import SpanKind

    from benchmarks.workload import VARIANTS, call_kwargs

    completion = litellm.completion
    acompletion = litellm.acompletion
    tracer = floor["_tracer"] if floor else None
    callers: dict[str, Callable[[int], int]] = {}
    for variant in VARIANTS:
        kwargs = call_kwargs(variant)
        recipe = floor[variant] if floor else None
        if variant == "async":

            async def many(n: int, kwargs: dict[str, Any] = kwargs, recipe: Any = recipe) -> int:
                for _ in range(n):
                    if recipe is None:
                        await acompletion(**kwargs)
                    else:
                        span = tracer.start_span(
                            recipe.name, kind=SpanKind.CLIENT, attributes=recipe.attributes
                        )
                        await acompletion(**kwargs)
                        span.end()
                return 0

            callers[variant] = lambda n, many=many: loop.run_until_complete(many(n))
        elif kwargs.get("stream"):

            def run(n: int, kwargs: dict[str, Any] = kwargs, recipe: Any = recipe) -> int:
                chunks = 0
                for _ in range(n):
                    span = (
                        tracer.start_span(
                            recipe.name, kind=SpanKind.CLIENT, attributes=recipe.attributes
                        )
                        if recipe is not None
                        else None
                    )
                    for _chunk in completion(**kwargs):
                        chunks += 1
                    if span is not None:
                        span.end()
                return chunks

            callers[variant] = run
        else:

            def run(n: int, kwargs: dict[str, Any] = kwargs, recipe: Any = recipe) -> int:
                for _ in range(n):
                    if recipe is None:
                        completion(**kwargs)
                    else:
                        span = tracer.start_span(
                            recipe.name, kind=SpanKind.CLIENT, attributes=recipe.attributes
                        )
                        completion(**kwargs)
                        span.end()
                return 0

            callers[variant] = run
    return callers


def _timed(callers: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, int] = spec["calls"]
    variants = [v for v in spec["variants"] if counts.get(v)]
    samples: dict[str, dict[str, list[float]]] = {
        v: {"wall_us": [], "cpu_us": [], "process_cpu_us": []} for v in variants
    }
    chunks: dict[str, float] = {}
    perf, thread_time, process_time = (
        time.perf_counter_ns,
        time.thread_time_ns,
        time.process_time_ns,
    )
    for batch in range(spec["batches"]):
        shift = batch % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            n = counts[variant]
            w0, c0, p0 = perf(), thread_time(), process_time()
            seen = callers[variant](n)
            w1, c1, p1 = perf(), thread_time(), process_time()
            s = samples[variant]
            s["wall_us"].append((w1 - w0) / n / 1000)
            s["cpu_us"].append((c1 - c0) / n / 1000)
            s["process_cpu_us"].append((p1 - p0) / n / 1000)
            if seen:
                chunks[variant] = seen / n
    result: dict[str, Any] = {}
    for variant, s in samples.items():
        result[variant] = {key: statistics.median(values) for key, values in s.items()}
        result[variant]["batches"] = len(s["wall_us"])
        if variant in chunks:
            result[variant]["chunks"] = chunks[variant]
    return result


def _instructions(callers: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Each variant's calls inside one functools.reduce: callgrind dumps on leaving it."""
    counts: dict[str, int] = spec["calls"]
    result: dict[str, Any] = {}
    for variant in spec["variants"]:
        n = counts.get(variant)
        if not n:
            continue
        caller = callers[variant]
        seen = functools.reduce(lambda acc, _, caller=caller: acc + caller(1), range(n), 0)
        result[variant] = {"calls": n}
        if seen:
            result[variant]["chunks"] = seen / n
    return result


def _count_serialisation() -> list[int]:
    """Count the content serialisations the calling thread makes (every content JSON text goes
    through ``content._dumps``): with no destination receiving content there must be none, and
    under ``configure()`` the destinations' workers make them, not the app's thread."""
    import threading

    from otel_bridge.instrumentation import content

    count = [0]
    original = content._dumps
    app_thread = threading.get_ident()

    def counting(value: Any) -> str:
        if threading.get_ident() == app_thread:
            count[0] += 1
        return original(value)

    content._dumps = counting
    return count


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what LiteLLM left running on the loop (its logging worker) and close it: a loop
    left open with a pending task can crash CPython 3.11 at exit, while finalising modules."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def main(argv: list[str] | None = None) -> int:
    spec = json.loads((argv or sys.argv[1:])[0])
    for key, value in spec.get("environ", {}).items():
        os.environ[key] = value
    os.chdir(spec["workdir"])
    started = time.perf_counter()
    import litellm  # noqa: F401  (imported before the mode: as an application would)

    from benchmarks.modes import setup

    finish, floor = setup(spec["mode"], bool(spec["content"]), spec)
    counted = spec["mode"] == "pipeline" or (spec["mode"] == "bridge" and not spec["content"])
    serialised = _count_serialisation() if counted else None
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    callers = _callers(floor, loop)
    for variant in spec["variants"]:
        warm = spec["warmup"].get(variant, 0)
        if warm:
            callers[variant](warm)
    gc.collect()
    ready = time.perf_counter()
    measure = _instructions if spec.get("instructions") else _timed
    result = measure(callers, spec)
    measured = time.perf_counter() - ready
    info = finish()
    if serialised is not None:
        info["content_serialisations"] = serialised[0]
    _close(loop)
    out = {
        "mode": spec["mode"],
        "content": bool(spec["content"]),
        "variants": result,
        "info": info,
        "setup_s": round(ready - started, 2),
        "measured_s": round(measured, 2),
        "python": sys.version.split()[0],
    }
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
