"""OpenAI Responses API bodies (`POST /v1/responses`): the response object and its SSE events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from .openai_payloads import Reply, split_words


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "input_tokens": reply.prompt_tokens,
        "input_tokens_details": {"cached_tokens": reply.cached_tokens},
        "output_tokens": reply.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _message_item(response_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"msg_{response_id}",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        if status == "completed"
        else [],
    }


def _function_call_items(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "type": "function_call",
            "id": f"fc_{index}",
            "call_id": call.get("id", f"call_{index}"),
            "name": call["name"],
            "arguments": call.get("arguments", "{}"),
            "status": "completed",
        }
        for index, call in enumerate(reply.tool_calls or [])
    ]


def response_object(
    reply: Reply,
    response_id: str,
    model: str,
    request: dict[str, Any],
    status: str = "completed",
) -> dict[str, Any]:
    completed = status == "completed"
    output: list[dict[str, Any]] = []
    text = reply.text()
    if completed and text is not None:
        output.append(_message_item(response_id, text))
    if completed:
        output.extend(_function_call_items(reply))
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": request.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools", []),
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _usage(reply) if completed else None,
        "user": request.get("user"),
        "metadata": request.get("metadata") or {},
    }


def response_events(
    reply: Reply, response_id: str, model: str, request: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The SSE event sequence OpenAI sends for a streamed response (each has `type`)."""
    in_progress = response_object(reply, response_id, model, request, status="in_progress")
    yield {"type": "response.created", "response": in_progress}
    yield {"type": "response.in_progress", "response": in_progress}
    output_index = 0
    text = reply.text()
    if text is not None:
        item_id = f"msg_{response_id}"
        yield {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": _message_item(response_id, "", status="in_progress"),
        }
        part: dict[str, Any] = {"type": "output_text", "text": "", "annotations": []}
        where = {"item_id": item_id, "output_index": output_index, "content_index": 0}
        yield {"type": "response.content_part.added", **where, "part": part}
        for piece in split_words(text):
            yield {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
        yield {"type": "response.output_text.done", **where, "text": text, "logprobs": []}
        yield {"type": "response.content_part.done", **where, "part": dict(part, text=text)}
        yield {
            "type": "response.output_item.done",
            "output_index": output_index,
            "item": _message_item(response_id, text),
        }
        output_index += 1
    for item in _function_call_items(reply):
        yield {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": dict(item, arguments="", status="in_progress"),
        }
        yield {
            "type": "response.function_call_arguments.delta",
            "item_id": item["id"],
            "output_index": output_index,
            "delta": item["arguments"],
        }
        yield {
            "type": "response.function_call_arguments.done",
            "item_id": item["id"],
            "output_index": output_index,
            "arguments": item["arguments"],
        }
        yield {"type": "response.output_item.done", "output_index": output_index, "item": item}
        output_index += 1
    yield {
        "type": "response.completed",
        "response": response_object(reply, response_id, model, request),
    }
