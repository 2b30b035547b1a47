"""Span attributes read from a finished call's response (or a stream's aggregate)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_bridge import attributes as keys
from otel_bridge.deferred_content import PendingContent
from otel_bridge.instrumentation import content
from otel_bridge.instrumentation.content import safe_str
from otel_bridge.instrumentation.fields import as_int64, field
from otel_bridge.instrumentation.operations import (
    CHAT,
    EMBEDDINGS,
    IMAGE,
    RESPONSES,
    TEXT_COMPLETION,
)


def usage_attributes(attrs: dict[str, Any], usage: Any, kind: str) -> None:
    if usage is None:
        return
    inp = as_int64(field(usage, "prompt_tokens"))
    if inp is None:
        inp = as_int64(field(usage, "input_tokens"))
    if inp is not None:
        attrs[keys.USAGE_INPUT_TOKENS] = inp
    if kind != EMBEDDINGS:
        out = as_int64(field(usage, "completion_tokens"))
        if out is None:
            out = as_int64(field(usage, "output_tokens"))
        if out is not None:
            attrs[keys.USAGE_OUTPUT_TOKENS] = out
    details = field(usage, "prompt_tokens_details") or field(usage, "input_tokens_details")
    cached = as_int64(field(details, "cached_tokens")) if details is not None else None
    if cached is not None:
        attrs[keys.USAGE_CACHE_READ_INPUT_TOKENS] = cached
    created = as_int64(field(usage, "cache_creation_input_tokens"))
    if created is None and details is not None:
        created = as_int64(field(details, "cache_creation_tokens"))
    if created is not None:
        attrs[keys.USAGE_CACHE_WRITE_INPUT_TOKENS] = created
    out_details = field(usage, "completion_tokens_details") or field(usage, "output_tokens_details")
    reasoning = None if out_details is None else as_int64(field(out_details, "reasoning_tokens"))
    if reasoning is not None:
        attrs[keys.USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    cost = field(usage, "cost")
    if isinstance(cost, (int, float)) and not isinstance(cost, bool):
        attrs[keys.LITELLM_RESPONSE_COST] = float(cost)


def hidden_params(response: Any) -> dict[str, Any] | None:
    """LiteLLM's ``_hidden_params`` (api_base, response_cost, custom_llm_provider, model_id)."""
    if response is None:
        return None
    private = getattr(response, "__pydantic_private__", None)  # a slot: no __getattr__
    hidden = private.get("_hidden_params") if isinstance(private, dict) else None
    if hidden is None:
        values = getattr(response, "__dict__", None)
        hidden = values.get("_hidden_params") if values is not None else None
    if hidden is None and private is None:
        try:
            hidden = getattr(response, "_hidden_params", None)
        except Exception:
            return None
    return hidden if isinstance(hidden, dict) else None


def _responses_finish_reason(response: Any) -> str:
    status = field(response, "status")
    if status == "incomplete":
        reason = field(field(response, "incomplete_details"), "reason")
        return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
    if status == "failed":
        return "error"
    for item in field(response, "output") or ():
        if field(item, "type") == "function_call":
            return "tool_call"
    return "stop"


def _chat_output(choices: Any) -> list[dict[str, Any]]:
    return [content.chat_output_message(field(c, "message")) for c in choices]


def _text_output(choices: Any) -> list[dict[str, Any]]:
    return [
        {"role": "assistant", "parts": content.text_parts(field(c, "text") or "")} for c in choices
    ]


def provider_response_id(response_id: str) -> str:
    """The provider's own id of a Responses API response: LiteLLM hands the caller
    ``resp_<base64 of "litellm:custom_llm_provider:...;model_id:...;response_id:<id>">`` (to route a
    follow-up call to the same deployment); its own decoder gives the id back."""
    if not response_id.startswith("resp_"):
        return response_id
    try:
        from litellm.responses.utils import ResponsesAPIRequestUtils

        decode = (
            getattr(  # private before LiteLLM made it public (1.74 has only that one)
                ResponsesAPIRequestUtils, "decode_responses_api_response_id", None
            )
            or ResponsesAPIRequestUtils._decode_responses_api_response_id
        )
        original = decode(response_id).get("response_id")
    except Exception:
        return response_id
    return original if isinstance(original, str) and original else response_id


def response_attributes(
    kind: str,
    response: Any,
    capture: bool,
    max_length: int,
    pending: PendingContent | None = None,
) -> dict[str, Any]:
    """Attributes of a complete (non-streamed) response of operation ``kind``; with ``pending``
    the content is left to it (:func:`otel_bridge.instrumentation.content.put`)."""
    attrs: dict[str, Any] = {}
    response_id = field(response, "id")
    if isinstance(response_id, str) and response_id:
        if kind == RESPONSES:
            response_id = provider_response_id(response_id)
        attrs[keys.RESPONSE_ID] = safe_str(response_id)
    model = field(response, "model")
    if isinstance(model, str) and model:
        attrs[keys.RESPONSE_MODEL] = safe_str(model)
    usage_attributes(attrs, field(response, "usage"), kind)
    if kind in (CHAT, TEXT_COMPLETION):
        choices = field(response, "choices")
        choices = choices if isinstance(choices, (list, tuple)) else ()
        reasons = [safe_str(field(c, "finish_reason") or "") for c in choices]
        if reasons:
            attrs[keys.RESPONSE_FINISH_REASONS] = reasons
        if capture and choices:
            build: Callable[[Any], Any] = _chat_output if kind == CHAT else _text_output
            content.put(attrs, keys.OUTPUT_MESSAGES, max_length, pending, build, choices)
    elif kind == RESPONSES:
        reason = _responses_finish_reason(response)
        attrs[keys.RESPONSE_FINISH_REASONS] = [reason]
        if capture:
            content.put(
                attrs,
                keys.OUTPUT_MESSAGES,
                max_length,
                pending,
                content.responses_output_messages,
                field(response, "output"),
            )
    elif kind == EMBEDDINGS:
        data = field(response, "data")
        if data:
            vector = field(data[0], "embedding")
            if isinstance(vector, (list, tuple)):
                attrs[keys.EMBEDDINGS_DIMENSION_COUNT] = len(vector)
            if capture:
                summary = {
                    "embeddings": len(data),
                    "dimensions": attrs.get(keys.EMBEDDINGS_DIMENSION_COUNT),
                }
                content.put(attrs, keys.SPAN_OUTPUT, max_length, pending, dict, summary)
    elif kind == IMAGE:
        data = field(response, "data")
        if capture and data:
            build = content.image_output_messages
            content.put(attrs, keys.OUTPUT_MESSAGES, max_length, pending, build, data)
    return attrs
