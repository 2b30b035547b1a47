"""MLflow's dialect, spoken here only: a span as the instrumentation wrote it (the GenAI
conventions, ``litellm.*`` where they are silent) becomes the span MLflow must receive.

MLflow derives most of what it shows from the conventions itself, on its server and in the local
store alike (both store through ``SqlAlchemyStore.log_spans``, checked in 3.17.2): the span type
from ``gen_ai.operation.name`` (``chat`` -> CHAT_MODEL, ``embeddings`` -> EMBEDDING,
``execute_tool`` -> TOOL, ``invoke_agent`` -> AGENT), inputs / outputs from
``gen_ai.input.messages`` / ``gen_ai.output.messages`` and ``gen_ai.tool.call.*``, token usage,
model, provider and cost, and the trace's user and session from ``user.id`` and ``session.id``
(or ``gen_ai.conversation.id``). Only what it cannot derive is written here:

* ``mlflow.spanType``, ``mlflow.spanInputs``, ``mlflow.spanOutputs`` from ``litellm.span.type``,
  ``litellm.span.input``, ``litellm.span.output`` (application steps, embeddings requests);
* trace tags ``mlflow.traceTag.<k>`` from the request tags ``k:v``; for the proxy's spans also a
  plain tag (as ``""``, like LiteLLM's own MLflow logger) and the identity the proxy
  authenticated, and never a key in a reserved namespace from a client;
* ``otel_bridge.mlflow.run_id``: the MLflow run a root span was started under (:mod:`.runs`);
* an embeddings span's usage with its total (``mlflow.chat.tokenUsage``): the conventions have
  no total and embeddings no output tokens, and MLflow adds a trace's total from the spans'
  totals, which it derives only from input AND output tokens (3.17.2), so a trace's total
  would leave the embeddings out;
* a span's system instructions (``gen_ai.system_instructions``, the Responses API's
  ``instructions``) leading its inputs as a ``system`` message: MLflow derives inputs from
  ``gen_ai.input.messages`` alone. (A root's inputs are written by :mod:`.trace_roots`.)

What MLflow reads from a trace's root span only (previews, tags) is carried up there by
:mod:`.trace_roots`, after this.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from otel_bridge import attributes as keys
from otel_bridge.exporters.spans import is_root, replace_span

from .chat import with_instructions
from .runs import RUN_ID_ATTRIBUTE, RUN_LINKS, RunLinks

SPAN_TYPE = "mlflow.spanType"
SPAN_INPUTS = "mlflow.spanInputs"
SPAN_OUTPUTS = "mlflow.spanOutputs"
TRACE_TAG_PREFIX = "mlflow.traceTag."
TOKEN_USAGE = "mlflow.chat.tokenUsage"

_RENAMED = (
    (keys.SPAN_TYPE, SPAN_TYPE),
    (keys.SPAN_INPUT, SPAN_INPUTS),
    (keys.SPAN_OUTPUT, SPAN_OUTPUTS),
)
# The proxy's attributes that are trace tags too (searched as tags.`litellm.proxy.team.alias`).
PROXY_TAG_ATTRIBUTES = (
    keys.PROXY_TEAM_ID,
    keys.PROXY_TEAM_ALIAS,
    keys.PROXY_KEY_ALIAS,
    keys.PROXY_END_USER,
    keys.LITELLM_MODEL_GROUP,
)
# Tag keys a proxy client may not set: MLflow's own namespace, and ours, which carries the
# identity the proxy authenticated (a client must not be able to forge it).
RESERVED_TAG_PREFIXES = ("mlflow.", "litellm.")


def to_mlflow(span: ReadableSpan, runs: RunLinks = RUN_LINKS) -> ReadableSpan:
    """``span`` with MLflow's keys (the same object when it needs none)."""
    attributes = span.attributes or {}
    added: dict[str, Any] = {}
    renamed = [ours for ours, _ in _RENAMED if ours in attributes]
    for ours, theirs in _RENAMED:
        if ours in attributes and theirs not in attributes:
            added[theirs] = attributes[ours]
    for tag, value in trace_tags(span, attributes).items():
        if TRACE_TAG_PREFIX + tag not in attributes:
            added[TRACE_TAG_PREFIX + tag] = value
    root = is_root(span)
    run_id = runs.pop(span) if root else None
    if run_id:
        added[RUN_ID_ATTRIBUTE] = run_id
    usage = embeddings_usage(attributes)
    if usage is not None and TOKEN_USAGE not in attributes:
        added[TOKEN_USAGE] = usage
    if not root and keys.SYSTEM_INSTRUCTIONS in attributes and SPAN_INPUTS not in attributes:
        inputs = with_instructions(
            attributes.get(keys.INPUT_MESSAGES), attributes[keys.SYSTEM_INSTRUCTIONS]
        )
        if inputs is not None:
            added[SPAN_INPUTS] = inputs
    if not added and not renamed:
        return span
    kept = {k: v for k, v in attributes.items() if k not in renamed}
    return replace_span(span, attributes={**kept, **added})


def embeddings_usage(attributes: Mapping[str, Any]) -> str | None:
    """MLflow's usage of an embeddings span: its input tokens, no output, the total."""
    if attributes.get(keys.OPERATION_NAME) != "embeddings":
        return None
    tokens = attributes.get(keys.USAGE_INPUT_TOKENS)
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        return None
    output = attributes.get(keys.USAGE_OUTPUT_TOKENS)
    output = output if isinstance(output, int) and not isinstance(output, bool) else 0
    usage = {"input_tokens": tokens, "output_tokens": output, "total_tokens": tokens + output}
    return json.dumps(usage)


def trace_tags(span: ReadableSpan, attributes: Mapping[str, Any]) -> dict[str, str]:
    """The trace tags a span asks for: ``key:value`` request tags, for a proxy span its plain
    tags and the identity the proxy authenticated, and ``litellm.usage.estimated`` when its
    usage is LiteLLM's count rather than the provider's (the trace's totals include it)."""
    proxied = span.instrumentation_scope is not None and (
        span.instrumentation_scope.name == keys.PROXY_SCOPE
    )
    tags: dict[str, str] = {}
    requested = attributes.get(keys.LITELLM_REQUEST_TAGS)
    if isinstance(requested, str):
        requested = (requested,)
    for tag in requested or ():
        if not isinstance(tag, str):
            continue
        key, sep, value = tag.partition(":")
        key = key.strip()
        if proxied and key.startswith(RESERVED_TAG_PREFIXES):
            continue
        if sep and key:
            tags[key] = value.strip()
        elif proxied and key:
            tags.setdefault(key, "")
    if attributes.get(keys.LITELLM_USAGE_ESTIMATED) is True:
        tags[keys.LITELLM_USAGE_ESTIMATED] = "true"
    if proxied:
        for name in PROXY_TAG_ATTRIBUTES:
            proxy_value = attributes.get(name)
            if isinstance(proxy_value, str) and proxy_value:
                tags[name] = proxy_value
    return tags
