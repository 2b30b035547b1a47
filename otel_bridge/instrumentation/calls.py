"""One instrumented LiteLLM call: its span, from start to the end of the response or stream."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from otel_bridge import attributes as keys
from otel_bridge.deferred_content import ContentRegistry, DeferredAttributes, PendingContent
from otel_bridge.instrumentation.agents import note_provider
from otel_bridge.instrumentation.content import DEFAULT_MAX_CONTENT_LENGTH, to_json
from otel_bridge.instrumentation.errors import record_error
from otel_bridge.instrumentation.exceptions import record_exception
from otel_bridge.instrumentation.fields import field
from otel_bridge.instrumentation.metrics import MetricsRecorder
from otel_bridge.instrumentation.operations import OPERATION_NAMES, Operation
from otel_bridge.instrumentation.providers import resolve_model
from otel_bridge.instrumentation.request import (
    Request,
    bound,
    set_provider,
    set_server,
    start_attributes,
)
from otel_bridge.instrumentation.response import (
    hidden_params,
    response_attributes,
    usage_attributes,
)
from otel_bridge.instrumentation.router import start_attributes as router_start_attributes
from otel_bridge.redaction import call_secrets, redact_url

_MAX_ATTEMPTS_KEPT = 8

ACTIVE_CALL: ContextVar[LLMCall | None] = ContextVar("otel_bridge_litellm_call", default=None)
"""The instrumented call in progress in this context: a call made while one is active (LiteLLM
calling itself, a Router calling ``litellm.acompletion``) opens no second span."""


class Settings:
    """What the wrappers need, fixed at ``instrument()`` time. With a ``registry`` (the bridge's
    pipeline) captured content is serialised, and a stream's missing usage counted, by the
    pipeline's threads, not by the call."""

    __slots__ = ("capture", "enabled", "max_length", "metrics", "registry", "serialise", "tracer")

    def __init__(
        self,
        tracer: Tracer,
        capture: bool,
        max_length: int = DEFAULT_MAX_CONTENT_LENGTH,
        registry: ContentRegistry | None = None,
        metrics: MetricsRecorder | None = None,
    ) -> None:
        self.tracer = tracer
        self.metrics = metrics
        self.capture = capture
        self.max_length = max_length
        self.registry = registry
        self.serialise = functools.partial(to_json, max_length=max_length)
        self.enabled = True  # False after uninstrument(): a wrapper left in place passes through


