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
"""

from __future__ import annotations

import sys
from typing import Any

from otel_bridge import attributes as keys
from otel_bridge.instrumentation.errors import record_error


def add_estimated_usage(attrs: dict[str, Any], stream: Any, extra_text: str = "") -> None:
    """Token counts for ``attrs`` from LiteLLM's tokenizer, over the request's messages and the
    text LiteLLM's stream wrapper accumulated (``extra_text``: tool-call arguments seen)."""
    litellm = sys.modules.get("litellm")
    counter = getattr(litellm, "token_counter", None)
    streamed = getattr(stream, "response_uptil_now", None)
    if counter is None or not isinstance(streamed, str):
        return
    try:
        model = getattr(stream, "model", None) or ""
        count_prompt = getattr(stream, "count_prompt_tokens", None)
        messages = getattr(stream, "messages", None)
        if callable(count_prompt):
            prompt = count_prompt()
        elif isinstance(messages, list) and messages:
            prompt = counter(model=model, messages=messages)
        else:
            prompt = None
        text = streamed + extra_text
        completion = counter(model=model, text=text, count_response_tokens=True) if text else 0
    except Exception:
        record_error("stream_usage")
        return
    if isinstance(prompt, int):
        attrs[keys.USAGE_INPUT_TOKENS] = prompt
    if isinstance(completion, int):
        attrs[keys.USAGE_OUTPUT_TOKENS] = completion
        attrs[keys.LITELLM_USAGE_ESTIMATED] = True
