"""Message content in the GenAI conventions' JSON shapes, serialised safely and bounded in size.

Shapes (semantic-conventions-genai ``gen-ai-input-messages.json`` / ``-output-messages.json`` /
``-system-instructions.json`` / ``-tool-definitions.json``)::

    input:  [{"role": "user", "parts": [{"type": "text", "content": "..."}]},
             {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "f",
                                              "arguments": {...}}]},
             {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                         "response": "..."}]}]
    output: [{"role": "assistant", "parts": [...]}]  (no "finish_reason": deprecated there, the
            reasons are in gen_ai.response.finish_reasons)
    system: [{"type": "text", "content": "..."}]
    tools:  [{"type": "function", "name": "f", "description": "...", "parameters": {...}}]

Binary data never goes in: a base64 ``data:`` URL (or an Anthropic/Gemini base64 ``source`` /
``inline_data``, or any long base64 string in a part of an unknown type) becomes a ``blob`` part
whose content is replaced by a short note of its size. Nothing here raises: every value that
``json`` cannot encode falls back to ``model_dump``/``str``/``repr``, and a structure ``json``
refuses whole (cycles, non-string keys, nesting deeper than the interpreter's recursion limit,
integers too long to print) is rebuilt bounded in depth and size. The JSON text is valid UTF-8
(lone surrogates become U+FFFD) and key-shaped strings in it are masked
(:func:`otel_bridge.redaction.scrub_shapes`), after truncation, so the cost is bounded by
``max_length``; a cut never leaves the beginning of a long token behind.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from otel_bridge.deferred_content import PendingContent
from otel_bridge.instrumentation.fields import field
from otel_bridge.redaction import KEY_PREFIXES, known_secrets, replace_known, scrub_shapes

DEFAULT_MAX_CONTENT_LENGTH = 64 * 1024
"""Default limit, in characters, of one content attribute value."""

TRUNCATION_MARKER = "…[truncated by otel-bridge: {removed} of {total} chars]"
"""Appended where text was cut; ``removed``/``total`` count characters."""

_ELIDED = "[elided by otel-bridge: {size} bytes of base64 {mime}]"

_MAX_DEPTH = 32  # of a structure rebuilt when json refuses it
_MAX_NODES = 10_000
_MAX_INT_BITS = 14_000  # str() refuses integers of more than 4300 digits (~14284 bits)
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.+/=~")
_MAX_TOKEN_BACKOFF = 256
_SURROGATE = re.compile("[\ud800-\udfff]")


def _fallback(value: Any) -> Any:
    try:
        dump = getattr(value, "model_dump", None)
    except Exception:
        dump = None
    if dump is not None and callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return f"[{len(value)} bytes]"
        except Exception:
            return "[bytes]"
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f"<unserialisable {type(value).__name__}>"


# Built once: json.dumps with arguments builds a new encoder per call (~1 µs each time).
_ENCODER = json.JSONEncoder(default=_fallback, ensure_ascii=False, separators=(",", ":"))


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


class _Budget:
    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes = _MAX_NODES


def _jsonable(value: Any, depth: int, path: set[int], budget: _Budget) -> Any:
    """``value`` as plain JSON types, bounded: for what ``json.dumps`` refused whole."""
    budget.nodes -= 1
    if budget.nodes < 0:
        return "…"
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return (
            int(value)
            if value.bit_length() <= _MAX_INT_BITS
            else f"<int of {value.bit_length()} bits>"
        )
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if depth >= _MAX_DEPTH:
        return "…"
    ident = id(value)
    if ident in path:
        return "<cycle>"
    path.add(ident)
    try:
        if isinstance(value, Mapping):
            return {
                (k if isinstance(k, str) else safe_str(k)): _jsonable(v, depth + 1, path, budget)
                for k, v in list(value.items())
            }
        if isinstance(value, (list, tuple, set, frozenset)):
            return [_jsonable(v, depth + 1, path, budget) for v in list(value)]
        converted = _fallback(value)
        if isinstance(converted, str):
            return converted
        return _jsonable(converted, depth + 1, path, budget)
    finally:
        path.discard(ident)


def _dumps_bounded(value: Any) -> tuple[str, Any]:
    """(JSON text, the value it encodes): ``json.dumps`` first, a bounded rebuild if it refuses."""
    try:
        return _dumps(value), value
    except Exception:  # cycles, non-string keys, too deep, an int too long, a raising default
        pass
    try:
        rebuilt = _jsonable(value, 0, set(), _Budget())
        return _dumps(rebuilt), rebuilt
    except Exception:
        return '"<unserialisable>"', None


def utf8_safe(text: str) -> str:
    """``text`` encodable as UTF-8 (OTLP and protobuf refuse lone surrogates): each replaced by
    U+FFFD, so the length is unchanged."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def safe_str(value: Any) -> str:
    """``str(value)``, never raising, valid UTF-8: for attribute values taken from the caller."""
    if type(value) is not str:
        try:
            value = str(value)
        except Exception:
            return f"<{type(value).__name__}>"
        if not isinstance(value, str):
            return f"<{type(value).__name__}>"
    return value if value.isascii() else utf8_safe(value)


