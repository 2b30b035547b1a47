"""Content only when capture is on; bounded, never raising, no binary payloads."""

from __future__ import annotations

import asyncio
import json

import litellm
import pytest

from otel_bridge.attributes import CONTENT_ATTRIBUTES
from otel_bridge.instrumentation import content, trace
from otel_bridge.instrumentation.content import TRUNCATION_MARKER, to_json

from .helpers import USER, attrs, json_attr, llm_spans, one_span
from .test_http import WEATHER_TOOL

_MARKER = TRUNCATION_MARKER.split("{", 1)[0]


def _all_calls() -> None:
    litellm.completion(
        model="openai/gpt-4o-mini", messages=USER, tools=[WEATHER_TOOL], mock_response="x"
    )
    list(
        litellm.completion(
            model="openai/gpt-4o-mini", messages=USER, mock_response="x y", stream=True
        )
    )
    litellm.text_completion(model="openai/gpt-3.5-turbo-instruct", prompt="p", mock_response="x")
    litellm.embedding(model="openai/text-embedding-3-small", input=["a"], mock_response=[0.1])
    litellm.responses(model="openai/gpt-4o-mini", input="hi", instructions="s", mock_response="x")
    litellm.image_generation(model="openai/dall-e-3", prompt="cat", mock_response="x")
    trace(span_type="TOOL")(lambda location: "rainy")("Paris")
    trace(lambda x: x)(1)
    trace(span_type="AGENT", name="a")(lambda q: q)("q")


def test_capture_off_writes_no_content(instrument, exporter, monkeypatch):
    instrument(capture_content=False)

    def refuse(*args, **kwargs):
        raise AssertionError("content serialised although capture is off")

    monkeypatch.setattr(content, "to_json", refuse)
    monkeypatch.setattr("otel_bridge.instrumentation.decorator.to_json", refuse)
    _all_calls()
    spans = exporter.get_finished_spans()
    assert len(spans) == 9
    for span in spans:
        assert not CONTENT_ATTRIBUTES & set(attrs(span)), span.name


def test_capture_on_writes_content(instrument, exporter):
    instrument(capture_content=True)
    _all_calls()
    written = set().union(*(set(attrs(s)) for s in exporter.get_finished_spans()))
    assert {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "litellm.span.input",
        "litellm.span.output",
    } <= written
    # content is written only under the keys the pipeline strips
    for span in exporter.get_finished_spans():
        for key, value in attrs(span).items():
            if isinstance(value, str) and ("Hi - i'm openai" in value or value == '"rainy"'):
                assert key in CONTENT_ATTRIBUTES, key


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # Without the bridge's pipeline nothing strips content per destination: capture only
        # when the OTLP side may receive it.
        ({}, False),
        ({"OTEL_BRIDGE_CONTENT_DESTINATIONS": "mlflow"}, False),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"}, False),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, True),
        ({"OTEL_BRIDGE_CONTENT_DESTINATIONS": "none"}, False),
        ({"OTEL_BRIDGE_CONTENT_DESTINATIONS": "otlp"}, True),
    ],
)
def test_capture_none_follows_the_environment(instrument, exporter, clean_env, env, expected):
    for name, value in env.items():
        clean_env.setenv(name, value)
    instrument(capture_content=None)
    litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="x")
    trace(lambda: 1)()
    for span in exporter.get_finished_spans():
        assert bool(CONTENT_ATTRIBUTES & set(attrs(span))) is expected


def test_truncation_keeps_json_valid(instrument, exporter):
    instrument(max_content_length=500)
    long_text = "word " * 2000
    litellm.completion(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": long_text}],
        mock_response=long_text,
    )
    span = one_span(exporter)
    for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
        value = attrs(span)[key]
        assert len(value) <= 500
        assert _MARKER in value
        assert json.loads(value)[0]["parts"][0]["content"].startswith("word word")


def test_truncation_of_unstructured_text():
    text = to_json("x" * 10_000, 300)
    assert len(text) <= 300
    assert _MARKER in text
    assert to_json("short", 300) == '"short"'


def test_default_limit_is_64_kib(instrumented, exporter):
    litellm.completion(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "y" * 200_000}],
        mock_response="ok",
    )
    value = attrs(one_span(exporter))["gen_ai.input.messages"]
    assert len(value) <= 64 * 1024
    assert _MARKER in value


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"

    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_unserialisable_values_never_raise(instrumented, exporter):
    cyclic: list = []
    cyclic.append(cyclic)
    assert to_json(cyclic)  # a cycle falls back to text
    assert to_json({"a": Opaque(), "b": b"\x00\x01", "c": {1, 2}}) == (
        '{"a":"<Opaque>","b":"[2 bytes]","c":[1,2]}'
    )

    @trace
    def step(value):
        return Opaque()

    step(Opaque())
    span = exporter.get_finished_spans()[-1]
    assert json.loads(attrs(span)["litellm.span.input"]) == {"value": "<Opaque>"}
    assert json.loads(attrs(span)["litellm.span.output"]) == "<Opaque>"


def test_data_urls_are_elided(instrumented, exporter):
    payload = "A" * 40_000
    litellm.completion(
        model="openai/gpt-4o-mini",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{payload}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                ],
            }
        ],
        mock_response="a cat",
    )
    span = one_span(exporter)
    raw = attrs(span)["gen_ai.input.messages"]
    assert payload[:100] not in raw
    parts = json.loads(raw)[0]["parts"]
    assert parts[0] == {"type": "text", "content": "What is this?"}
    assert parts[1]["type"] == "blob"
    assert parts[1]["modality"] == "image"
    assert parts[1]["mime_type"] == "image/png"
    assert "30000 bytes" in parts[1]["content"]
    assert parts[2] == {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"}


def test_responses_items_as_messages(instrumented, exporter):
    asyncio.run(
        litellm.aresponses(
            model="openai/gpt-4o-mini",
            input=[
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {
                    "type": "function_call",
                    "call_id": "c1",
                    "name": "get_weather",
                    "arguments": '{"location": "Tokyo"}',
                },
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            ],
            mock_response="sunny it is",
        )
    )
    assert json_attr(one_span(exporter), "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather?"}]},
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "c1",
                    "name": "get_weather",
                    "arguments": {"location": "Tokyo"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "c1", "response": "sunny"}],
        },
    ]
    assert len(llm_spans(exporter)) == 1
