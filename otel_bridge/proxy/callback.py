"""``OtelBridgeHandler``: the LiteLLM proxy callback (a ``CustomLogger``).

One span per proxied model call, and only one: the handler configures the bridge
(``otel_bridge.configure()``, the same environment as everywhere else) and takes the other span
sources back out of the proxy process (see :mod:`otel_bridge.proxy.lifecycle`). The callback
knows all of it at once when the call is over: the caller's headers, the authenticated key's
identity, the model group, the deployment, the response or the error, and the exact start and
end times.

Hooks (litellm 1.108-1.110, ``litellm_core_utils/litellm_logging.py``): the proxy runs
``async_log_success_event`` once per successful call (a stream: once, with the response LiteLLM
assembled from the chunks) and ``async_log_failure_event`` once per failed attempt (upstream
error, refused connection, timeout, unknown model). The sync ``log_success_event`` is also run
for some async calls, so it is deliberately not implemented: it would count calls twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litellm.integrations.custom_logger import CustomLogger
from opentelemetry import trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Tracer, TracerProvider

from otel_bridge import attributes as keys
from otel_bridge.attributes import SCHEMA_URL
from otel_bridge.instrumentation.content import DEFAULT_MAX_CONTENT_LENGTH
from otel_bridge.instrumentation.errors import record_error
from otel_bridge.instrumentation.metrics import MetricsRecorder
from otel_bridge.proxy import lifecycle
from otel_bridge.proxy import metrics as proxy_metrics
from otel_bridge.proxy.event import read_event
from otel_bridge.proxy.spans import emit_span, span_attributes
from otel_bridge.version import __version__

if TYPE_CHECKING:
    from otel_bridge.pipeline import Bridge

TRACER_NAME = keys.PROXY_SCOPE


class OtelBridgeHandler(CustomLogger):
    """LiteLLM proxy callback: ``litellm_settings: {callbacks: otel_bridge.proxy.handler}``.

    ``OtelBridgeHandler()`` configures the bridge from the environment (once per process) and
    removes the LiteLLM instrumentor; ``OtelBridgeHandler(tracer_provider=...)`` only emits spans
    through the given provider (and the GenAI client metrics through ``meter_provider``, None:
    the global one) and changes nothing else (embedding, tests).
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        *,
        meter_provider: MeterProvider | None = None,
        capture_content: bool | None = None,
        max_content_length: int | None = None,
    ) -> None:
        super().__init__()
        self.max_content_length = int(max_content_length or DEFAULT_MAX_CONTENT_LENGTH)
        self.capture_content = bool(capture_content)
        self.bridge: Bridge | None = None
        self.metrics: MetricsRecorder | None = None
        if tracer_provider is None:
            tracer_provider = self._configure(capture_content)
        else:
            self.metrics = proxy_metrics.recorder(meter_provider)
        self.tracer: Tracer | None = (
            trace.get_tracer(TRACER_NAME, __version__, tracer_provider, schema_url=SCHEMA_URL)
            if tracer_provider is not None
            else None
        )

    def _configure(self, capture_content: bool | None) -> TracerProvider | None:
        import otel_bridge

        bridge = otel_bridge.configure()
        self.bridge = bridge
        if not bridge.enabled:  # OTEL_SDK_DISABLED: the proxy runs untouched
            return None
        if capture_content is None:
            self.capture_content = bridge.settings.content.any
        lifecycle.without_instrumentor()
        lifecycle.without_server_spans()
        lifecycle.register_flush(bridge, bridge.settings.shutdown_timeout)
        # the bridge's metrics pipeline when it has one (it is the global MeterProvider then),
        # else the global one, as for the instrumentor under configure()
        pipeline = bridge.metrics
        self.metrics = proxy_metrics.recorder(
            pipeline.provider if pipeline is not None else None, pipeline
        )
        return bridge.provider

    # -- LiteLLM hooks -----------------------------------------------------------------------

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=False)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=True)

    def _record(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any, *, failed: bool
    ) -> None:
        """Never raises: a tracing problem must not touch the proxy's answer or its logging."""
        tracer = self.tracer
        if tracer is None:
            return
        try:
            event = read_event(kwargs, response_obj, start_time, end_time, failed=failed)
            if event is None:
                return
            name, attrs = span_attributes(event, self.capture_content, self.max_content_length)
            span = emit_span(tracer, event, name, attrs)
            if self.metrics is not None:  # a sampled-out span still counts
                proxy_metrics.record(self.metrics, event, span, attrs)
        except Exception:
            record_error("proxy_callback")
