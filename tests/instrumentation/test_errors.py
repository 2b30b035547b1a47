"""Failures: status ERROR, error.type, exception recorded; the caller gets the same object."""

from __future__ import annotations

import asyncio
import socket

import httpx
import litellm
import pytest
import wrapt
from opentelemetry.trace import StatusCode

from otel_bridge.instrumentation.calls import Settings
from otel_bridge.instrumentation.operations import OPERATIONS
from otel_bridge.instrumentation.wrappers import make_wrapper
from tests.support.openai_server import ErrorReply, Reply

from .helpers import USER, attrs, one_span, server_kwargs

_REQUEST = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")


def _errors() -> list[BaseException]:
    common = {"llm_provider": "openai", "model": "gpt-4o-mini"}
    return [
        litellm.AuthenticationError(message="bad key", **common),
        litellm.RateLimitError(message="slow down", **common),
        litellm.Timeout(message="too slow", **common),
        litellm.APIConnectionError(message="refused", **common),
        litellm.BadRequestError(message="bad", **common),
        litellm.ContentPolicyViolationError(message="policy", **common),
        ValueError("plain"),
    ]


@pytest.mark.parametrize("error", _errors(), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("use_async", [False, True])
def test_same_exception_object_reaches_the_caller(provider, exporter, error, use_async):
    op = next(o for o in OPERATIONS if o.name == ("acompletion" if use_async else "completion"))
    tracer = provider.get_tracer("otel_bridge.instrumentation.litellm")
    wrapper = make_wrapper(op, Settings(tracer, capture=True))

    if use_async:

        async def target(*args, **kwargs):
            raise error

        wrapped = wrapt.FunctionWrapper(target, wrapper)
        with pytest.raises(BaseException) as caught:
            asyncio.run(wrapped(model="openai/gpt-4o-mini", messages=USER))
    else:

        def target(*args, **kwargs):
            raise error

        wrapped = wrapt.FunctionWrapper(target, wrapper)
        with pytest.raises(BaseException) as caught:
            wrapped(model="openai/gpt-4o-mini", messages=USER)
    assert caught.value is error
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == type(error).__qualname__
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"].endswith(type(error).__name__)


@pytest.mark.parametrize(
    ("reply", "expected", "status"),
    [
        (
            ErrorReply(status=401, message="Incorrect API key", type="invalid_request_error"),
            litellm.AuthenticationError,
            401,
        ),
        (
            ErrorReply(status=429, message="Rate limit reached", type="requests"),
            litellm.RateLimitError,
            429,
        ),
        (
            ErrorReply(status=400, message="Invalid 'messages'", type="invalid_request_error"),
            litellm.BadRequestError,
            400,
        ),
        (
            ErrorReply(
                status=400,
                message="Your request was rejected as a result of the safety system",
                type="invalid_request_error",
                code="content_policy_violation",
            ),
            litellm.ContentPolicyViolationError,
            400,
        ),
    ],
    ids=["401", "429", "400", "content_policy"],
)
def test_http_errors(instrumented, exporter, openai_server, reply, expected, status):
    openai_server.enqueue(reply)
    captured: list[BaseException] = []

    class Capture(litellm.integrations.custom_logger.CustomLogger):
        def log_failure_event(self, kwargs, response_obj, start_time, end_time):
            captured.append(kwargs.get("exception"))

    with pytest.raises(expected) as caught:
        litellm.completion(
            model="openai/gpt-4o-mini",
            messages=USER,
            callbacks=[Capture()],
            **server_kwargs(openai_server),
        )
    span = one_span(exporter)
    a = attrs(span)
    assert span.status.status_code is StatusCode.ERROR
    assert a["error.type"] == expected.__qualname__
    assert a["http.response.status_code"] == status
    assert span.events[0].name == "exception"
    if captured and captured[0] is not None:
        assert caught.value is captured[0]


def test_timeout(instrumented, exporter, openai_server):
    openai_server.enqueue(Reply(delay=2.0))
    with pytest.raises(litellm.Timeout):
        litellm.completion(
            model="openai/gpt-4o-mini", messages=USER, timeout=0.3, **server_kwargs(openai_server)
        )
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == "Timeout"


def test_connection_refused(instrumented, exporter):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # LiteLLM reports a refused connection as APIConnectionError or InternalServerError.
    with pytest.raises((litellm.APIConnectionError, litellm.InternalServerError)) as caught:
        asyncio.run(
            litellm.acompletion(
                model="openai/gpt-4o-mini",
                messages=USER,
                api_base=f"http://127.0.0.1:{port}/v1",
                api_key="sk-test",
                num_retries=0,
                max_retries=0,
            )
        )
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == type(caught.value).__qualname__
    assert attrs(span)["server.port"] == port


def test_connection_dropped(instrumented, exporter, openai_server):
    openai_server.drop_connection_next()
    with pytest.raises((litellm.APIConnectionError, litellm.InternalServerError)) as caught:
        litellm.completion(
            model="openai/gpt-4o-mini", messages=USER, max_retries=0, **server_kwargs(openai_server)
        )
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == type(caught.value).__qualname__
