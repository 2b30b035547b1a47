"""The GenAI client metrics of one proxied call, through the instrumentation's own recorder.

:class:`~otel_bridge.instrumentation.metrics.GenAIMetrics` picks the metric attributes from the
span's attributes (the conventions' ``metric_attributes.gen_ai``: operation, provider, request
and response model, server address and port, ``error.type``), so a proxied call and the same
call made through the SDK record the same histograms with the same attributes. The proxy knows
the call's duration and, for a stream, when its first chunk came (``completion_start_time``);
it never sees the chunks themselves, so it records no ``time_per_output_chunk``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.trace import Span, set_span_in_context

from otel_bridge import attributes as keys
from otel_bridge.attributes import PROXY_SCOPE, SCHEMA_URL
from otel_bridge.instrumentation.errors import record_error
from otel_bridge.instrumentation.metrics import GenAIMetrics, MetricsRecorder
from otel_bridge.proxy.event import ProxyEvent
from otel_bridge.proxy.spans import error_type
from otel_bridge.version import __version__

if TYPE_CHECKING:
    from otel_bridge.pipeline_metrics import MetricsPipeline


def recorder(
    meter_provider: MeterProvider | None, pipeline: MetricsPipeline | None = None
) -> MetricsRecorder:
    """The callback's histograms on the proxy's meter (``meter_provider``, None: the global
    one). With the bridge's metrics ``pipeline`` the callback only queues its values, and the
    pipeline's thread records them, as for the instrumentor under ``configure()``."""
    metrics = GenAIMetrics(
        get_meter(PROXY_SCOPE, __version__, meter_provider, schema_url=SCHEMA_URL)
    )
    return pipeline.handoff_for(metrics) if pipeline is not None else metrics


def record(metrics: MetricsRecorder, event: ProxyEvent, span: Span, attrs: dict[str, Any]) -> None:
    """Record the call whose span is ``span`` with attributes ``attrs``; never raises. The span
    is made current meanwhile, so exemplars point at it, not at what the logging worker runs."""
    try:
        first_chunk = attrs.get(keys.RESPONSE_TIME_TO_FIRST_CHUNK)
        token = otel_context.attach(set_span_in_context(span))
        try:
            metrics.record(
                {},
                attrs,
                (event.end_ns - event.start_ns) / 1e9,
                error_type(event) if event.failed else None,
                first_chunk if isinstance(first_chunk, float) else None,
            )
        finally:
            otel_context.detach(token)
    except Exception:
        record_error("proxy_metrics")
