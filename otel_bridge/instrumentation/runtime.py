"""What ``LiteLLMInstrumentor.instrument()`` chose, for the ``trace`` decorator to follow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.trace import TracerProvider

if TYPE_CHECKING:
    from otel_bridge.instrumentation.metrics import MetricsRecorder

tracer_provider: TracerProvider | None = None
"""The provider passed to ``instrument()``; None means the global one."""

capture_content: bool | None = None
"""The instrumentor's content switch; None when not instrumented (then the environment decides)."""

max_content_length: int | None = None

metrics: MetricsRecorder | None = None
"""Where the instrumentor's calls hand their metric values; None when not instrumented."""
