"""What ``LiteLLMInstrumentor.instrument()`` chose, for the ``trace`` decorator to follow."""

from __future__ import annotations

from opentelemetry.trace import TracerProvider

tracer_provider: TracerProvider | None = None
"""The provider passed to ``instrument()``; None means the global one."""

capture_content: bool | None = None
"""The instrumentor's content switch; None when not instrumented (then the environment decides)."""

max_content_length: int | None = None
