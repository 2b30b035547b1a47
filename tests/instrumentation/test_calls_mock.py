"""Every call kind, sync and async, with LiteLLM's mock_response (no network)."""

from __future__ import annotations

import asyncio

import litellm
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from .helpers import USER, attrs, json_attr, one_span

MODEL = "openai/gpt-4o-mini"


def test_completion_attributes(instrumented, exporter):
    response = litellm.completion(
        model=MODEL,
        messages=USER,
        mock_response="hello",
        temperature=0,
        max_tokens=50,
        top_p=0.5,
        frequency_penalty=0.1,
        presence_penalty=0.2,
        stop=["END"],
        seed=7,
        n=1,
    )
    span = one_span(exporter)
    a = attrs(span)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.temperature"] == 0.0
    assert a["gen_ai.request.max_tokens"] == 50
    assert a["gen_ai.request.top_p"] == 0.5
    assert a["gen_ai.request.frequency_penalty"] == 0.1
    assert a["gen_ai.request.presence_penalty"] == 0.2
    assert a["gen_ai.request.stop_sequences"] == ("END",)
    assert a["gen_ai.request.seed"] == 7
    assert "gen_ai.request.choice.count" not in a
    assert a["gen_ai.response.id"] == response.id
    assert a["gen_ai.response.model"] == "gpt-4o-mini"
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.input_tokens"] == response.usage.prompt_tokens
    assert a["gen_ai.usage.output_tokens"] == response.usage.completion_tokens
    assert a["server.address"] == "api.openai.com"
    assert a["server.port"] == 443
    assert a["litellm.response_cost"] > 0
    assert json_attr(span, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Hi - i'm openai"}]}
    ]
    assert json_attr(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "hello"}],
        }
    ]


def test_acompletion(instrumented, exporter):
    asyncio.run(litellm.acompletion(model=MODEL, messages=USER, mock_response="hi", n=2))
    span = one_span(exporter)
    assert span.name == "chat gpt-4o-mini"
    assert attrs(span)["gen_ai.request.choice.count"] == 2
    assert attrs(span)["gen_ai.response.finish_reasons"] == ("stop", "stop")


def test_positional_model_and_messages(instrumented, exporter):
    litellm.completion(MODEL, USER, mock_response="hi")
    span = one_span(exporter)
    assert attrs(span)["gen_ai.request.model"] == "gpt-4o-mini"
    assert json_attr(span, "gen_ai.input.messages")[0]["role"] == "user"


def test_embedding_sync_and_async(instrumented, exporter):
    litellm.embedding(
        model="openai/text-embedding-3-small",
        input=["a", "b"],
        mock_response=[0.1, 0.2, 0.3],
        encoding_format="float",
    )
    asyncio.run(
        litellm.aembedding(
            model="openai/text-embedding-3-small", input=["a"], mock_response=[0.1, 0.2, 0.3]
        )
    )
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["embeddings text-embedding-3-small"] * 2
    a = attrs(spans[0])
    assert a["gen_ai.operation.name"] == "embeddings"
    assert a["gen_ai.request.encoding_formats"] == ("float",)
    assert a["gen_ai.embeddings.dimension.count"] == 3
    assert a["gen_ai.usage.input_tokens"] > 0
    assert "gen_ai.usage.output_tokens" not in a


def test_text_completion_sync_and_async(instrumented, exporter):
    litellm.text_completion(model="openai/gpt-3.5-turbo-instruct", prompt="hi", mock_response="yo")
    asyncio.run(
        litellm.atext_completion(
            model="openai/gpt-3.5-turbo-instruct", prompt="hi", mock_response="yo"
        )
    )
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["text_completion gpt-3.5-turbo-instruct"] * 2
    for span in spans:
        assert attrs(span)["gen_ai.operation.name"] == "text_completion"
        assert attrs(span)["gen_ai.response.finish_reasons"] == ("stop",)
        assert json_attr(span, "gen_ai.output.messages")[0]["parts"][0]["content"] == "yo"


def test_responses_sync_and_async(instrumented, exporter):
    litellm.responses(model=MODEL, input="hi", instructions="be brief", mock_response="hello")
    asyncio.run(litellm.aresponses(model=MODEL, input="hi", mock_response="hello"))
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["chat gpt-4o-mini"] * 2
    a = attrs(spans[0])
    assert a["gen_ai.operation.name"] == "chat"
    assert a["openai.api.type"] == "responses"
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.input_tokens"] > 0
    assert json_attr(spans[0], "gen_ai.system_instructions") == [
        {"type": "text", "content": "be brief"}
    ]
    output = json_attr(spans[0], "gen_ai.output.messages")
    assert output[0]["parts"] == [{"type": "text", "content": "hello"}]


def test_image_generation_sync_and_async(instrumented, exporter):
    litellm.image_generation(model="openai/dall-e-3", prompt="a cat", mock_response="x")
    asyncio.run(
        litellm.aimage_generation(model="openai/dall-e-3", prompt="a cat", mock_response="x")
    )
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["generate_content dall-e-3"] * 2
    a = attrs(spans[0])
    assert a["gen_ai.operation.name"] == "generate_content"
    assert a["gen_ai.output.type"] == "image"


@pytest.mark.parametrize("stream_async", [False, True])
def test_mock_stream(instrumented, exporter, stream_async):
    kwargs = {
        "model": MODEL,
        "messages": USER,
        "mock_response": "hello world foo",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if stream_async:

        async def run() -> str:
            stream = await litellm.acompletion(**kwargs)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        text = asyncio.run(run())
    else:
        stream = litellm.completion(**kwargs)
        assert isinstance(stream, litellm.CustomStreamWrapper)
        assert not exporter.get_finished_spans()
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "hello world foo"
    span = one_span(exporter)
    a = attrs(span)
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.response.time_to_first_chunk"] > 0
    assert a["gen_ai.usage.input_tokens"] > 0
    assert json_attr(span, "gen_ai.output.messages")[0]["parts"] == [
        {"type": "text", "content": "hello world foo"}
    ]
