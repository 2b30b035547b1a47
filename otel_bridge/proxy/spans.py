"""The CLIENT span of one proxied call, built after the fact from its callback event.

The GenAI attributes come from the instrumentation's own builders (``start_attributes``,
``response_attributes``), fed with a request rebuilt from the callback's ``kwargs``: a proxied
call and the same call made through the SDK carry the same attributes. What only the proxy knows
(the authenticated key's team and alias, the end user, the router's model group and deployment)
is added here as ``litellm.proxy.*`` attributes; the MLflow destination makes trace tags of them
(:mod:`otel_bridge.exporters.mlflow.dialect`).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer

from otel_bridge import attributes as keys
from otel_bridge.instrumentation.exceptions import record_exception, record_failure
from otel_bridge.instrumentation.request import start_attributes
from otel_bridge.instrumentation.response import response_attributes
from otel_bridge.proxy import metadata as md
from otel_bridge.proxy.event import ProxyEvent
from otel_bridge.proxy.propagation import parent_context


def _proxy_attributes(attrs: dict[str, Any], event: ProxyEvent) -> None:
    deployment = event.deployment
    if deployment.model_group:
        attrs[keys.LITELLM_MODEL_GROUP] = deployment.model_group
    if deployment.model_id:
        attrs[keys.LITELLM_MODEL_ID] = deployment.model_id
    if deployment.api_base:
        attrs[keys.LITELLM_API_BASE] = deployment.api_base
    who = event.identity
    for key, value in (
        (keys.PROXY_KEY_HASH, who.key_hash),
        (keys.PROXY_KEY_ALIAS, who.key_alias),
        (keys.PROXY_TEAM_ID, who.team_id),
        (keys.PROXY_TEAM_ALIAS, who.team_alias),
        (keys.PROXY_USER_ID, who.user_id),
        (keys.PROXY_ORG_ID, who.org_id),
        (keys.PROXY_ORG_ALIAS, who.org_alias),
        (keys.PROXY_END_USER, who.end_user),
        (keys.LITELLM_CALL_ID, event.call_id),
    ):
        if value:
            attrs[key] = value


def error_type(event: ProxyEvent) -> str:
    if event.exception is not None:
        return type(event.exception).__qualname__
    return event.error_class or "_OTHER"


def span_attributes(
    event: ProxyEvent, capture: bool, max_length: int
) -> tuple[str, dict[str, Any]]:
    """(span name, attributes) of the event's span. Never contains a known secret."""
    attrs, request = start_attributes(event.op, (), event.request, capture, max_length)
    if event.metadata.tags_dropped:  # left out before the tags reached the request
        attrs[keys.LITELLM_REQUEST_TAGS_DROPPED] = event.metadata.tags_dropped
    if event.response is not None:
        attrs.update(response_attributes(event.op.kind, event.response, capture, max_length))
    if event.first_chunk_ns is not None and event.first_chunk_ns >= event.start_ns:
        attrs[keys.RESPONSE_TIME_TO_FIRST_CHUNK] = (event.first_chunk_ns - event.start_ns) / 1e9
    if not event.failed and event.response_cost is not None:
        attrs.setdefault(keys.LITELLM_RESPONSE_COST, event.response_cost)
    _proxy_attributes(attrs, event)
    if event.failed:
        attrs[keys.ERROR_TYPE] = error_type(event)
        if event.error_code is not None:
            attrs[keys.HTTP_RESPONSE_STATUS_CODE] = event.error_code
    if event.secrets:
        attrs = {k: md.scrub_known(v, event.secrets) for k, v in attrs.items()}
    return md.scrub(request.span_name, event.secrets), attrs


def emit_span(tracer: Tracer, event: ProxyEvent, name: str, attrs: dict[str, Any]) -> trace.Span:
    """Start and end the event's span (``name``, ``attrs``: :func:`span_attributes`), with the
    callback's own start and end times, under the caller's span when the request carried a
    ``traceparent``."""
    span = tracer.start_span(
        name,
        context=parent_context(event.headers),
        kind=SpanKind.CLIENT,
        attributes=attrs,
        start_time=event.start_ns,
    )
    # The instrumentation's own recorder: one failure reads the same by either path.
    if event.exception is not None:
        record_exception(span, event.exception, event.secrets, timestamp=event.end_ns)
    elif event.failed:
        message = event.error_message or ""
        record_failure(span, error_type(event), message, event.secrets, timestamp=event.end_ns)
    span.end(end_time=event.end_ns)
    return span