def to_json(
    value: Any, max_length: int = DEFAULT_MAX_CONTENT_LENGTH, secrets: Iterable[str] = ()
) -> str:
    """JSON text of ``value``, at most about ``max_length`` characters; never raises.

    Over the limit, long strings inside the value are shortened first (so the result stays valid
    JSON); if that is not enough the text itself is cut and the marker appended. The known
    ``secrets`` (longest first) are masked before any cut (a cut never leaves half of one),
    key-shaped strings after it; the text is valid UTF-8.
    """
    try:
        text, encoded = _dumps_bounded(value)
        if secrets:
            masked = replace_known(text, secrets)
            if masked != text and len(masked) > max_length:
                encoded = _loads_or_none(masked)  # shortened from the masked value
            text = masked
        if len(text) > max_length:
            if encoded is _UNPARSED:
                text = truncate(text, max_length)
            else:
                text = _bounded(encoded, text, max_length)
        return utf8_safe(scrub_shapes(text))
    except Exception:  # e.g. MemoryError building the text of a huge value
        return '"<unserialisable>"'


_UNPARSED = object()


def _loads_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except Exception:
        return _UNPARSED  # then the text itself is cut


def put(
    attrs: dict[str, Any],
    key: str,
    max_length: int,
    pending: PendingContent | None,
    build: Callable[..., Any],
    *args: Any,
) -> None:
    """``attrs[key]``: the JSON of ``build(*args)``, now; or, with ``pending`` (under the
    bridge's pipeline), built and serialised later by the destinations' workers. ``args`` must
    not change after the call: a list the app owns (its messages) is passed as a copy."""
    if pending is None:
        attrs[key] = to_json(build(*args), max_length, known_secrets())
    else:
        pending.items.append((key, build, args))


def _bounded(value: Any, text: str, max_length: int) -> str:
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
    keep = _token_start(text, max(0, max_length - 64))
    return text[:keep] + TRUNCATION_MARKER.format(removed=len(text) - keep, total=len(text))


def _token_start(text: str, cut: int) -> int:
    """``cut``, moved back to where a key-shaped token it would split begins (the beginning of
    a key, cut too short for the scrubber to recognise, must not be left behind)."""
    if cut <= 0 or cut >= len(text) or text[cut] not in _TOKEN_CHARS:
        return cut
    floor = max(0, cut - _MAX_TOKEN_BACKOFF)
    start = cut
    while start > floor and text[start - 1] in _TOKEN_CHARS:
        start -= 1
    segment = text[start:cut]
    found = [i for i in (segment.find(p) for p in KEY_PREFIXES) if i >= 0]
    return start + min(found) if found else cut


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
    url = url if isinstance(url, str) else safe_str(url)
    return _data_url_part(url, modality) or {"type": "uri", "modality": modality, "uri": url}


def _base64_size(data: Any) -> int:
    try:
        return (len(data) * 3) // 4 if isinstance(data, str) else len(data)
    except Exception:
        return 0


def _blob(modality: str, mime: Any, data: Any) -> dict[str, Any]:
    mime = safe_str(mime) if mime else None
    return {
        "type": "blob",
        "modality": modality,
        "mime_type": mime,
        "content": _ELIDED.format(size=_base64_size(data), mime=mime or "data"),
    }


_MODALITIES = {"image": "image", "audio": "audio", "document": "document", "video": "video"}
_BASE64 = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")
_MIN_ELIDED = 1024  # a string this long made of base64 characters only is binary data


def _source_part(kind: Any, part: Any) -> dict[str, Any] | None:
    """Anthropic ``{"type": "image", "source": {"type": "base64", "media_type", "data"}}`` and
    Gemini ``inline_data`` / ``file_data`` parts."""
    source = field(part, "source")
    modality = _MODALITIES.get(kind, "document") if isinstance(kind, str) else "document"
    if source is not None:
        source_type = field(source, "type")
        if source_type == "base64":
            return _blob(modality, field(source, "media_type"), field(source, "data"))
        if source_type == "url":
            return _uri_part(field(source, "url") or "", modality)
        return None
    inline = field(part, "inline_data")
    if inline is not None:
        mime = field(inline, "mime_type")
        kind = mime.split("/", 1)[0] if isinstance(mime, str) else None
        return _blob(_MODALITIES.get(kind, "document"), mime, field(inline, "data"))
    return None


