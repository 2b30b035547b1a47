"""The bridge's one span processor on the tracer provider.

The SDK calls every processor of a provider at each span's start, ending and end, on the app's
thread. The bridge's parts (the content binder, one processor per destination, the MLflow run
link) registered one by one cost four calls of each per span; this processor makes one pass
instead: the sampled check once, the content bound, the span queued to each destination.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor


class PipelineProcessor(SpanProcessor):
    """``bind`` moves a finished span's deferred content onto it, each of ``receivers`` queues a
    sampled span for its destination, ``on_start`` (the MLflow run link) sees each started
    span. The provider's flush and shutdown are the bridge's (every destination in parallel,
    bounded): ``flush`` takes milliseconds."""

    def __init__(
        self,
        receivers: Sequence[Callable[[ReadableSpan], None]],
        flush: Callable[[int], bool],
        shutdown: Callable[[], object],
        bind: Callable[[ReadableSpan], None] | None = None,
        on_start: Callable[[Span, Context | None], None] | None = None,
    ) -> None:
        self._receivers = tuple(receivers)
        self._flush = flush
        self._shutdown = shutdown
        self._bind = bind
        self._on_start = on_start

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._on_start is not None:
            self._on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or not context.trace_flags.sampled:
            return
        if self._bind is not None:
            self._bind(span)
        for receive in self._receivers:
            receive(span)

    def shutdown(self) -> None:
        self._shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._flush(timeout_millis)
