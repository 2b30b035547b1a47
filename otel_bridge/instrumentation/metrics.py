"""The GenAI client metrics of a call, through the OpenTelemetry metrics API only.

``gen_ai.client.operation.duration`` (every call), ``gen_ai.client.token.usage`` (input and
output tokens of a call that succeeded and reported them), and for streams
``gen_ai.client.operation.time_to_first_chunk`` and ``..time_per_output_chunk`` (one value per
chunk after the first, recorded when the stream ends: the chunk loop only notes a timestamp).
Buckets and attributes as semantic-conventions-genai's ``gen-ai-metrics.md`` advises; the
conventions say failed operations record no token usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.metrics import Meter
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics

from otel_bridge import attributes as keys

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


class GenAIMetrics:
    """The four client histograms on one meter."""

    __slots__ = ("duration", "time_per_output_chunk", "time_to_first_chunk", "token_usage")

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

    def record(
        self,
        start: dict[str, Any],
        end: dict[str, Any],
        duration_s: float,
        error_type: str | None = None,
        first_chunk_s: float | None = None,
        chunk_gaps: Sequence[float] = (),
    ) -> None:
        """Record one finished call: ``start``/``end`` are its span's start and end attributes."""
        attrs: dict[str, Any] = {}
        for key in _SHARED:
            value = end.get(key)
            if value is None:
                value = start.get(key)
            if value is not None:
                attrs[key] = value
        if error_type is not None:
            attrs[keys.ERROR_TYPE] = error_type
        self.duration.record(max(duration_s, 0.0), attrs)
        if first_chunk_s is not None:
            streamed = {k: v for k, v in attrs.items() if k != keys.ERROR_TYPE}
            self.time_to_first_chunk.record(max(first_chunk_s, 0.0), streamed)
            for gap in chunk_gaps:
                self.time_per_output_chunk.record(gap, streamed)
        if error_type is not None:
            return
        inp = end.get(keys.USAGE_INPUT_TOKENS)
        if isinstance(inp, int):
            self.token_usage.record(inp, {**attrs, **_INPUT})
        out = end.get(keys.USAGE_OUTPUT_TOKENS)
        if isinstance(out, int):
            self.token_usage.record(out, {**attrs, **_OUTPUT})
