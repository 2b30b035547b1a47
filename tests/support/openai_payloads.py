"""Response bodies shaped exactly like OpenAI's, built from a scripted `Reply`."""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_CONTENT = "Hello from the loopback model."
SYSTEM_FINGERPRINT = "fp_loopback"
# A 1x1 transparent PNG, for image generation answers.
TINY_PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@dataclass
class Reply:
    """A successful answer. With tool_calls, a content left at the default is sent as null."""

    content: str | None = DEFAULT_CONTENT
    tool_calls: list[dict[str, Any]] | None = None  # [{"id", "name", "arguments" (JSON text)}]
    finish_reason: str | None = None  # default "stop", or "tool_calls" when tool_calls
    prompt_tokens: int = 11
    completion_tokens: int = 7
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    model: str | None = None  # default: echo the request's model
    id: str | None = None  # default: "<prefix>-<n>"
    delay: float = 0.0  # seconds before the answer starts
    chunk_delay: float = 0.0  # seconds between streamed chunks
    break_stream_after: int | None = None  # close the socket after this many streamed events

    def text(self) -> str | None:
        if self.tool_calls and self.content == DEFAULT_CONTENT:
            return None
        return self.content

    def finish(self) -> str:
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


@dataclass
class ErrorReply:
    """An OpenAI-style error answer: {"error": {"message", "type", "param", "code"}}."""

    status: int
    message: str = "Error scripted on the loopback OpenAI server"
    type: str = "server_error"
    code: str | None = None
    retry_after: float | None = None
    delay: float = 0.0

    def body(self) -> dict[str, Any]:
        return {
            "error": {"message": self.message, "type": self.type, "param": None, "code": self.code}
        }


def split_words(text: str) -> list[str]:
    """Stream pieces: one word with its trailing whitespace each."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def chat_usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reply.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_call(call: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": call.get("id", f"call_{index or 0}"),
        "type": "function",
        "function": {"name": call["name"], "arguments": call.get("arguments", "{}")},
    }
    if index is not None:
        entry["index"] = index
    return entry


def chat_completion(reply: Reply, response_id: str, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text(), "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [_tool_call(call) for call in reply.tool_calls]
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "service_tier": "default",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish()}
        ],
        "usage": chat_usage(reply),
    }


def chat_completion_chunks(
    reply: Reply, response_id: str, model: str, include_usage: bool
) -> Iterator[dict[str, Any]]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            body["usage"] = None
        return body

    text = reply.text()
    yield chunk({"role": "assistant", "content": "" if text is not None else None})
    for piece in split_words(text or ""):
        yield chunk({"content": piece})
    for index, call in enumerate(reply.tool_calls or []):
        opening = _tool_call(call, index)
        arguments = opening["function"]["arguments"]
        opening["function"]["arguments"] = ""
        yield chunk({"tool_calls": [opening]})
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            if part:
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
    yield chunk({}, reply.finish())
    if include_usage:
        yield {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [],
            "usage": chat_usage(reply),
        }


def text_completion(reply: Reply, response_id: str, model: str) -> dict[str, Any]:
    usage = chat_usage(reply)
    return {
        "id": response_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [
            {
                "text": reply.text() or "",
                "index": 0,
                "logprobs": None,
                "finish_reason": reply.finish(),
            }
        ],
        "usage": usage,
    }


def text_completion_chunks(
    reply: Reply, response_id: str, model: str, include_usage: bool
) -> Iterator[dict[str, Any]]:
    created = int(time.time())

    def chunk(text: str, finish_reason: str | None) -> dict[str, Any]:
        return {
            "id": response_id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}
            ],
        }

    for piece in split_words(reply.text() or ""):
        yield chunk(piece, None)
    yield chunk("", reply.finish())
    if include_usage:
        last = chunk("", None)
        last["choices"] = []
        last["usage"] = chat_usage(reply)
        yield last


def _vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit-ish vector derived from the text."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round((digest[i % len(digest)] - 127.5) / 127.5, 6) for i in range(dimensions)]


def embeddings(reply: Reply, request: dict[str, Any], model: str) -> dict[str, Any]:
    raw_input = request.get("input", "")
    inputs = raw_input if isinstance(raw_input, list) else [raw_input]
    dimensions = int(request.get("dimensions") or 8)
    as_base64 = request.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(inputs):
        vector = _vector(str(item), dimensions)
        encoded: Any = vector
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": reply.prompt_tokens, "total_tokens": reply.prompt_tokens},
    }


def image_generation(reply: Reply, request: dict[str, Any], image_url: str) -> dict[str, Any]:
    count = int(request.get("n") or 1)
    if request.get("response_format") == "b64_json":
        item: dict[str, Any] = {"b64_json": TINY_PNG_BASE64}
    else:
        item = {"url": image_url}
    return {
        "created": int(time.time()),
        "data": [dict(item, revised_prompt=request.get("prompt")) for _ in range(count)],
        "usage": {
            "input_tokens": reply.prompt_tokens,
            "output_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            "input_tokens_details": {"text_tokens": reply.prompt_tokens, "image_tokens": 0},
        },
    }


def models_list(model_ids: list[str]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "loopback"}
            for model_id in model_ids
        ],
    }
