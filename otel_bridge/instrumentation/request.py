"""Span attributes known before the call: operation, model, provider, server, parameters, metadata.

Built once per call as one dict and handed to ``start_span(attributes=...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_bridge import attributes as keys
from otel_bridge.deferred_content import PendingContent
from otel_bridge.instrumentation import content
from otel_bridge.instrumentation.content import safe_str, utf8_safe
from otel_bridge.instrumentation.fields import as_int64
from otel_bridge.instrumentation.operations import (
    CHAT,
    EMBEDDINGS,
    IMAGE,
    RESPONSES,
    TEXT_COMPLETION,
    Operation,
)
from otel_bridge.instrumentation.providers import (
    default_server,
    provider_name,
    resolve_model,
    server_of,
)

_NUMBER_PARAMS = (
    ("temperature", keys.REQUEST_TEMPERATURE, float),
    ("top_p", keys.REQUEST_TOP_P, float),
    ("frequency_penalty", keys.REQUEST_FREQUENCY_PENALTY, float),
    ("presence_penalty", keys.REQUEST_PRESENCE_PENALTY, float),
    ("seed", keys.REQUEST_SEED, int),
    ("top_k", keys.REQUEST_TOP_K, int),
)
_MAX_TOKENS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


def bound(op: Operation, args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Any:
    """The value of parameter ``name`` whether passed by keyword or by position."""
    value = kwargs.get(name)
    if value is None and args:
        try:
            index = op.positional.index(name)
        except ValueError:
            return None
        if index < len(args):
            return args[index]
    return value


def set_provider(attrs: dict[str, Any], litellm_provider: str | None) -> None:
    """gen_ai.provider.name, plus LiteLLM's own name when the conventions' differs from it."""
    provider = provider_name(litellm_provider)
    if provider:
        attrs[keys.PROVIDER_NAME] = provider
        if provider != litellm_provider:
            attrs[keys.LITELLM_PROVIDER] = litellm_provider


def set_server(attrs: dict[str, Any], api_base: Any, litellm_provider: str | None) -> bool:
    """server.address/port from ``api_base``, else the provider's default endpoint.

    Returns True only when an explicit ``api_base`` gave the address (a default may still be
    corrected from the api_base LiteLLM reports with the response).
    """
    server = server_of(api_base) if isinstance(api_base, str) and api_base else None
    explicit = server is not None
    if server is None:
        server = default_server(litellm_provider)
    if server is None:
        return False
    attrs[keys.SERVER_ADDRESS] = server[0]
    if server[1] is not None:
        attrs[keys.SERVER_PORT] = server[1]
    return explicit


# Request tags are the caller's (any client of a proxy): bounded, so that with the trace tags
# made of them they stay far below the SDK's 128 attributes a span keeps (past it the OLDEST
# go, the conventions' own), and so that a million of them cost no more than 32.
MAX_TAGS = 32
MAX_TAG_LENGTH = 256
_MAX_SCANNED = 256  # entries looked at, per list


def bounded_tags(sources: list[Any]) -> tuple[list[str], int]:
    """The first :data:`MAX_TAGS` distinct tags of at most :data:`MAX_TAG_LENGTH` characters
    found in ``sources`` (lists of tags, or single tags), and how many were left out
    (repeats of a kept tag are not counted)."""
    tags: list[str] = []
    dropped = 0
    for found in sources:
        if isinstance(found, str):
            found = [found]
        elif not isinstance(found, (list, tuple)):
            continue
        window = found[:_MAX_SCANNED]
        dropped += len(found) - len(window)
        for tag in window:
            text = safe_str(tag)
            if text in tags:
                continue
            if len(text) > MAX_TAG_LENGTH or len(tags) >= MAX_TAGS:
                dropped += 1
            else:
                tags.append(text)
    return tags, dropped


def _metadata(attrs: dict[str, Any], kwargs: dict[str, Any]) -> None:
    found: list[Any] = []
    session = conversation = user = None
    for name in ("metadata", "litellm_metadata"):
        md = kwargs.get(name)
        if not isinstance(md, dict) or not md:
            continue
        found.append(md.get("tags"))
        session = session or md.get("session_id")
        conversation = conversation or md.get("conversation_id")
        user = user or md.get("user_id")
    user = kwargs.get("user") or user
    tags, dropped = bounded_tags(found) if found else ((), 0)
    if dropped:
        attrs[keys.LITELLM_REQUEST_TAGS_DROPPED] = dropped
    if tags:
        attrs[keys.LITELLM_REQUEST_TAGS] = tags
    if user:
        attrs[keys.USER_ID] = safe_str(user)
    if session:
        attrs[keys.SESSION_ID] = safe_str(session)
    conversation = conversation or kwargs.get("conversation") or session
    if isinstance(conversation, str) and conversation:
        attrs[keys.CONVERSATION_ID] = safe_str(conversation)


def _number(value: Any, cast: type) -> Any:
    """``value`` as a float or an int an OTLP attribute can hold (int64); None otherwise."""
    if cast is int:
        return as_int64(value)
    if isinstance(value, bool):
        return None
    try:
        return cast(value)
    except Exception:
        return None


def _params(attrs: dict[str, Any], op: Operation, kwargs: dict[str, Any]) -> None:
    for name, key, cast in _NUMBER_PARAMS:
        value = kwargs.get(name)
        if value is not None:
            value = _number(value, cast)
            if value is not None:
                attrs[key] = value
    for name in _MAX_TOKENS:
        value = kwargs.get(name)
        if value is not None:
            value = _number(value, int)
            if value is not None:
                attrs[keys.REQUEST_MAX_TOKENS] = value
            break
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        if stop:
            attrs[keys.REQUEST_STOP_SEQUENCES] = [safe_str(stop)]
    elif isinstance(stop, (list, tuple)) and stop:
        attrs[keys.REQUEST_STOP_SEQUENCES] = [safe_str(s) for s in stop]
    n = kwargs.get("n")
    if n is not None and n != 1:
        n = _number(n, int)
        if n is not None:
            attrs[keys.REQUEST_CHOICE_COUNT] = n
    if kwargs.get("stream"):
        attrs[keys.REQUEST_STREAM] = True
    if op.kind == EMBEDDINGS:
        fmt = kwargs.get("encoding_format")
        if fmt:
            attrs[keys.REQUEST_ENCODING_FORMATS] = [safe_str(fmt)]
    elif op.kind == IMAGE:
        attrs[keys.OUTPUT_TYPE] = "image"
    else:
        fmt = kwargs.get("response_format") if op.kind != RESPONSES else kwargs.get("text")
        if fmt is not None:
            kind = fmt.get("type") if isinstance(fmt, dict) else None
            if isinstance(fmt, dict) and op.kind == RESPONSES:
                inner = fmt.get("format")
                kind = inner.get("type") if isinstance(inner, dict) else None
            if kind == "text":
                attrs[keys.OUTPUT_TYPE] = "text"
            elif kind in ("json_object", "json_schema") or isinstance(fmt, type):
                attrs[keys.OUTPUT_TYPE] = "json"


def _kept(value: Any, pending: PendingContent | None) -> Any:
    """What the app passed, as it is now, when its content is serialised later: the list and
    each message dict copied (not the text), as an agent appends the reply to the very list it
    passed, or edits a message, once the call has returned."""
    if pending is None or type(value) is not list:
        return value
    kept = []
    for item in value:  # a loop, not a function per message: this runs on the app's thread
        if type(item) is dict:
            item = item.copy()
            parts = item.get("content")
            if type(parts) is list:
                item["content"] = parts[:]
        kept.append(item)
    return kept


def _content(
    attrs: dict[str, Any],
    op: Operation,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    max_length: int,
    pending: PendingContent | None,
) -> None:
    put = content.put
    build: Callable[[Any], Any]
    kind = op.kind
    if kind == CHAT:
        messages = bound(op, args, kwargs, "messages")
        if messages:
            put(
                attrs,
                keys.INPUT_MESSAGES,
                max_length,
                pending,
                content.chat_input_messages,
                _kept(messages, pending),
            )
    elif kind == RESPONSES:
        items = bound(op, args, kwargs, "input")
        if items and isinstance(items, (str, list, tuple)):
            build = content.responses_input_messages
            put(attrs, keys.INPUT_MESSAGES, max_length, pending, build, _kept(items, pending))
        instructions = kwargs.get("instructions")
        if instructions:
            build = content.text_parts
            put(attrs, keys.SYSTEM_INSTRUCTIONS, max_length, pending, build, instructions)
    elif kind in (TEXT_COMPLETION, IMAGE):
        prompt = bound(op, args, kwargs, "prompt")
        if prompt is not None:
            build = content.prompt_messages
            put(attrs, keys.INPUT_MESSAGES, max_length, pending, build, _kept(prompt, pending))
    elif kind == EMBEDDINGS:
        value = bound(op, args, kwargs, "input")
        if value is not None:
            build = _embedding_input
            put(attrs, keys.SPAN_INPUT, max_length, pending, build, _kept(value, pending))
    tools = kwargs.get("tools")
    if tools:
        build = content.tool_definitions
        put(attrs, keys.TOOL_DEFINITIONS, max_length, pending, build, _kept(tools, pending))


def _embedding_input(value: Any) -> dict[str, Any]:
    return {"input": value}


class Request:
    """What the span needs to know about the request beyond its start attributes."""

    __slots__ = ("litellm_provider", "model", "server_known", "span_name")

    def __init__(self, model: str, litellm_provider: str | None, span_name: str, known: bool):
        self.model = model
        self.litellm_provider = litellm_provider
        self.span_name = span_name
        self.server_known = known


def start_attributes(
    op: Operation,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    capture: bool,
    max_length: int,
    router: bool = False,
    pending: PendingContent | None = None,
) -> tuple[dict[str, Any], Request]:
    """Start attributes of a call; for a Router call the model is the model group's name and the
    provider is learnt from the deployment the Router picks. With ``pending`` the content is
    left to it (:func:`otel_bridge.instrumentation.content.put`)."""
    operation = op.operation_name
    attrs: dict[str, Any] = {keys.OPERATION_NAME: operation}
    raw_model = bound(op, args, kwargs, "model")
    model = ""
    litellm_provider = kwargs.get("custom_llm_provider")
    if isinstance(raw_model, str) and raw_model:
        if not raw_model.isascii():
            raw_model = utf8_safe(raw_model)
        if router:
            model = raw_model
        else:
            model, litellm_provider = resolve_model(raw_model, litellm_provider)
        attrs[keys.REQUEST_MODEL] = model
    set_provider(attrs, litellm_provider)
    if op.kind == RESPONSES and litellm_provider in ("openai", "azure"):
        attrs[keys.OPENAI_API_TYPE] = "responses"
    elif op.kind == CHAT and litellm_provider in ("openai", "azure"):
        attrs[keys.OPENAI_API_TYPE] = "chat_completions"
    known = set_server(attrs, kwargs.get("api_base") or kwargs.get("base_url"), litellm_provider)
    _params(attrs, op, kwargs)
    _metadata(attrs, kwargs)
    if capture:
        _content(attrs, op, args, kwargs, max_length, pending)
    span_name = f"{operation} {model}" if model else operation
    return attrs, Request(model, litellm_provider, span_name, known)
