"""Every attribute name and type the bridge emits, against the GenAI conventions' own registry
(vendored in tests/conventions/, see its README): the next rename upstream is a failing test."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import litellm
import pytest
import yaml
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.instrumentation import trace
from otel_bridge.proxy import OtelBridgeHandler
from tests.proxy.callback_events import END, START, chat_kwargs, chat_response
from tests.support.openai_server import ErrorReply, Reply

from .helpers import USER, server_kwargs
from .test_http import WEATHER_TOOL

CONVENTIONS = Path(__file__).resolve().parents[1] / "conventions"

# Emitted names the GenAI registry does not define, each with why it is there and its type.
ALLOWED: dict[str, tuple[str, str]] = {
    # core semantic conventions (their own registry, not the GenAI one)
    "server.address": ("string", "core semconv server.* (stable)"),
    "server.port": ("int", "core semconv server.* (stable)"),
    "error.type": ("string", "core semconv error.* (stable)"),
    "http.response.status_code": ("int", "core semconv http.* (stable), on HTTP errors"),
    "user.id": ("string", "core semconv user.* (development); MLflow reads it"),
    "session.id": ("string", "core semconv session.* (development); MLflow reads it"),
    "openai.api.type": ("string", "the GenAI repo's OpenAI registry (not vendored)"),
    # where the conventions are silent: the bridge's own names
    "litellm.response_cost": ("double", "USD as LiteLLM priced the call; no GenAI attribute"),
    "litellm.usage.estimated": ("boolean", "usage counted with LiteLLM's tokenizer (a stream)"),
    "litellm.request.tags": ("string[]", "the call's metadata tags"),
    "litellm.provider": ("string", "LiteLLM's provider name when it differs from the GenAI one"),
    "litellm.router.model_group": ("string", "the model group a Router was asked for"),
    "litellm.router.model_id": ("string", "the Router deployment used"),
    "litellm.api_base": ("string", "the Router deployment's endpoint (credentials masked)"),
    "litellm.call_id": ("string", "the proxy's call id"),
    "litellm.proxy.key.hash": ("string", "proxy: the virtual key's hash, never the key"),
    "litellm.proxy.key.alias": ("string", "proxy: the virtual key's alias"),
    "litellm.proxy.team.id": ("string", "proxy: the key's team"),
    "litellm.proxy.team.alias": ("string", "proxy: the key's team alias"),
    "litellm.proxy.user.id": ("string", "proxy: the key's user"),
    "litellm.proxy.org.id": ("string", "proxy: the key's organisation"),
    "litellm.proxy.org.alias": ("string", "proxy: the key's organisation alias"),
    "litellm.proxy.end_user": ("string", "proxy: the end user the request named"),
    "litellm.span.type": (
        "string",
        "a trace step's kind where the conventions have none (CHAIN...)",
    ),
    "litellm.span.input": ("string", "a step's or an embedding's input (JSON), content only"),
    "litellm.span.output": ("string", "a step's or an embedding's output (JSON), content only"),
}
# MLflow's keys (mlflow.*) are never emitted: the MLflow destination derives them (issue 14).
ALLOWED_PREFIXES: dict[str, tuple[str, str]] = {}


def load_registry() -> tuple[dict[str, str], dict[str, str | None], list[str]]:
    """(key -> type, deprecated key -> replacement, deprecated output-message fields)."""
    document = yaml.safe_load((CONVENTIONS / "gen-ai-registry.yaml").read_text())
    changes = yaml.safe_load((CONVENTIONS / "changes.yaml").read_text())
    types: dict[str, str] = {}
    for entry in document["attributes"]:
        kind = entry["type"]
        types[entry["key"]] = "string" if isinstance(kind, dict) else kind  # enums are strings
    types.update(changes["retyped"])
    deprecated: dict[str, str | None] = dict(changes["deprecated"])
    for old, new in changes["renamed"].items():
        types[new] = types.pop(old)
        deprecated[old] = new
    return types, deprecated, list(changes["output_message_fields_deprecated"])


def type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (tuple, list)) and value:
        return type_of(value[0]) + "[]"
    return type(value).__name__


def fits(expected: str, value: Any) -> bool:
    if expected == "any":  # structured content, recorded on spans as JSON text
        return isinstance(value, str)
    return type_of(value) == expected


def problems(emitted: dict[str, set[str]], values: dict[str, Any]) -> list[str]:
    types, deprecated, _ = load_registry()
    found = []
    for key, seen_types in sorted(emitted.items()):
        if key in deprecated:
            found.append(f"{key}: deprecated (use {deprecated[key]})")
            continue
        expected = types.get(key)
        if expected is None:
            allowed = ALLOWED.get(key) or next(
                (v for p, v in ALLOWED_PREFIXES.items() if key.startswith(p)), None
            )
            if allowed is None:
                found.append(f"{key}: not in the GenAI registry nor in the allow-list")
                continue
            expected = allowed[0]
        if not fits(expected, values[key]) or len(seen_types) > 1:
            found.append(f"{key}: {sorted(seen_types)} where the registry says {expected}")
    return found


# -- the scenarios ---------------------------------------------------------------------------


def run_scenarios(openai_server: Any) -> None:
    http = server_kwargs(openai_server)
    litellm.completion(
        model="openai/gpt-4o-mini",
        messages=USER,
        mock_response="hi",
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        max_tokens=20,
        seed=3,
        stop=["END"],
        n=2,
        response_format={"type": "json_object"},
        frequency_penalty=0.1,
        presence_penalty=0.1,
        user="u-1",
        metadata={"tags": ["team:ml", "plain"], "session_id": "s-1"},
    )
    openai_server.enqueue(
        Reply(content="one two", chunk_delay=0.0, cached_tokens=2),
        Reply(tool_calls=[{"id": "c1", "name": "get_weather", "arguments": '{"location": "X"}'}]),
        Reply(content="resp", id="resp_7"),
        ErrorReply(status=500, message="boom"),
        ErrorReply(status=401, message="bad key", type="invalid_request_error"),
    )
    stream = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
        **http,
    )
    list(stream)
    litellm.completion(model="openai/gpt-4o-mini", messages=USER, tools=[WEATHER_TOOL], **http)
    litellm.responses(model="openai/gpt-4o-mini", input="hi", instructions="Be brief.", **http)
    for error in (litellm.InternalServerError, litellm.AuthenticationError):
        with pytest.raises(error):
            litellm.completion(model="openai/gpt-4o-mini", messages=USER, **http)
    litellm.embedding(model="openai/text-embedding-3-small", input=["a", "b"], **http)
    litellm.text_completion(model="openai/gpt-3.5-turbo-instruct", prompt="say", **http)
    litellm.image_generation(model="openai/dall-e-3", prompt="a cat", **http)
    router = litellm.Router(
        model_list=[
            {"model_name": "g", "litellm_params": {"model": "openai/gpt-4o-mini", **http}},
        ]
    )
    router.completion(model="g", messages=USER)

    @trace(span_type="TOOL")
    def lookup(city: str, tool_call_id: str | None = None) -> str:
        """Look up the weather."""
        return "sunny"

    @trace(span_type="AGENT")
    def agent() -> str:
        lookup("Oslo", tool_call_id="call_1")
        with trace(name="step"):
            litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="x")
        return "done"

    @trace
    def failing() -> None:
        raise ValueError("no")

    agent()
    with pytest.raises(ValueError):
        failing()


def proxy_attributes() -> list[dict[str, Any]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = OtelBridgeHandler(tracer_provider=provider, capture_content=True)
    asyncio.run(handler.async_log_success_event(chat_kwargs(), chat_response(), START, END))
    asyncio.run(
        handler.async_log_success_event(chat_kwargs(stream=True), chat_response(), START, END)
    )
    failed = chat_kwargs(failed=True, exception=RuntimeError("upstream down"))
    asyncio.run(handler.async_log_failure_event(failed, None, START, END))
    provider.shutdown()
    return [dict(span.attributes or {}) for span in exporter.get_finished_spans()]


def test_every_emitted_attribute_is_in_the_registry_with_its_type(
    instrumented, exporter, openai_server
):
    run_scenarios(openai_server)
    spans = [dict(s.attributes or {}) for s in exporter.get_finished_spans()]
    spans += proxy_attributes()
    emitted: dict[str, set[str]] = {}
    values: dict[str, Any] = {}
    for attributes in spans:
        for key, value in attributes.items():
            emitted.setdefault(key, set()).add(type_of(value))
            values[key] = value
    # the scenarios did reach what the rows of issue 15 are about
    for key in (
        "gen_ai.request.top_k",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.tool.description",
        "gen_ai.embeddings.dimension.count",
        "gen_ai.response.time_to_first_chunk",
        "gen_ai.system_instructions",
        "litellm.proxy.key.hash",
    ):
        assert key in emitted, key
    assert problems(emitted, values) == []
    assert len(emitted) >= 50, sorted(emitted)
    _, _, message_fields = load_registry()
    for attributes in spans:
        if "gen_ai.output.messages" in attributes:
            for message in json.loads(attributes["gen_ai.output.messages"]):
                assert not set(message) & set(message_fields), message


@pytest.mark.parametrize(
    ("emitted", "complaint"),
    [
        ({"gen_ai.usage.cache_creation.input_tokens": 3}, "deprecated"),
        ({"gen_ai.system": "openai"}, "deprecated"),
        ({"gen_ai.request.top_k": 40.0}, "where the registry says int"),
        ({"gen_ai.usage.input_tokens": "3"}, "where the registry says int"),
        ({"gen_ai.request.made_up": 1}, "not in the GenAI registry"),
        ({"litellm.unlisted": 1}, "not in the GenAI registry"),
        ({"server.port": "443"}, "where the registry says int"),
    ],
)
def test_the_check_fails_what_the_conventions_refuse(emitted, complaint):
    [found] = problems({k: {type_of(v)} for k, v in emitted.items()}, emitted)
    assert complaint in found


def test_the_check_passes_what_the_conventions_define():
    ok = {
        "gen_ai.usage.cache_write.input_tokens": 3,
        "gen_ai.request.top_k": 40,
        "gen_ai.output.messages": "[]",
        "gen_ai.provider.name": "openai",
        "litellm.span.type": "CHAIN",
    }
    assert problems({k: {type_of(v)} for k, v in ok.items()}, ok) == []
