"""The bridge's cost per stream chunk, isolated: real LiteLLM chunks through its stream proxy.

    python -m benchmarks.chunks        (prints one JSON line)

LiteLLM's mock stream spends ~400 µs of its own per chunk, so a 1-2 µs difference between whole
processes drowns in the noise. Here the chunks of one real ``completion(stream=True)`` are
recorded, then fed through ``StreamProxy`` (the object an instrumented call returns) from a plain
list iterator: the proxy's cost per chunk = (N-chunk stream - 1-chunk stream) / (N - 1), less the
bare iteration, the best of several repeats (noise only ever adds).
"""

from __future__ import annotations

import json
import os
import sys
import timeit
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def measure(repeats: int = 7, number: int = 200) -> dict[str, Any]:
    import litellm

    from benchmarks.modes import dropping_provider
    from benchmarks.workload import call_kwargs
    from otel_bridge.instrumentation.calls import Settings, start_call
    from otel_bridge.instrumentation.operations import OPERATIONS
    from otel_bridge.instrumentation.streaming import wrap_stream

    kwargs = call_kwargs("stream_long")
    chunks = list(litellm.completion(**kwargs))
    tracer = dropping_provider().get_tracer("benchmarks.chunks")
    [completion] = [op for op in OPERATIONS if op.name == "completion"]
    out: dict[str, Any] = {"chunks": len(chunks)}
    for capture in (False, True):
        settings = Settings(tracer, capture)

        def stream(items: list[Any], settings: Settings = settings) -> None:
            call = start_call(completion, settings, (), kwargs)
            for _ in wrap_stream(call, iter(items)):
                pass

        def bare(items: list[Any] = chunks) -> None:
            for _ in iter(items):
                pass

        best = {}
        for name, fn in (
            ("long", lambda: stream(chunks)),
            ("one", lambda: stream(chunks[:1])),
            ("bare", bare),
        ):
            best[name] = min(timeit.repeat(fn, number=number, repeat=repeats)) / number
        extra = len(chunks) - 1
        per_chunk = (best["long"] - best["one"] - best["bare"] * extra / len(chunks)) / extra
        out["content_on" if capture else "content_off"] = {
            "per_chunk_us": per_chunk * 1e6,
            "stream_us": best["long"] * 1e6,
            "one_chunk_stream_us": best["one"] * 1e6,
        }
    return out


if __name__ == "__main__":
    sys.stdout.write("\n" + json.dumps(measure()) + "\n")
