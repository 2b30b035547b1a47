"""The real HTTP path through LiteLLM against the loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import litellm
import pytest
from opentelemetry.trace import StatusCode

from tests.support.openai_server import Reply
from tests.support.versions import STREAMED_MODEL_KEPT

from .helpers import USER, attrs, json_attr, one_span, server_kwargs

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


def _port(server) -> int:
    return urlsplit(server.base_url).port


def test_completion_over_http(instrumented, exporter, openai_server):
    openai_server.enqueue(
        Reply(
            content="Hello!",
            id="chatcmpl-abc",
            model="gpt-4o-mini-2024-07-18",
            prompt_tokens=11,
            completion_tokens=7,
            cached_tokens=3,
            reasoning_tokens=2,
        )
    )
    litellm.completion(
        model="openai/gpt-4o-mini", messages=USER, temperature=0, **server_kwargs(openai_server)
    )
    span = one_span(exporter)
    a = attrs(span)
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.temperature"] == 0.0
    assert a["gen_ai.response.id"] == "chatcmpl-abc"
    assert a["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.input_tokens"] == 11
    assert a["gen_ai.usage.output_tokens"] == 7
    assert a["gen_ai.usage.cache_read.input_tokens"] == 3
    assert a["gen_ai.usage.reasoning.output_tokens"] == 2
    assert a["server.address"] == "127.0.0.1"
    assert a["server.port"] == _port(openai_server)
    assert json_attr(span, "gen_ai.output.messages")[0]["parts"] == [
        {"type": "text", "content": "Hello!"}
    ]


def test_tool_call_round_trip_content(instrumented, exporter, openai_server):
    openai_server.enqueue(
        Reply(
            tool_calls=[
                {"id": "call_1", "name": "get_weather", "arguments": '{"location": "Paris"}'}
            ]
        )
    )
    response = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "What's the weather like in Paris today?"}],
        tools=[WEATHER_TOOL],
        **server_kwargs(openai_server),
    )
    assert response.choices[0].message.tool_calls[0].function.name == "get_weather"
    span = one_span(exporter)
    assert attrs(span)["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert json_attr(span, "gen_ai.tool.definitions") == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Get the weather for a location",
            "parameters": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    out = json_attr(span, "gen_ai.output.messages")
    assert out == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": {"location": "Paris"},
                }
            ],
        }
    ]


def test_tool_result_in_input_messages(instrumented, exporter, openai_server):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "rainy"},
    ]
    litellm.completion(
        model="openai/gpt-4o-mini", messages=messages, **server_kwargs(openai_server)
    )
    assert json_attr(one_span(exporter), "gen_ai.input.messages") == [
        {"role": "system", "parts": [{"type": "text", "content": "You are helpful."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": {"location": "Paris"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy"}],
        },
    ]


@pytest.mark.parametrize("use_async", [False, True])
def test_streaming_over_sse(instrumented, exporter, openai_server, use_async):
    # the server streams a dated model name; LiteLLM rewrites chunk.model to the one asked for
    openai_server.enqueue(
        Reply(
            content="one two three",
            id="chatcmpl-s",
            chunk_delay=0.01,
            model="gpt-4o-mini-2024-07-18",
        )
    )
    kwargs = dict(
        model="openai/gpt-4o-mini",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
        **server_kwargs(openai_server),
    )
    if use_async:

        async def run() -> str:
            stream = await litellm.acompletion(**kwargs)
            assert not exporter.get_finished_spans()
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        text = asyncio.run(run())
    else:
        stream = litellm.completion(**kwargs)
        assert not exporter.get_finished_spans()
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "one two three"
    span = one_span(exporter)
    a = attrs(span)
    assert span.status.status_code is StatusCode.UNSET
    assert a["gen_ai.response.id"] == "chatcmpl-s"
    streamed = "gpt-4o-mini-2024-07-18" if STREAMED_MODEL_KEPT else "gpt-4o-mini"
    assert a["gen_ai.response.model"] == streamed
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.input_tokens"] == 11
    assert a["gen_ai.usage.output_tokens"] == 7
    ttfc = a["gen_ai.response.time_to_first_chunk"]
    assert isinstance(ttfc, float)
    assert 0 < ttfc < (span.end_time - span.start_time) / 1e9
    assert json_attr(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "one two three"}],
        }
    ]


def test_streamed_tool_calls(instrumented, exporter, openai_server):
    openai_server.enqueue(
        Reply(
            tool_calls=[
                {"id": "call_9", "name": "get_weather", "arguments": '{"location": "Tokyo"}'}
            ]
        )
    )
    stream = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=USER,
        tools=[WEATHER_TOOL],
        stream=True,
        **server_kwargs(openai_server),
    )
    list(stream)
    span = one_span(exporter)
    assert attrs(span)["gen_ai.response.finish_reasons"] == ("tool_calls",)
    parts = json_attr(span, "gen_ai.output.messages")[0]["parts"]
    assert parts == [
        {
            "type": "tool_call",
            "id": "call_9",
            "name": "get_weather",
            "arguments": {"location": "Tokyo"},
        }
    ]


def test_text_completion_over_http(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(content="done", id="cmpl-1"))
    litellm.text_completion(
        model="openai/gpt-3.5-turbo-instruct", prompt="Say done", **server_kwargs(openai_server)
    )
    a = attrs(one_span(exporter))
    assert a["gen_ai.operation.name"] == "text_completion"
    assert a["gen_ai.response.id"] == "cmpl-1"
    assert a["gen_ai.usage.input_tokens"] == 11
    assert a["server.port"] == _port(openai_server)


def test_embeddings_over_http(instrumented, exporter, openai_server):
    asyncio.run(
        litellm.aembedding(
            model="openai/text-embedding-3-small", input=["hello"], **server_kwargs(openai_server)
        )
    )
    a = attrs(one_span(exporter))
    assert a["gen_ai.operation.name"] == "embeddings"
    assert a["gen_ai.usage.input_tokens"] == 11
    assert a["gen_ai.embeddings.dimension.count"] > 0
    assert a["server.address"] == "127.0.0.1"


@pytest.mark.parametrize("use_async", [False, True])
def test_responses_over_http(instrumented, exporter, openai_server, use_async):
    openai_server.enqueue(Reply(content="Paris is rainy.", id="resp_1", cached_tokens=1))
    kwargs = dict(
        model="openai/gpt-4o-mini",
        input="Weather in Paris?",
        instructions="Be brief.",
        **server_kwargs(openai_server),
    )
    if use_async:
        response = asyncio.run(litellm.aresponses(**kwargs))
    else:
        response = litellm.responses(**kwargs)
    span = one_span(exporter)
    a = attrs(span)
    assert span.name == "chat gpt-4o-mini"
    assert a["openai.api.type"] == "responses"
    # LiteLLM hands the caller an id that wraps the provider's ("resp_1") in base64 with its
    # routing data; the span carries the provider's, as the conventions define it
    assert response.id.startswith("resp_bGl0ZWxsbT")
    assert a["gen_ai.response.id"] == "resp_1"
    assert a["gen_ai.usage.input_tokens"] == 11
    assert a["gen_ai.usage.output_tokens"] == 7
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    out = json_attr(span, "gen_ai.output.messages")
    assert out[0]["parts"] == [{"type": "text", "content": "Paris is rainy."}]


def test_responses_streaming_over_http(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(content="streamed answer", id="resp_s"))
    stream = litellm.responses(
        model="openai/gpt-4o-mini", input="hi", stream=True, **server_kwargs(openai_server)
    )
    events = list(stream)
    completed = [e for e in events if e.type == "response.completed"]
    assert completed
    span = one_span(exporter)
    a = attrs(span)
    assert a["gen_ai.request.stream"] is True
    assert completed[0].response.id != "resp_s"  # LiteLLM's wrapper of it
    assert a["gen_ai.response.id"] == "resp_s"
    assert a["gen_ai.usage.output_tokens"] == 7
    assert a["gen_ai.response.time_to_first_chunk"] > 0
    out = json_attr(span, "gen_ai.output.messages")
    assert out[0]["parts"] == [{"type": "text", "content": "streamed answer"}]


def test_image_generation_over_http(instrumented, exporter, openai_server):
    litellm.image_generation(
        model="openai/dall-e-3", prompt="a cat", **server_kwargs(openai_server)
    )
    span = one_span(exporter)
    a = attrs(span)
    assert a["gen_ai.operation.name"] == "generate_content"
    assert a["gen_ai.output.type"] == "image"
    assert a["server.port"] == _port(openai_server)
    assert json.loads(a["gen_ai.output.messages"])[0]["role"] == "assistant"
