"""otel-bridge: LiteLLM calls as OpenTelemetry GenAI spans, in an OTLP backend and in MLflow.

import otel_bridge
bridge = otel_bridge.configure()   # reads the standard OTEL_* and MLFLOW_* variables
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otel_bridge.config import ConfigError

if TYPE_CHECKING:
    from otel_bridge.instrumentation.decorator import trace
    from otel_bridge.pipeline import Bridge, configure

__all__ = ["Bridge", "ConfigError", "configure", "trace"]
__version__ = "0.1.0"

# Loaded on first use: `otel-bridge run` and `doctor` import this package without the pipeline.
_LAZY = {
    "Bridge": "otel_bridge.pipeline",
    "configure": "otel_bridge.pipeline",
    "trace": "otel_bridge.instrumentation.decorator",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
