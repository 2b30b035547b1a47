"""A stream's usage when its provider sent none, counted the way LiteLLM counts it for its logging.

When no chunk of a stream reports usage (an OpenAI-compatible server asked without
``stream_options={"include_usage": True}``, which the bridge never adds), LiteLLM's stream chunk
builder counts the tokens for its own logging with its tokenizer: the request's messages
(``count_prompt_tokens`` or ``litellm.token_counter(messages=...)``) and the streamed text
(``token_counter(text=..., count_response_tokens=True)``). Its result cannot be read when the
span ends: it is logged from LiteLLM's worker thread afterwards, and on LiteLLM's HTTP path
(1.108.7) the builder takes the 0/0 its last chunk carries for a count, so its own logs say 0.
The span gets the same count, made the same way from what the stream wrapper already holds,
marked ``litellm.usage.estimated=true``. Nothing the app sends or receives changes.

The tokenizer is slow (~12% of a whole mock stream call). At stream end :func:`usage_estimate`
only keeps references to what the count needs; under ``otel_bridge.configure()`` the pipeline's
threads make it (whichever destination's worker or the metrics drainer needs it first), used
alone the instrumentation makes it on the spot (:meth:`LLMCall.estimate_usage`).
"""

from __future__ import annotations

import sys
from typing import Any

from otel_bridge import attributes as keys
from otel_bridge.deferred_content import DeferredAttributes
from otel_bridge.instrumentation.errors import record_error

ToolPieces = dict[Any, list[Any]]  # a stream's (choice, call) -> [id, name, argument pieces]


def usage_estimate(stream: Any, tools: ToolPieces) -> DeferredAttributes | None:
    """The count of a stream that ended, not made yet: references to LiteLLM's tokenizer, the
    model, the request's messages (LiteLLM's own copy of the list) or its prompt counter, the
    text LiteLLM's stream wrapper accumulated and the tool-call argument pieces seen (no longer
    added to). None when LiteLLM has no tokenizer or the wrapper no text."""
    try:
        counter = getattr(sys.modules.get("litellm"), "token_counter", None)
        streamed = getattr(stream, "response_uptil_now", None)
        if counter is None or not isinstance(streamed, str):
            return None
        return DeferredAttributes(
            estimated_usage,
            counter,
            getattr(stream, "model", None) or "",
            getattr(stream, "count_prompt_tokens", None),
            getattr(stream, "messages", None),
            streamed,
            tools,
        )
    except Exception:
        record_error("stream_usage")
        return None


def estimated_usage(
    counter: Any,
    model: str,
    count_prompt: Any,
    messages: Any,
    streamed: str,
    tools: ToolPieces,
) -> dict[str, Any]:
    """The token counts, as LiteLLM's chunk builder makes them, marked estimated."""
    attrs: dict[str, Any] = {}
    try:
        if callable(count_prompt):
            prompt = count_prompt()
        elif isinstance(messages, list) and messages:
            prompt = counter(model=model, messages=messages)
        else:
            prompt = None
        text = streamed + "".join("".join(pieces) for _, _, pieces in tools.values())
        completion = counter(model=model, text=text, count_response_tokens=True) if text else 0
    except Exception:
        record_error("stream_usage")
        return attrs
    if isinstance(prompt, int):
        attrs[keys.USAGE_INPUT_TOKENS] = prompt
    if isinstance(completion, int):
        attrs[keys.USAGE_OUTPUT_TOKENS] = completion
        attrs[keys.LITELLM_USAGE_ESTIMATED] = True
    return attrs
