"""The MLflow destination: one exporter class, two transports (server or local store).

Importing this package costs nothing: ``otel-bridge run`` checks the server with
:mod:`.experiments` alone, and the exporter (the OpenTelemetry SDK, the OTLP encoder) loads on
first use of a name below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .exporter import MlflowSpanExporter, rooted_here

__all__ = ["MlflowSpanExporter", "rooted_here"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import exporter

        return getattr(exporter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
