"""otel-bridge: LiteLLM calls as OpenTelemetry GenAI spans, in an OTLP backend and in MLflow.

import otel_bridge
bridge = otel_bridge.configure()   # reads the standard OTEL_* and MLFLOW_* variables

The names below are loaded on first use: importing ``otel_bridge`` (or only its
instrumentation) loads no SDK, exporter or MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_bridge.version import __version__

if TYPE_CHECKING:
    from otel_bridge.errors import ConfigError
    from otel_bridge.instrumentation.decorator import trace
    from otel_bridge.pipeline import Bridge, configure

__all__ = ["Bridge", "ConfigError", "__version__", "configure", "trace"]

_HOMES = {
    "Bridge": "otel_bridge.pipeline",
    "configure": "otel_bridge.pipeline",
    "ConfigError": "otel_bridge.errors",
    "trace": "otel_bridge.instrumentation.decorator",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'otel_bridge' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
