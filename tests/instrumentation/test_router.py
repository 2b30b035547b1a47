"""litellm.Router: one span per Router call, naming the deployment actually used."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import litellm
import pytest
from opentelemetry.trace import StatusCode

from tests.support.openai_server import ErrorReply, Reply

from .helpers import USER, attrs, llm_spans, one_span


def _router(server, **kwargs) -> litellm.Router:
    return litellm.Router(
        model_list=[
            {
                "model_name": "gpt",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": server.base_url,
                    "api_key": "sk-test",
                },
                "model_info": {"id": "deployment-1"},
            }
        ],
        **kwargs,
    )


def _assert_deployment(span, server) -> None:
    a = attrs(span)
    assert span.name == "chat gpt-4o-mini"
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["litellm.router.model_group"] == "gpt"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["litellm.api_base"] == server.base_url
    assert a["server.address"] == "127.0.0.1"
    assert a["server.port"] == urlsplit(server.base_url).port


def test_router_completion_one_span(instrumented, exporter, openai_server):
    router = _router(openai_server, num_retries=0)
    router.completion(model="gpt", messages=USER)
    span = one_span(exporter)
    _assert_deployment(span, openai_server)
    assert attrs(span)["litellm.router.model_id"] == "deployment-1"
    assert attrs(span)["gen_ai.usage.input_tokens"] == 11


def test_router_acompletion_one_span(instrumented, exporter, openai_server):
    router = _router(openai_server, num_retries=0)
    asyncio.run(router.acompletion(model="gpt", messages=USER))
    _assert_deployment(one_span(exporter), openai_server)


def test_router_stream_one_span(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(content="routed stream"))
    router = _router(openai_server, num_retries=0)
    stream = router.completion(model="gpt", messages=USER, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "routed stream"
    span = one_span(exporter)
    _assert_deployment(span, openai_server)
    assert attrs(span)["gen_ai.response.time_to_first_chunk"] > 0


def test_router_retry_is_still_one_span(instrumented, exporter, openai_server):
    openai_server.enqueue(ErrorReply(status=500, message="boom"), Reply(content="second try"))
    router = _router(openai_server, num_retries=1, retry_after=0)
    response = asyncio.run(router.acompletion(model="gpt", messages=USER))
    assert response.choices[0].message.content == "second try"
    assert len(openai_server.requests) == 2
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.UNSET
    _assert_deployment(span, openai_server)


def test_router_failure(instrumented, exporter, openai_server):
    openai_server.enqueue(ErrorReply(status=401, message="bad key"))
    router = _router(openai_server, num_retries=0)
    with pytest.raises(litellm.AuthenticationError) as caught:
        router.completion(model="gpt", messages=USER)
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == type(caught.value).__qualname__
    _assert_deployment(span, openai_server)


def test_router_embedding(instrumented, exporter, openai_server):
    router = litellm.Router(
        model_list=[
            {
                "model_name": "emb",
                "litellm_params": {
                    "model": "openai/text-embedding-3-small",
                    "api_base": openai_server.base_url,
                    "api_key": "sk-test",
                },
            }
        ],
        num_retries=0,
    )
    asyncio.run(router.aembedding(model="emb", input=["a"]))
    spans = llm_spans(exporter)
    assert [s.name for s in spans] == ["embeddings text-embedding-3-small"]
    assert attrs(spans[0])["litellm.router.model_group"] == "emb"
