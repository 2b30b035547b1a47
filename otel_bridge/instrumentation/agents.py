"""``gen_ai.provider.name`` of an ``invoke_agent`` span the application's own code stands for.

The conventions require the attribute on ``invoke_agent`` spans and define it as the provider
"as identified by the instrumentation's best knowledge". An agent written with ``trace`` is the
application's code, not a provider's service: the honest value is the provider its model calls
go to. So the agent's span is put in the context with the span (``context_for``), and the first
LiteLLM call made under it (at any depth: tools, chains) names its provider on it, unless the
application declared one (``trace(span_type="AGENT", attributes={"gen_ai.provider.name": ...})``,
which is also the only way to have it at span start, for samplers). An agent that made no model
call carries none: there is no provider to name.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Span, set_span_in_context

from otel_bridge import attributes as keys

_AGENT_SPAN = otel_context.create_key("otel_bridge.agent_span")
_AGENT_NAME = otel_context.create_key("otel_bridge.agent_name")


def context_for(span: Span, agent_name: str | None = None) -> otel_context.Context:
    """The context with ``span`` current (and, for an agent, ``agent_name``, as the agent of
    what runs in it)."""
    ctx = set_span_in_context(span)
    if agent_name is not None:
        ctx = otel_context.set_value(_AGENT_SPAN, span, ctx)
        ctx = otel_context.set_value(_AGENT_NAME, agent_name, ctx)
    return ctx


def current_agent_name() -> str | None:
    """The name of the agent the current code runs under (for a tool it executes), if any."""
    name = otel_context.get_value(_AGENT_NAME)
    return name if isinstance(name, str) else None


def note_provider(provider: Any) -> None:
    """A model call to ``provider`` starts: the enclosing agent's span takes it, if it has none."""
    if not provider:
        return
    span = otel_context.get_value(_AGENT_SPAN)
    if not isinstance(span, Span) or not span.is_recording():
        return
    attributes = getattr(span, "attributes", None)  # the SDK's span: set once, never overwrite
    if attributes is not None and keys.PROVIDER_NAME in attributes:
        return
    span.set_attribute(keys.PROVIDER_NAME, provider)
