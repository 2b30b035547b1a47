"""The conventions' messages in the chat shape MLflow previews and renders: a trace's ROOT span.

MLflow computes a trace's Request / Response previews (the trace list) from its root span's
inputs / outputs, on the server and in the local store alike
(``mlflow.tracing.utils.truncation._get_truncated_preview``, checked in 3.17.2): from a dict with
``messages`` whose items carry ``role`` and ``content`` it takes the text of the last ``user``
(request) or ``assistant`` (response) message; anything else, the conventions' list of messages
with ``parts`` included, it shows as raw JSON. Its trace view renders the same OpenAI chat
messages as a conversation (text, tool calls, tool results), as it renders the conventions'
messages on the other spans.

So a root's inputs / outputs become ``{"messages": [...]}`` in OpenAI's chat shape, converted
without loss: the system instructions lead as a ``system`` message; text parts are the content
(a string for one text part, else a list of ``{"type": "text", "text": ...}``); ``tool_call``
parts are ``tool_calls``; each ``tool_call_response`` is a ``tool`` message; ``reasoning`` parts
the message's ``reasoning``; an image ``uri`` an ``image_url`` part; any other part stays as it
is inside the content list. An assistant message that only calls tools says its calls as text
too (``get_weather({"location": "Paris"})``), so the Response preview shows the call.
"""

from __future__ import annotations

import json
from typing import Any


def chat_inputs(messages: Any, instructions: Any = None) -> str | None:
    """The root's inputs from ``gen_ai.input.messages`` and ``gen_ai.system_instructions``
    (JSON text); None when neither is a JSON list."""
    listed, system = _json_list(messages), _json_list(instructions)
    if listed is None and system is None:
        return None
    converted: list[dict[str, Any]] = []
    if system:
        converted += _chat_messages({"role": "system", "parts": system}, describe_calls=False)
    for message in listed or ():
        converted += _chat_messages(message, describe_calls=False)
    return _dumps(converted)


def chat_outputs(messages: Any) -> str | None:
    """The root's outputs from ``gen_ai.output.messages`` (JSON text); None when not a list."""
    listed = _json_list(messages)
    if listed is None:
        return None
    converted: list[dict[str, Any]] = []
    for message in listed:
        converted += _chat_messages(message, describe_calls=True)
    return _dumps(converted)


def with_instructions(messages: Any, instructions: Any) -> str | None:
    """``gen_ai.input.messages`` led by the system instructions as a ``system`` message, in the
    conventions' shape (MLflow derives a span's inputs from the messages alone)."""
    listed, system = _json_list(messages), _json_list(instructions)
    if not system:
        return None
    return json.dumps([{"role": "system", "parts": system}, *(listed or ())], ensure_ascii=False)


def _json_list(value: Any) -> list[Any] | None:
    if not isinstance(value, str):
        return None
    try:
        loaded = json.loads(value)
    except ValueError:
        return None
    return loaded if isinstance(loaded, list) else None


def _dumps(messages: list[dict[str, Any]]) -> str | None:
    return json.dumps({"messages": messages}, ensure_ascii=False) if messages else None


def _chat_messages(message: Any, *, describe_calls: bool) -> list[dict[str, Any]]:
    if not isinstance(message, dict):
        return []
    role, parts = message.get("role"), message.get("parts")
    if not isinstance(role, str) or not isinstance(parts, list):
        return [message]  # not the conventions' shape: as it is
    content: list[Any] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    reasoning: list[str] = []
    for part in parts:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            content.append({"type": "text", "text": _text(part.get("content"))})
        elif kind == "tool_call":
            calls.append(_tool_call(part))
        elif kind == "tool_call_response":
            call_id = part.get("id") or ""
            results.append(
                {"role": "tool", "tool_call_id": call_id, "content": _text(part.get("response"))}
            )
        elif kind == "reasoning":
            reasoning.append(_text(part.get("content")))
        elif kind == "uri" and part.get("modality") == "image" and isinstance(part.get("uri"), str):
            content.append({"type": "image_url", "image_url": {"url": part["uri"]}})
        else:
            content.append(part)
    converted: list[dict[str, Any]] = []
    if content or calls or reasoning or not results:
        chat: dict[str, Any] = {"role": role, "content": _content(content)}
        if isinstance(message.get("name"), str):
            chat["name"] = message["name"]
        if calls:
            chat["tool_calls"] = calls
            if describe_calls and chat["content"] is None:
                chat["content"] = "\n".join(
                    f"{c['function']['name']}({c['function']['arguments']})" for c in calls
                )
        if reasoning:
            chat["reasoning"] = "\n\n".join(reasoning)
        converted.append(chat)
    return converted + results


def _content(parts: list[Any]) -> Any:
    if not parts:
        return None
    if len(parts) == 1 and isinstance(parts[0], dict) and parts[0].get("type") == "text":
        return parts[0]["text"]
    return parts


def _tool_call(part: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": part.get("id") or "",
        "type": "function",
        "function": {"name": _text(part.get("name")), "arguments": _text(part.get("arguments"))},
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
