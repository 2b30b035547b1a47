"""Message content in the GenAI conventions' JSON shapes, serialised safely and bounded in size.

Shapes (semantic-conventions-genai ``gen-ai-input-messages.json`` / ``-output-messages.json`` /
``-system-instructions.json`` / ``-tool-definitions.json``)::

    input:  [{"role": "user", "parts": [{"type": "text", "content": "..."}]},
             {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "f",
                                              "arguments": {...}}]},
             {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                         "response": "..."}]}]
    output: [{"role": "assistant", "parts": [...], "finish_reason": "stop"}]
    system: [{"type": "text", "content": "..."}]
    tools:  [{"type": "function", "name": "f", "description": "...", "parameters": {...}}]

Binary data never goes in: a base64 ``data:`` URL becomes a ``blob`` part whose content is
replaced by a short note of its size. Nothing here raises: every value that ``json`` cannot
encode falls back to ``str``/``repr``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from otel_bridge.instrumentation.fields import field

DEFAULT_MAX_CONTENT_LENGTH = 64 * 1024
"""Default limit, in characters, of one content attribute value."""

TRUNCATION_MARKER = "…[truncated by otel-bridge: {removed} of {total} chars]"
"""Appended where text was cut; ``removed``/``total`` count characters."""

_ELIDED = "[elided by otel-bridge: {size} bytes of base64 {mime}]"
_FINISH_REASONS = {"tool_calls": "tool_call", "function_call": "tool_call"}


def _fallback(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"[{len(value)} bytes]"
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f"<unserialisable {type(value).__name__}>"


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_fallback, ensure_ascii=False, separators=(",", ":"))


def to_json(value: Any, max_length: int = DEFAULT_MAX_CONTENT_LENGTH) -> str:
    """JSON text of ``value``, at most about ``max_length`` characters; never raises.

    Over the limit, long strings inside the value are shortened first (so the result stays valid
    JSON); if that is not enough the text itself is cut and the marker appended.
    """
    try:
        text = _dumps(value)
    except Exception:
        try:
            text = json.dumps(_fallback(value), ensure_ascii=False)
        except Exception:
            text = '"<unserialisable>"'
    if len(text) <= max_length:
        return text
    try:
        leaves = max(1, _count_strings(value))
        cap = max(64, max_length // (leaves + 1))
        shrunk = _dumps(_shrink(value, cap))
        if len(shrunk) <= max_length:
            return shrunk
    except Exception:
        pass
    return truncate(text, max_length)


def truncate(text: str, max_length: int) -> str:
    if len(text) <= max_length:
        return text
    keep = max(0, max_length - 64)
    return text[:keep] + TRUNCATION_MARKER.format(removed=len(text) - keep, total=len(text))


def _count_strings(value: Any, depth: int = 0) -> int:
    if isinstance(value, str):
        return 1
    if depth > 20:
        return 0
    if isinstance(value, dict):
        return sum(_count_strings(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_count_strings(v, depth + 1) for v in value)
    return 0


def _shrink(value: Any, cap: int, depth: int = 0) -> Any:
    if isinstance(value, str):
        return truncate(value, cap)
    if depth > 20:
        return "…"
    if isinstance(value, dict):
        return {k: _shrink(v, cap, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shrink(v, cap, depth + 1) for v in value]
    return value


# --- parts -------------------------------------------------------------------------------------


def _data_url_part(url: str, modality: str) -> dict[str, Any] | None:
    """A ``blob`` part for a base64 ``data:`` URL, its payload elided; None for other URLs."""
    if not url.startswith("data:"):
        return None
    header, _, payload = url.partition(",")
    mime = header[5:].split(";", 1)[0] or None
    size = (len(payload) * 3) // 4
    return {
        "type": "blob",
        "modality": modality,
        "mime_type": mime,
        "content": _ELIDED.format(size=size, mime=mime or "data"),
    }


def _uri_part(url: Any, modality: str) -> dict[str, Any]:
    if isinstance(url, dict):
        url = url.get("url")
    url = url if isinstance(url, str) else str(url)
    return _data_url_part(url, modality) or {"type": "uri", "modality": modality, "uri": url}


def _content_part(part: Any) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "content": part}
    kind = field(part, "type")
    if kind in ("text", "input_text", "output_text"):
        return {"type": "text", "content": field(part, "text") or ""}
    if kind in ("image_url", "input_image"):
        return _uri_part(field(part, "image_url") or field(part, "file_id") or "", "image")
    if kind == "input_audio":
        audio = field(part, "input_audio") or {}
        fmt = field(audio, "format")
        data = field(audio, "data") or ""
        return {
            "type": "blob",
            "modality": "audio",
            "mime_type": f"audio/{fmt}" if fmt else None,
            "content": _ELIDED.format(size=(len(data) * 3) // 4, mime=f"audio/{fmt or 'data'}"),
        }
    if kind in ("file", "input_file"):
        file = field(part, "file") or part
        file_id = field(file, "file_id")
        if file_id:
            return {"type": "file", "modality": "document", "file_id": file_id}
        data = field(file, "file_data") or field(file, "file_url") or ""
        return _uri_part(data, "document")
    if kind in ("refusal",):
        return {"type": "text", "content": field(part, "refusal") or ""}
    if kind in ("thinking", "reasoning"):
        return {"type": "reasoning", "content": field(part, "thinking") or field(part, "text")}
    generic = _fallback(part) if not isinstance(part, dict) else part
    if isinstance(generic, dict):
        return {"type": str(kind or "unknown"), **{k: v for k, v in generic.items() if k != "type"}}
    return {"type": str(kind or "unknown"), "content": generic}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, (list, tuple)):
        return [_content_part(p) for p in content]
    return [_content_part(content)]


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except Exception:
            return raw
    return raw


def _tool_call_part(call: Any) -> dict[str, Any]:
    function = field(call, "function")
    name = field(function, "name") if function is not None else field(call, "name")
    args = field(function, "arguments") if function is not None else field(call, "arguments")
    return {
        "type": "tool_call",
        "id": field(call, "id") or field(call, "call_id"),
        "name": name or "",
        "arguments": _arguments(args),
    }


# --- chat completions --------------------------------------------------------------------------


def chat_input_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """OpenAI-style chat messages (dicts or LiteLLM Message objects) as input messages."""
    result: list[dict[str, Any]] = []
    for message in messages or ():
        role = field(message, "role") or "user"
        if role in ("tool", "function"):
            response = field(message, "content")
            part = {
                "type": "tool_call_response",
                "id": field(message, "tool_call_id"),
                "response": response,
            }
            if role == "function":
                part["name"] = field(message, "name")
            result.append({"role": "tool", "parts": [part]})
            continue
        parts = _content_parts(field(message, "content"))
        reasoning = field(message, "reasoning_content")
        if reasoning:
            parts.insert(0, {"type": "reasoning", "content": reasoning})
        for call in field(message, "tool_calls") or ():
            parts.append(_tool_call_part(call))
        legacy = field(message, "function_call")
        if legacy:
            parts.append(_tool_call_part({"function": legacy}))
        entry: dict[str, Any] = {"role": role, "parts": parts}
        name = field(message, "name")
        if name:
            entry["name"] = name
        result.append(entry)
    return result


def output_finish_reason(reason: Any) -> str:
    if not reason:
        return "unknown"
    reason = str(reason)
    return _FINISH_REASONS.get(reason, reason)


def chat_output_message(message: Any, finish_reason: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    reasoning = field(message, "reasoning_content")
    if reasoning:
        parts.append({"type": "reasoning", "content": reasoning})
    parts.extend(_content_parts(field(message, "content")))
    for call in field(message, "tool_calls") or ():
        parts.append(_tool_call_part(call))
    return {
        "role": field(message, "role") or "assistant",
        "parts": parts,
        "finish_reason": output_finish_reason(finish_reason),
    }


def tool_definitions(tools: Iterable[Any]) -> list[Any]:
    """OpenAI ``tools=[{"type": "function", "function": {...}}]`` flattened per the conventions."""
    result: list[Any] = []
    for tool in tools or ():
        function = field(tool, "function")
        if function is not None:
            entry = {"type": field(tool, "type") or "function", "name": field(function, "name")}
            description = field(function, "description")
            if description:
                entry["description"] = description
            parameters = field(function, "parameters")
            if parameters is not None:
                entry["parameters"] = parameters
            result.append(entry)
        else:
            result.append(tool)
    return result


def text_parts(text: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "content": text if isinstance(text, str) else str(text)}]


def prompt_messages(prompt: Any) -> list[dict[str, Any]]:
    """A text-completion / image prompt (a string or a list of strings) as user messages."""
    if isinstance(prompt, (list, tuple)):
        return [{"role": "user", "parts": text_parts(p)} for p in prompt]
    return [{"role": "user", "parts": text_parts(prompt)}]


# --- responses API -----------------------------------------------------------------------------


def responses_input_messages(items: Any) -> list[dict[str, Any]]:
    """Responses API ``input`` (a string or a list of items) as input messages."""
    if items is None:
        return []
    if isinstance(items, str):
        return [{"role": "user", "parts": text_parts(items)}]
    result: list[dict[str, Any]] = []
    for item in items:
        kind = field(item, "type")
        if kind == "function_call":
            result.append({"role": "assistant", "parts": [_tool_call_part(item)]})
        elif kind == "function_call_output":
            part = {
                "type": "tool_call_response",
                "id": field(item, "call_id"),
                "response": field(item, "output"),
            }
            result.append({"role": "tool", "parts": [part]})
        elif kind in (None, "message"):
            role = field(item, "role") or "user"
            result.append({"role": role, "parts": _content_parts(field(item, "content"))})
        else:
            result.append({"role": "user", "parts": [_content_part(item)]})
    return result


def responses_output_messages(output: Any, finish_reason: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for item in output or ():
        kind = field(item, "type")
        if kind == "message":
            parts.extend(_content_parts(field(item, "content")))
        elif kind == "function_call":
            parts.append(_tool_call_part(item))
        elif kind == "reasoning":
            for summary in field(item, "summary") or ():
                parts.append({"type": "reasoning", "content": field(summary, "text")})
        else:
            parts.append(_content_part(item))
    return [{"role": "assistant", "parts": parts, "finish_reason": finish_reason}]


# --- images ------------------------------------------------------------------------------------


def image_output_messages(data: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for image in data or ():
        url = field(image, "url")
        b64 = field(image, "b64_json")
        if url:
            parts.append(_uri_part(url, "image"))
        elif b64:
            size = (len(b64) * 3) // 4
            parts.append(
                {
                    "type": "blob",
                    "modality": "image",
                    "content": _ELIDED.format(size=size, mime="image"),
                }
            )
        revised = field(image, "revised_prompt")
        if revised:
            parts.append({"type": "text", "content": revised})
    return [{"role": "assistant", "parts": parts, "finish_reason": "stop"}]
