"""The GenAI client metrics of a call, through the OpenTelemetry metrics API only.

``gen_ai.client.operation.duration`` (every call), ``gen_ai.client.token.usage`` (input and
output tokens of a call that succeeded and reported them), and for streams
``gen_ai.client.operation.time_to_first_chunk`` and ``..time_per_output_chunk`` (one value per
chunk after the first, recorded when the stream ends: the chunk loop only notes the interval in
ns, converted to seconds where the values are recorded).
Buckets and attributes as semantic-conventions-genai's ``gen-ai-metrics.md`` advises; the
conventions say failed operations record no token usage. ``trace`` AGENT and TOOL steps record
the conventions' own ``gen_ai.invoke_agent.duration`` / ``gen_ai.execute_tool.duration`` instead
(``gen_ai.client.operation.duration`` is for provider-facing client operations).

Recording a call's three values (duration, input and output tokens) through SDK 1.45 costs
~340k instructions on the calling thread, more than the call's span (~200k bare): the SDK
cleans, copies and hashes the attributes again on every ``record``, whatever the caller reuses.
So under ``otel_bridge.configure()`` the call only queues its values in a
:class:`MetricsHandoff` (~3k instructions) and the pipeline records them on its own thread; used
alone (as contrib instrumentors are) the instrumentation records on the spot. Figures:
``otel_bridge/instrumentation/README.md`` (Metrics).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.metrics import Meter
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics

from otel_bridge import attributes as keys
from otel_bridge.deferred_content import DeferredAttributes
from otel_bridge.instrumentation.errors import record_error

DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
TOKEN_BUCKETS = tuple(4**n for n in range(14))  # 1, 4, 16, ... 67108864
AGENT_BUCKETS = tuple(round(0.1 * 2**n, 1) for n in range(13))  # 0.1, 0.2, ... 409.6

# Not in the semconv package yet (semantic-conventions-genai #201, #322).
INVOKE_AGENT_DURATION = "gen_ai.invoke_agent.duration"
EXECUTE_TOOL_DURATION = "gen_ai.execute_tool.duration"

# Span attributes that are metric attributes too (the conventions' metric_attributes.gen_ai).
_SHARED = (
    keys.OPERATION_NAME,
    keys.PROVIDER_NAME,
    keys.REQUEST_MODEL,
    keys.RESPONSE_MODEL,
    keys.SERVER_ADDRESS,
    keys.SERVER_PORT,
)
_INPUT = {keys.TOKEN_TYPE: "input"}
_OUTPUT = {keys.TOKEN_TYPE: "output"}
# The attributes of the agent and tool durations (no operation name, no provider).
_AGENT = (keys.AGENT_NAME, keys.REQUEST_MODEL)
_TOOL = (keys.TOOL_NAME, keys.TOOL_TYPE, keys.AGENT_NAME)


class GenAIMetrics:
    """The four client histograms, and the agent and tool durations, on one meter."""

    __slots__ = (
        "duration",
        "execute_tool_duration",
        "invoke_agent_duration",
        "time_per_output_chunk",
        "time_to_first_chunk",
        "token_usage",
    )

    def __init__(self, meter: Meter) -> None:
        def histogram(name: str, unit: str, description: str, buckets: Sequence[float]) -> Any:
            return meter.create_histogram(
                name,
                unit=unit,
                description=description,
                explicit_bucket_boundaries_advisory=list(buckets),
            )

        self.duration = histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
            "s",
            "GenAI operation duration.",
            DURATION_BUCKETS,
        )
        self.token_usage = histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
            "{token}",
            "Number of input and output tokens used.",
            TOKEN_BUCKETS,
        )
        self.time_to_first_chunk = histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            "s",
            "Time to receive the first chunk of a streamed response.",
            DURATION_BUCKETS,
        )
        self.time_per_output_chunk = histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
            "s",
            "Time per output chunk after the first one.",
            DURATION_BUCKETS,
        )
        self.invoke_agent_duration = histogram(
            INVOKE_AGENT_DURATION,
            "s",
            "The end-to-end duration of a single agent invocation.",
            AGENT_BUCKETS,
        )
        self.execute_tool_duration = histogram(
            EXECUTE_TOOL_DURATION, "s", "The duration of a single tool execution.", DURATION_BUCKETS
        )

    def record(
        self,
        start: dict[str, Any],
        end: dict[str, Any],
        duration_s: float,
        error_type: str | None = None,
        first_chunk_s: float | None = None,
        chunk_gaps_ns: Sequence[int] = (),
        context: Context | None = None,
        usage: DeferredAttributes | None = None,
    ) -> None:
        """Record one finished call: ``start``/``end`` are its span's start and end attributes;
        ``chunk_gaps_ns`` a stream's intervals between chunks, in ns (converted here, so a
        hand-off carries the list as it is); ``context`` the one current when it ended
        (default: the current one), for exemplars; ``usage`` a stream's token counts not made
        yet (made here, or reused if a destination made them first). An ``invoke_agent`` or
        ``execute_tool`` step records its own duration histogram only."""
        operation = start.get(keys.OPERATION_NAME)
        if operation == "invoke_agent" or operation == "execute_tool":
            self._record_step(operation, start, duration_s, error_type, context)
            return
        attrs: dict[str, Any] = {}
        for key in _SHARED:
            value = end.get(key)
            if value is None:
                value = start.get(key)
            if value is not None:
                attrs[key] = value
        if error_type is not None:
            attrs[keys.ERROR_TYPE] = error_type
        self.duration.record(max(duration_s, 0.0), attrs, context)
        if first_chunk_s is not None:
            streamed = {k: v for k, v in attrs.items() if k != keys.ERROR_TYPE}
            self.time_to_first_chunk.record(max(first_chunk_s, 0.0), streamed, context)
            per_chunk = self.time_per_output_chunk.record
            for gap_ns in chunk_gaps_ns:
                per_chunk(gap_ns / 1e9, streamed, context)
        if error_type is not None:
            return
        if usage is not None:
            end = {**end, **usage.attributes()}
        inp = end.get(keys.USAGE_INPUT_TOKENS)
        if isinstance(inp, int):
            self.token_usage.record(inp, {**attrs, **_INPUT}, context)
        out = end.get(keys.USAGE_OUTPUT_TOKENS)
        if isinstance(out, int):
            self.token_usage.record(out, {**attrs, **_OUTPUT}, context)

    def _record_step(
        self,
        operation: str,
        start: dict[str, Any],
        duration_s: float,
        error_type: str | None,
        context: Context | None,
    ) -> None:
        agent = operation == "invoke_agent"
        attrs = {key: start[key] for key in (_AGENT if agent else _TOOL) if key in start}
        if error_type is not None:
            attrs[keys.ERROR_TYPE] = error_type
        histogram = self.invoke_agent_duration if agent else self.execute_tool_duration
        histogram.record(max(duration_s, 0.0), attrs, context)


_get_current = otel_context.get_current


class MetricsHandoff:
    """A stand-in for :class:`GenAIMetrics` that only queues a call's values (references to its
    attribute dicts, its timings, the current context, a stream's usage not counted yet: ~1 µs
    on the app's thread); :meth:`drain`, called by the bridge's metrics pipeline on its own
    thread, records them through ``metrics`` (counting that usage, unless a destination's
    worker did first).

    At most ``max_pending`` calls wait (then new ones are counted in ``dropped``): a drainer
    starved for that long must not grow the app's memory."""

    __slots__ = ("_pending", "dropped", "max_pending", "metrics")

    def __init__(self, max_pending: int = 65536) -> None:
        self._pending: deque[tuple[Any, ...]] = deque()
        self.max_pending = max_pending
        self.metrics: GenAIMetrics | None = None  # set by LiteLLMInstrumentor.instrument()
        self.dropped = 0

    def record(
        self,
        start: dict[str, Any],
        end: dict[str, Any],
        duration_s: float,
        error_type: str | None = None,
        first_chunk_s: float | None = None,
        chunk_gaps_ns: Sequence[int] = (),
        usage: DeferredAttributes | None = None,
    ) -> None:
        pending = self._pending
        if len(pending) >= self.max_pending:
            self.dropped += 1
            return
        pending.append(
            (
                start,
                end,
                duration_s,
                error_type,
                first_chunk_s,
                chunk_gaps_ns,
                _get_current(),
                usage,
            )
        )

    def drain(self) -> int:
        """Record every queued call on the calling thread; returns how many."""
        metrics, popleft = self.metrics, self._pending.popleft
        done = 0
        while True:
            try:
                item = popleft()
            except IndexError:
                return done
            done += 1
            if metrics is None:
                continue
            try:
                metrics.record(*item)
            except Exception:
                record_error("metrics")

    def clear(self) -> None:
        """Forget what is queued (a forked child: its parent records those)."""
        self._pending.clear()


MetricsRecorder = GenAIMetrics | MetricsHandoff
"""What a call hands its metric values to when it ends."""
