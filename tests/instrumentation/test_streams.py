"""Stream lifetimes: the span ends when the stream ends, breaks, is closed or is dropped."""

from __future__ import annotations

import asyncio
import gc

import litellm
import pytest
import wrapt
from opentelemetry.trace import StatusCode

from tests.support.openai_server import Reply

from .helpers import USER, attrs, json_attr, llm_spans, one_span, server_kwargs


def _stream(server, **extra):
    return litellm.completion(
        model="openai/gpt-4o-mini",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
        **server_kwargs(server),
        **extra,
    )


def test_stream_is_a_transparent_proxy(instrumented, exporter, openai_server):
    stream = _stream(openai_server)
    assert isinstance(stream, wrapt.ObjectProxy)
    assert isinstance(stream, litellm.CustomStreamWrapper)
    assert stream.model == stream.__wrapped__.model
    assert stream.custom_llm_provider == "openai"
    list(stream)
    assert len(llm_spans(exporter)) == 1


def test_broken_mid_stream(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(content="alpha beta gamma delta epsilon", break_stream_after=3))
    stream = _stream(openai_server)
    received = []
    with pytest.raises(Exception) as caught:
        for chunk in stream:
            received.append(chunk)
    span = one_span(exporter)
    a = attrs(span)
    assert span.status.status_code is StatusCode.ERROR
    assert a["error.type"] == type(caught.value).__qualname__
    assert a["gen_ai.response.finish_reasons"] == ("error",)
    assert a["gen_ai.response.time_to_first_chunk"] > 0
    delivered = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert delivered.startswith("alpha")
    assert json_attr(span, "gen_ai.output.messages")[0]["parts"] == [
        {"type": "text", "content": delivered}
    ]


def test_abandoned_stream_ends_on_gc(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(content="one two three four"))
    stream = _stream(openai_server)
    next(stream)
    assert not llm_spans(exporter)
    del stream
    gc.collect()
    span = one_span(exporter)
    assert span.end_time is not None
    # as opentelemetry-util-genai ends an abandoned stream: an error of type _OTHER
    assert span.status.status_code is StatusCode.ERROR
    assert "abandoned stream" in span.status.description
    assert attrs(span)["error.type"] == "_OTHER"
    assert "gen_ai.response.finish_reasons" not in attrs(span)
    assert attrs(span)["gen_ai.response.time_to_first_chunk"] > 0


def test_closed_early(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(content="one two three four"))
    stream = _stream(openai_server)
    next(stream)
    stream.close()
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.UNSET
    stream.close()  # idempotent
    assert len(llm_spans(exporter)) == 1


def test_async_stream_abandoned_and_closed(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(content="one two three"), Reply(content="four five six"))

    async def run() -> None:
        first = await litellm.acompletion(
            model="openai/gpt-4o-mini", messages=USER, stream=True, **server_kwargs(openai_server)
        )
        await first.__anext__()
        await first.aclose()
        second = await litellm.acompletion(
            model="openai/gpt-4o-mini", messages=USER, stream=True, **server_kwargs(openai_server)
        )
        await second.__anext__()
        del second
        gc.collect()

    asyncio.run(run())
    assert len(llm_spans(exporter)) == 2


def test_context_manager_stream(instrumented, exporter, openai_server):
    with _stream(openai_server) as stream:
        next(stream)
    assert len(llm_spans(exporter)) == 1


def test_text_completion_stream(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(content="a streamed completion"))
    stream = litellm.text_completion(
        model="openai/gpt-3.5-turbo-instruct",
        prompt="hi",
        stream=True,
        **server_kwargs(openai_server),
    )
    text = "".join(c.choices[0].text or "" for c in stream if c.choices)
    span = one_span(exporter)
    assert text == "a streamed completion"
    assert attrs(span)["gen_ai.response.finish_reasons"] == ("stop",)
    assert json_attr(span, "gen_ai.output.messages")[0]["parts"][0]["content"] == text


def test_async_text_completion_and_responses_streams(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(content="async text"), Reply(content="async events"))

    async def run() -> None:
        text = await litellm.atext_completion(
            model="openai/gpt-3.5-turbo-instruct",
            prompt="hi",
            stream=True,
            **server_kwargs(openai_server),
        )
        async for _ in text:
            pass
        events = await litellm.aresponses(
            model="openai/gpt-4o-mini", input="hi", stream=True, **server_kwargs(openai_server)
        )
        async for _ in events:
            pass

    asyncio.run(run())
    spans = llm_spans(exporter)
    assert [s.name for s in spans] == ["text_completion gpt-3.5-turbo-instruct", "chat gpt-4o-mini"]
    texts = [json_attr(s, "gen_ai.output.messages")[0]["parts"][0]["content"] for s in spans]
    assert texts == ["async text", "async events"]
    assert all(attrs(s)["gen_ai.response.time_to_first_chunk"] > 0 for s in spans)


def test_router_async_stream(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(content="routed async"))
    router = litellm.Router(
        model_list=[
            {
                "model_name": "gpt",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": openai_server.base_url,
                    "api_key": "sk-test",
                },
            }
        ],
        num_retries=0,
    )

    async def run() -> str:
        stream = await router.acompletion(model="gpt", messages=USER, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    assert asyncio.run(run()) == "routed async"
    span = one_span(exporter)
    assert attrs(span)["litellm.router.model_group"] == "gpt"
    assert json_attr(span, "gen_ai.output.messages")[0]["parts"][0]["content"] == "routed async"


def test_a_stream_without_usage_gets_litellms_count_marked_estimated(
    instrumented, exporter, openai_server
):
    text = "Streaming along: it's sunny in Paris, take sunglasses."
    openai_server.enqueue(Reply(content=text), Reply(content=text))
    stream = litellm.completion(  # the app asks for no usage: the server sends none
        model="openai/gpt-4o-mini", messages=USER, stream=True, **server_kwargs(openai_server)
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == text
    list(_stream(openai_server))  # with include_usage: the provider's own count
    assert "stream_options" not in openai_server.requests[0].json  # nothing added to the call
    estimated, reported = (attrs(s) for s in llm_spans(exporter))
    assert estimated["gen_ai.usage.input_tokens"] == litellm.token_counter(
        model="gpt-4o-mini", messages=USER
    )
    assert estimated["gen_ai.usage.output_tokens"] == litellm.token_counter(
        model="gpt-4o-mini", text=text, count_response_tokens=True
    )
    assert estimated["litellm.usage.estimated"] is True
    assert "litellm.response_cost" not in estimated  # LiteLLM priced no tokens: unknown, not 0
    assert (reported["gen_ai.usage.input_tokens"], reported["gen_ai.usage.output_tokens"]) == (
        11,
        7,
    )
    assert "litellm.usage.estimated" not in reported
