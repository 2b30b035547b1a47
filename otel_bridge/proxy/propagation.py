"""The caller's trace context, from the request headers LiteLLM hands to its callbacks."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import propagate
from opentelemetry.context import Context


def parent_context(headers: Mapping[str, str]) -> Context:
    """The context a proxied call's span starts in: the caller's span when the request carried
    a valid ``traceparent`` (W3C Trace Context; the propagators ``OTEL_PROPAGATORS`` names, the
    W3C ones by default), else an empty context, so the span opens a trace of its own.

    Extraction starts from an empty context on purpose: LiteLLM runs callbacks on its logging
    worker, where whatever span happens to be current has nothing to do with this request.
    """
    if not headers:
        return Context()
    return propagate.extract(headers, context=Context())