class LLMCall:
    __slots__ = (
        "attempts",
        "deployment",
        "kind",
        "kwargs",
        "pending",
        "recording",
        "request",
        "router",
        "settings",
        "span",
        "start_attrs",
        "start_ns",
        "usage_estimate",
    )

    def __init__(
        self,
        span: trace.Span,
        kind: str,
        request: Request,
        settings: Settings,
        start_ns: int,
        router: bool,
        kwargs: dict[str, Any] | None = None,
        pending: PendingContent | None = None,
        start_attrs: dict[str, Any] | None = None,
    ) -> None:
        self.span = span
        self.start_attrs = start_attrs if start_attrs is not None else {}
        self.pending = pending
        self.kind = kind
        self.request = request
        self.settings = settings
        self.start_ns = start_ns
        self.router = router
        self.deployment: tuple[str, Any, Any] | None = None
        # The call's arguments and a Router's per-deployment ones: only read if the call fails,
        # for the credentials to mask in the exception's text.
        self.kwargs = kwargs
        self.attempts: list[dict[str, Any]] | None = None
        # A stream's usage to count off the app's thread (under the bridge's pipeline).
        self.usage_estimate: DeferredAttributes | None = None
        # A span that is not recorded (sampled out, SDK disabled) gets no further work.
        self.recording = span.is_recording()

    # -- nested calls ---------------------------------------------------------------------------

    def nested(self, op: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """A LiteLLM call made inside this one: for a Router call, the deployment it tries."""
        if not self.router:
            return
        attempts = self.attempts
        if attempts is None:
            attempts = self.attempts = []
        if len(attempts) < _MAX_ATTEMPTS_KEPT:
            attempts.append(kwargs)
        try:
            model = bound(op, args, kwargs, "model")
            if isinstance(model, str):
                self.deployment = (
                    model,
                    kwargs.get("api_base"),
                    kwargs.get("custom_llm_provider"),
                )
        except Exception:
            record_error("router_deployment")

    # -- ending ---------------------------------------------------------------------------------

    def _common(self, attrs: dict[str, Any], hidden: dict[str, Any] | None) -> None:
        request = self.request
        if self.deployment is not None:
            model, api_base, custom = self.deployment
            resolved, litellm_provider = resolve_model(model, custom)
            attrs[keys.LITELLM_MODEL_GROUP] = request.model
            attrs[keys.REQUEST_MODEL] = resolved
            if litellm_provider:
                set_provider(attrs, litellm_provider)
            if isinstance(api_base, str) and api_base:
                attrs[keys.LITELLM_API_BASE] = redact_url(api_base)
                set_server(attrs, api_base, litellm_provider)
            self.span.update_name(f"{OPERATION_NAMES[self.kind]} {resolved}")
        if not hidden:
            return
        if keys.LITELLM_RESPONSE_COST not in attrs:
            cost = hidden.get("response_cost")
            # 0.0 with no usage seen (a stream without include_usage) means "unknown"
            if (
                isinstance(cost, (int, float))
                and not isinstance(cost, bool)
                and (cost > 0 or keys.USAGE_INPUT_TOKENS in attrs)
                # LiteLLM priced no tokens when they had to be estimated
                and not attrs.get(keys.LITELLM_USAGE_ESTIMATED)
                and self.usage_estimate is None
            ):
                attrs[keys.LITELLM_RESPONSE_COST] = float(cost)
        if request.litellm_provider is None and self.deployment is None:
            custom = hidden.get("custom_llm_provider")
            if isinstance(custom, str) and custom:
                set_provider(attrs, custom)
        deployment_base = self.deployment[1] if self.deployment is not None else None
        if not request.server_known and not deployment_base:
            api_base = hidden.get("api_base")
            if isinstance(api_base, str) and api_base:
                set_server(attrs, api_base, None)
        if self.router:
            model_id = hidden.get("model_id")
            if isinstance(model_id, str) and model_id:
                attrs[keys.LITELLM_MODEL_ID] = model_id

    def estimate_usage(self, attrs: dict[str, Any], estimate: DeferredAttributes | None) -> None:
        """A stream's usage counted with LiteLLM's tokenizer: into ``attrs`` now (the
        instrumentor alone), or later by the pipeline's threads, for every destination and for
        the token-usage metric."""
        if estimate is None:
            return
        if self.settings.registry is None:
            attrs.update(estimate.attributes())
        else:
            self.usage_estimate = estimate

    def end_with_response(self, response: Any, record_metrics: bool = True) -> None:
        if not self.recording:
            if record_metrics and self.settings.metrics is not None:  # sampled out still counts
                attrs: dict[str, Any] = {}
                try:
                    usage_attributes(attrs, field(response, "usage"), self.kind)
                except Exception:
                    record_error("response_attributes")
                self.record_metrics(attrs)
            self._end()
            return
        attrs = {}
        try:
            settings = self.settings
            attrs = response_attributes(
                self.kind, response, settings.capture, settings.max_length, self.pending
            )
            self._common(attrs, hidden_params(response))
            self.span.set_attributes(attrs)
        except Exception:
            record_error("response_attributes")
        if record_metrics:
            self.record_metrics(attrs)
        self._end()

    def end_with_attributes(
        self,
        attrs: dict[str, Any],
        hidden: dict[str, Any] | None = None,
        first_chunk_s: float | None = None,
        chunk_gaps_ns: Sequence[int] = (),
    ) -> None:
        """End with attributes aggregated elsewhere (a stream) and LiteLLM's hidden params."""
        try:
            self._common(attrs, hidden)
            self.span.set_attributes(attrs)
        except Exception:
            record_error("stream_attributes")
        self.record_metrics(attrs, None, first_chunk_s, chunk_gaps_ns)
        self._end()

    def record_metrics(
        self,
        attrs: dict[str, Any],
        error_type: str | None = None,
        first_chunk_s: float | None = None,
        chunk_gaps_ns: Sequence[int] = (),
    ) -> None:
        metrics = self.settings.metrics
        if metrics is None:
            return
        try:
            duration = (time.time_ns() - self.start_ns) / 1e9
            metrics.record(
                self.start_attrs,
                attrs,
                duration,
                error_type,
                first_chunk_s,
                chunk_gaps_ns,
                usage=self.usage_estimate,
            )
        except Exception:
            record_error("metrics")

    def end_with_error(
        self,
        exc: BaseException,
        attrs: dict[str, Any] | None = None,
        error_type: str | None = None,
        first_chunk_s: float | None = None,
    ) -> None:
        """End as failed; ``error_type`` overrides the exception's class name (``_OTHER``)."""
        error_type = error_type or type(exc).__qualname__
        if not self.recording:
            self.record_metrics({}, error_type)
            self._end()
            return
        try:
            attrs = dict(attrs) if attrs else {}
            attrs[keys.ERROR_TYPE] = error_type
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and not isinstance(status, bool):
                attrs[keys.HTTP_RESPONSE_STATUS_CODE] = status
            self._common(attrs, None)
            span = self.span
            span.set_attributes(attrs)
        except Exception:
            record_error("error_attributes")
            attrs = attrs or {}
        self.record_metrics(attrs, error_type, first_chunk_s)
        try:
            record_exception(self.span, exc, self.secrets())
        except Exception:
            record_error("error_exception")
            with contextlib.suppress(Exception):  # at least the status, without the text
                self.span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
        self._end()

    def secrets(self) -> set[str]:
        """The credentials passed to this call (and to a Router's deployments)."""
        found: set[str] = set()
        for kwargs in (self.kwargs, *(self.attempts or ())):
            if isinstance(kwargs, dict):
                found |= call_secrets(kwargs)
        return found

    def _end(self) -> None:
        try:
            pending, registry = self.pending, self.settings.registry
            if self.usage_estimate is not None:
                if pending is None:
                    pending = PendingContent(self.settings.serialise)
                pending.usage = self.usage_estimate
            if (
                pending is not None
                and (pending.items or pending.usage is not None)
                and registry is not None
                and self.recording
            ):
                pending.secrets = self.secrets  # read off the app's thread, with the content
                registry.put(self.span.get_span_context().span_id, pending)
            self.span.end()
        except Exception:
            record_error("span_end")


def start_call(
    op: Operation,
    settings: Settings,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    router: bool = False,
    instance: Any = None,
) -> LLMCall | None:
    """Open the span of a call (``instance``: the Router of a Router call); None (and the call
    goes on untraced) if that fails."""
    try:
        # where the call's content goes: None to serialise it on the spot
        pending = (
            PendingContent(settings.serialise)
            if settings.capture and settings.registry is not None
            else None
        )
        attrs, request = start_attributes(
            op, args, kwargs, settings.capture, settings.max_length, router, pending
        )
        if router and instance is not None and request.model:
            router_start_attributes(attrs, instance, request.model)
        note_provider(attrs.get(keys.PROVIDER_NAME))
        start_ns = time.time_ns()
        span = settings.tracer.start_span(
            request.span_name, kind=SpanKind.CLIENT, attributes=attrs, start_time=start_ns
        )
        return LLMCall(span, op.kind, request, settings, start_ns, router, kwargs, pending, attrs)
    except Exception:
        record_error("request_attributes")
        return None
