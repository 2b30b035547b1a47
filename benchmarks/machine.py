"""What the numbers were measured on: machine, Python, package versions, load."""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

PACKAGES = (
    "litellm",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-grpc",
    "mlflow",
    "wrapt",
    "openinference-instrumentation-litellm",
    "opentelemetry-instrumentation-litellm",
    "opentelemetry-util-genai",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def versions(python: str) -> dict[str, str]:
    """Package versions as the worker's interpreter sees them."""
    code = (
        "import importlib.metadata as m, json\n"
        f"names = {list(PACKAGES)!r}\n"
        "out = {}\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except Exception: pass\n"
        "print(json.dumps(out))\n"
    )
    try:
        import json

        done = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        return json.loads(done.stdout.strip().splitlines()[-1])
    except Exception:
        return {}


def describe(python: str) -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_at_start": [round(x, 2) for x in load] if load else None,
        "versions": versions(python),
    }