def _elide_binary(value: Any, depth: int = 0) -> Any:
    """A part of a type not known here: long base64 strings in it replaced by a note."""
    if isinstance(value, str):
        if len(value) >= _MIN_ELIDED and _BASE64.fullmatch(value):
            return _ELIDED.format(size=_base64_size(value), mime="data")
        if value.startswith("data:") and len(value) >= _MIN_ELIDED:
            return _data_url_part(value, "document")
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _fallback(value)
    if depth >= 4:
        return value
    if isinstance(value, dict):
        return {k: _elide_binary(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_elide_binary(v, depth + 1) for v in value]
    return value


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
        return _blob("audio", f"audio/{safe_str(fmt)}" if fmt else None, field(audio, "data"))
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
    blob = _source_part(kind, part)
    if blob is not None:
        return blob
    generic = _fallback(part) if not isinstance(part, dict) else part
    name = safe_str(kind) if kind else "unknown"
    if isinstance(generic, dict):
        return {"type": name, **{k: _elide_binary(v) for k, v in generic.items() if k != "type"}}
    return {"type": name, "content": _elide_binary(generic)}


def _sequence(value: Any) -> list[Any] | tuple[Any, ...]:
    """A list or tuple as it is; anything else as nothing. Iterating a generator or another
    one-shot iterable here would consume what the caller handed to LiteLLM."""
    return value if isinstance(value, (list, tuple)) else ()


# Items of one list (messages, parts of a message) built into content: at most this many, the
# rest noted. The JSON is bounded by max_length anyway, but serialising a million parts first
# holds the interpreter's lock for seconds (json is C), stalling every thread of the app.
MAX_ITEMS = 1000
_ELIDED_ITEMS = "…[{count} more {what} elided by otel-bridge]"


def _elided(count: int, what: str) -> dict[str, Any]:
    return {"type": "text", "content": _ELIDED_ITEMS.format(count=count, what=what)}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, (list, tuple)):
        parts = [_content_part(p) for p in content[:MAX_ITEMS]]
        if len(content) > MAX_ITEMS:
            parts.append(_elided(len(content) - MAX_ITEMS, "parts"))
        return parts
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
    messages = _sequence(messages)
    for message in messages[:MAX_ITEMS]:
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
        for call in _sequence(field(message, "tool_calls")):
            parts.append(_tool_call_part(call))
        legacy = field(message, "function_call")
        if legacy:
            parts.append(_tool_call_part({"function": legacy}))
        entry: dict[str, Any] = {"role": role, "parts": parts}
        name = field(message, "name")
        if name:
            entry["name"] = name
        result.append(entry)
    if len(messages) > MAX_ITEMS:
        result.append({"role": "user", "parts": [_elided(len(messages) - MAX_ITEMS, "messages")]})
    return result


def chat_output_message(message: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    reasoning = field(message, "reasoning_content")
    if reasoning:
        parts.append({"type": "reasoning", "content": reasoning})
    parts.extend(_content_parts(field(message, "content")))
    for call in _sequence(field(message, "tool_calls")):
        parts.append(_tool_call_part(call))
    return {"role": field(message, "role") or "assistant", "parts": parts}


def tool_definitions(tools: Iterable[Any]) -> list[Any]:
    """OpenAI ``tools=[{"type": "function", "function": {...}}]`` flattened per the conventions."""
    result: list[Any] = []
    for tool in _sequence(tools):
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
    return [{"type": "text", "content": text if isinstance(text, str) else safe_str(text)}]


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
    for item in _sequence(items):
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


def responses_output_messages(output: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for item in _sequence(output):
        kind = field(item, "type")
        if kind == "message":
            parts.extend(_content_parts(field(item, "content")))
        elif kind == "function_call":
            parts.append(_tool_call_part(item))
        elif kind == "reasoning":
            for summary in _sequence(field(item, "summary")):
                parts.append({"type": "reasoning", "content": field(summary, "text")})
        else:
            parts.append(_content_part(item))
    return [{"role": "assistant", "parts": parts}]


# --- images ------------------------------------------------------------------------------------


def image_output_messages(data: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for image in _sequence(data):
        url = field(image, "url")
        b64 = field(image, "b64_json")
        if url:
            parts.append(_uri_part(url, "image"))
        elif b64:
            parts.append(
                {
                    "type": "blob",
                    "modality": "image",
                    "content": _ELIDED.format(size=_base64_size(b64), mime="image"),
                }
            )
        revised = field(image, "revised_prompt")
        if revised:
            parts.append({"type": "text", "content": revised})
    return [{"role": "assistant", "parts": parts}]
