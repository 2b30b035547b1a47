"""LiteLLM calls as OpenTelemetry GenAI spans (speaks only the OpenTelemetry API).

Public API: ``LiteLLMInstrumentor``, ``trace`` (decorator / context manager for the
application's own steps), ``instrumentation_errors()``.
"""

from __future__ import annotations

from otel_bridge.instrumentation.decorator import trace
from otel_bridge.instrumentation.errors import (
    instrumentation_error_counts,
    instrumentation_errors,
)
from otel_bridge.instrumentation.instrumentor import LiteLLMInstrumentor

__all__ = [
    "LiteLLMInstrumentor",
    "instrumentation_error_counts",
    "instrumentation_errors",
    "trace",
]
