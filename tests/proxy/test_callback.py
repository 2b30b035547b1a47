"""The proxy callback without a proxy: LiteLLM-shaped callback inputs in, one span out."""

from __future__ import annotations

import asyncio
import sys
import types
from typing import Any

import litellm
import pytest
import wrapt
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import otel_bridge
from otel_bridge.exporters.mlflow.dialect import to_mlflow
from otel_bridge.instrumentation.calls import Settings as CallSettings
from otel_bridge.instrumentation.operations import OPERATIONS
from otel_bridge.instrumentation.request import start_attributes
from otel_bridge.instrumentation.response import response_attributes
from otel_bridge.instrumentation.wrappers import make_wrapper
from otel_bridge.proxy import OtelBridgeHandler, lifecycle
from otel_bridge.proxy import metadata as md
from otel_bridge.proxy.callback import TRACER_NAME
from otel_bridge.proxy.event import epoch_ns, operation_for

from .callback_events import (
    CALLER_SPAN_ID,
    END,
    FIRST_CHUNK,
    KEY_HASH,
    MASTER_KEY,
    START,
    TRACE_ID,
    UPSTREAM_KEY,
    USER_MESSAGES,
    chat_kwargs,
    chat_response,
    headers,
)

litellm.suppress_debug_info = True


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def handler(exporter: InMemorySpanExporter):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield OtelBridgeHandler(tracer_provider=provider, capture_content=True)
    provider.shutdown()


def _success(handler, kwargs, response=None) -> None:
    asyncio.run(handler.async_log_success_event(kwargs, response or chat_response(), START, END))


def _failure(handler, kwargs) -> None:
    asyncio.run(handler.async_log_failure_event(kwargs, None, START, END))


def _one(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def test_success_span_continues_the_callers_trace(handler, exporter):
    _success(handler, chat_kwargs())
    span = _one(exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope.name == TRACER_NAME
    assert span.instrumentation_scope.version == otel_bridge.__version__
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and span.parent.is_remote
    assert format(span.parent.span_id, "016x") == CALLER_SPAN_ID
    assert span.start_time == epoch_ns(START) and span.end_time == epoch_ns(END)
    assert span.status.status_code is StatusCode.UNSET


def test_attributes_are_the_instrumentations_own(handler, exporter):
    """The same builders as for an SDK call to the deployment: everything they produce for the
    equivalent ``litellm.acompletion(...)`` is on the proxy's span, with the same values."""
    _success(handler, chat_kwargs())
    a = dict(_one(exporter).attributes)
    op = next(op for op in OPERATIONS if op.name == "acompletion")
    expected, _ = start_attributes(
        op,
        (),
        {
            "model": "openai/gpt-4o-mini",
            "messages": USER_MESSAGES,
            "temperature": 0.3,
            "max_tokens": 64,
            "api_base": "http://127.0.0.1:45145/v1",
            "user": "enduser-7",
            "metadata": {"tags": ["jobID:214590dsff09fds", "taskName:run_page_classification"]},
        },
        True,
        64 * 1024,
    )
    expected.update(response_attributes("chat", chat_response(), True, 64 * 1024))
    expected.pop("litellm.request.tags")  # the proxy's list also has the plain tag (below)
    expected = {k: tuple(v) if isinstance(v, list) else v for k, v in expected.items()}
    assert {k: a.get(k) for k in expected} == expected
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == 45145
    assert a["gen_ai.usage.input_tokens"] == 11 and a["gen_ai.usage.output_tokens"] == 7
    assert a["litellm.router.model_group"] == "loop-gpt"
    assert a["litellm.router.model_id"] == "2e635f1a7ab7"
    assert a["litellm.api_base"] == "http://127.0.0.1:45145/v1"
    assert a["litellm.response_cost"] == pytest.approx(5.85e-06)


def test_tags_identity_and_trace_tags(handler, exporter):
    _success(handler, chat_kwargs())
    a = dict(_one(exporter).attributes)
    # LiteLLM's own "User-Agent: ..." entries are dropped
    assert a["litellm.request.tags"] == (
        "jobID:214590dsff09fds",
        "taskName:run_page_classification",
        "nightly",
    )
    assert not any(k.startswith("mlflow.") for k in a)  # MLflow's dialect is the destination's
    assert a["litellm.proxy.key.hash"] == KEY_HASH
    assert a["litellm.proxy.key.alias"] == "ci-pipeline-key"
    assert a["litellm.proxy.team.id"] == "team-42"
    assert a["litellm.proxy.team.alias"] == "search-team"
    assert a["litellm.proxy.user.id"] == "u-17"
    assert a["litellm.proxy.end_user"] == "enduser-7"
    assert a["user.id"] == "enduser-7"  # MLflow makes the trace's user of it
    m = dict(to_mlflow(_one(exporter)).attributes)
    assert m["mlflow.traceTag.jobID"] == "214590dsff09fds"
    assert m["mlflow.traceTag.taskName"] == "run_page_classification"
    assert m["mlflow.traceTag.nightly"] == ""
    assert not any(k.startswith("mlflow.traceTag.User-Agent") for k in m)
    for key, value in {
        "litellm.proxy.team.alias": "search-team",
        "litellm.proxy.team.id": "team-42",
        "litellm.proxy.key.alias": "ci-pipeline-key",
        "litellm.proxy.end_user": "enduser-7",
        "litellm.router.model_group": "loop-gpt",
    }.items():
        assert m[f"mlflow.traceTag.{key}"] == value
    assert "mlflow.traceTag.litellm.proxy.key.hash" not in m


def test_a_client_cannot_set_reserved_trace_tags(handler, exporter):
    tags = ["litellm.proxy.team.alias:forged", "mlflow.user:forged", "mlflow.traceName:x", "ok:1"]
    _success(handler, chat_kwargs(tags=tags))
    span = _one(exporter)
    m = dict(to_mlflow(span).attributes)
    assert m["mlflow.traceTag.litellm.proxy.team.alias"] == "search-team"
    assert not any(k.startswith("mlflow.traceTag.mlflow.") for k in m)
    assert m["mlflow.traceTag.ok"] == "1"
    assert list(span.attributes["litellm.request.tags"]) == tags  # still listed as sent


def test_stream_has_time_to_first_chunk(handler, exporter):
    _success(handler, chat_kwargs(stream=True))
    a = dict(_one(exporter).attributes)
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.time_to_first_chunk"] == pytest.approx(
        (FIRST_CHUNK - START).total_seconds(), abs=1e-5
    )
    assert a["gen_ai.response.finish_reasons"] == ("stop",)


def test_without_traceparent_the_span_starts_a_trace(handler, exporter):
    _success(handler, chat_kwargs(request_headers=headers(traceparent=None)))
    span = _one(exporter)
    assert span.parent is None
    assert format(span.context.trace_id, "032x") != TRACE_ID


def test_a_malformed_traceparent_is_ignored(handler, exporter):
    _success(handler, chat_kwargs(request_headers=headers(traceparent="00-zz-yy-01")))
    assert _one(exporter).parent is None


def test_failure_is_an_error_span_with_the_error_type(handler, exporter):
    _failure(handler, chat_kwargs(failed=True))
    span = _one(exporter)
    a = dict(span.attributes)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description.startswith("RateLimitError: ")
    assert a["error.type"] == "RateLimitError"
    assert a["http.response.status_code"] == 429
    assert "gen_ai.response.id" not in a and "litellm.response_cost" not in a
    [event] = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "litellm.exceptions.RateLimitError"
    assert "slow down" in event.attributes["exception.message"]
    assert span.parent is not None and format(span.parent.span_id, "016x") == CALLER_SPAN_ID


def test_failure_without_exception_object_uses_litellms_error_class(handler, exporter):
    kwargs = chat_kwargs(failed=True)
    del kwargs["exception"]
    _failure(handler, kwargs)
    span = _one(exporter)
    a = dict(span.attributes)
    assert a["error.type"] == "RateLimitError"
    assert a["http.response.status_code"] == 429
    [event] = span.events
    assert event.attributes["exception.type"] == "RateLimitError"
    assert "slow down" in event.attributes["exception.message"]
    assert event.timestamp == epoch_ns(END)
    assert span.status.description.startswith("RateLimitError: ")


def test_one_failure_reads_the_same_through_the_proxy_and_the_instrumentor(handler, exporter):
    """The same exception, recorded by the SDK instrumentation while it propagates and by the
    proxy callback after the fact: the same event and status, only the time differs."""
    error = litellm.RateLimitError(
        message=f"slow down, key {UPSTREAM_KEY}", llm_provider="openai", model="gpt-4o-mini"
    )
    op = next(o for o in OPERATIONS if o.name == "acompletion")
    provider = TracerProvider()
    direct = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(direct))

    async def upstream(**_: Any) -> Any:
        raise error

    wrapped = wrapt.FunctionWrapper(
        upstream, make_wrapper(op, CallSettings(provider.get_tracer("t"), capture=True))
    )
    with pytest.raises(litellm.RateLimitError):
        asyncio.run(wrapped(model="openai/gpt-4o-mini", messages=USER_MESSAGES))
    [sdk_span] = direct.get_finished_spans()

    _failure(handler, chat_kwargs(failed=True, exception=error))
    proxy_span = _one(exporter)

    [sdk_event], [proxy_event] = sdk_span.events, proxy_span.events
    for key in ("exception.type", "exception.message"):
        assert proxy_event.attributes[key] == sdk_event.attributes[key], key
    assert sdk_event.attributes["exception.type"] == "litellm.exceptions.RateLimitError"
    assert UPSTREAM_KEY not in sdk_event.attributes["exception.message"]
    # the proxy formats the traceback later, when it has more frames: the raise is the same
    raised = sdk_event.attributes["exception.stacktrace"].splitlines()[-3:]
    assert proxy_event.attributes["exception.stacktrace"].splitlines()[-3:] == raised
    assert proxy_span.status.description == sdk_span.status.description
    assert proxy_span.attributes["error.type"] == sdk_span.attributes["error.type"]
    assert proxy_event.timestamp == epoch_ns(END)


def _all_text(span: ReadableSpan) -> str:
    parts = [span.name, span.status.description or ""]
    parts += [repr(v) for v in (span.attributes or {}).values()]
    for event in span.events:
        parts += [repr(v) for v in (event.attributes or {}).values()]
    return "\n".join(parts)


def test_no_credential_leaves(handler, exporter, monkeypatch):
    """Upstream key, master key, Authorization / x-api-key values: never in a span, even when
    an upstream error message quotes them."""
    server = types.ModuleType("litellm.proxy.proxy_server")
    server.master_key = MASTER_KEY
    monkeypatch.setitem(sys.modules, "litellm.proxy.proxy_server", server)
    forwarded = "sk-ant-forwarded-0123456789"
    request_headers = headers(
        authorization=f"Bearer {MASTER_KEY}",
        **{"x-api-key": forwarded, "cookie": "session=abc123xyz"},
    )
    exc = litellm.AuthenticationError(
        message=(
            f"AuthenticationError: bad key {UPSTREAM_KEY}; header Authorization: Bearer "
            f"{MASTER_KEY}; forwarded {forwarded}; other sk-unknownSecret123456"
        ),
        llm_provider="openai",
        model="gpt-4o-mini",
    )
    kwargs = chat_kwargs(failed=True, exception=exc, request_headers=request_headers)
    kwargs["messages"] = [{"role": "user", "content": f"my key is {UPSTREAM_KEY}"}]
    _failure(handler, kwargs)
    text = _all_text(_one(exporter))
    for secret in (UPSTREAM_KEY, MASTER_KEY, forwarded, "sk-unknownSecret123456", "abc123xyz"):
        assert secret not in text
    assert md.REDACTED in text
    assert "AuthenticationError" in text


@pytest.mark.parametrize(
    ("call_type", "operation"),
    [
        ("acompletion", "chat"),
        ("completion", "chat"),
        ("aembedding", "embeddings"),
        ("atext_completion", "text_completion"),
        ("aresponses", "chat"),
        ("aimage_generation", "generate_content"),
        ("anthropic_messages", "chat"),
        ("agenerate_content", "chat"),
    ],
)
def test_model_calls_are_traced(call_type, operation):
    op = operation_for(call_type)
    assert op is not None and op.operation_name == operation


@pytest.mark.parametrize(
    "call_type", ["afile_list", "acreate_batch", "pass_through_endpoint", None]
)
def test_other_calls_are_not(handler, exporter, call_type):
    assert operation_for(call_type) is None
    _success(handler, chat_kwargs(call_type=call_type))
    assert exporter.get_finished_spans() == ()


def test_embedding_call(handler, exporter):
    kwargs = chat_kwargs(call_type="aembedding")
    kwargs.pop("messages")
    kwargs["input"] = ["hello", "world"]
    response = litellm.EmbeddingResponse(
        model="text-embedding-3-small",
        data=[{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
        usage={"prompt_tokens": 2, "total_tokens": 2},
    )
    _success(handler, kwargs, response)
    span = _one(exporter)
    assert span.name == "embeddings gpt-4o-mini"
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 3
    assert span.attributes["gen_ai.usage.input_tokens"] == 2


def test_health_checks_and_refused_requests_are_not_calls(handler, exporter):
    _success(handler, chat_kwargs(tags=["litellm-internal-health-check"]))
    kwargs = chat_kwargs(failed=True, request_headers={})  # refused at authentication
    kwargs["standard_logging_object"]["metadata"]["requester_metadata"] = None
    _failure(handler, kwargs)
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(
    "kwargs",
    [None, {}, {"call_type": "acompletion"}, {"call_type": "acompletion", "litellm_params": 3}],
)
def test_garbage_never_raises(handler, exporter, kwargs):
    asyncio.run(handler.async_log_success_event(kwargs, object(), None, None))
    asyncio.run(handler.async_log_failure_event(kwargs, None, "x", 12))


def test_disabled_handler_is_inert():
    handler = OtelBridgeHandler.__new__(OtelBridgeHandler)
    handler.tracer = None
    asyncio.run(handler.async_log_success_event(chat_kwargs(), chat_response(), START, END))


def test_scrub_masks_keys_and_bearer_tokens():
    text = "Bearer abc.def-123456 and sk-proj-ABCDEFGH12 and my-own-secret-value"
    scrubbed = md.scrub(text, frozenset({"my-own-secret-value"}))
    assert "abc.def-123456" not in scrubbed and "sk-proj-ABCDEFGH12" not in scrubbed
    assert "my-own-secret-value" not in scrubbed
    assert md.scrub("task-runner sk-short") == "task-runner sk-short"


# -- lifecycle ------------------------------------------------------------------------------


class _Bridge:
    def __init__(self) -> None:
        self.shutdowns = 0

    def shutdown(self) -> bool:
        self.shutdowns += 1
        return True


class _Worker:
    def __init__(self) -> None:
        self.flushed = 0

    async def flush(self) -> None:
        self.flushed += 1


def test_proxy_shutdown_flushes_callbacks_then_the_bridge(monkeypatch):
    calls: list[str] = []
    server = types.ModuleType("litellm.proxy.proxy_server")

    async def proxy_shutdown_event(worker_heartbeat: Any = None) -> None:
        calls.append("litellm")

    server.proxy_shutdown_event = proxy_shutdown_event
    worker_module = types.ModuleType("litellm.litellm_core_utils.logging_worker")
    worker_module.GLOBAL_LOGGING_WORKER = worker = _Worker()
    monkeypatch.setitem(sys.modules, "litellm.proxy.proxy_server", server)
    monkeypatch.setitem(sys.modules, "litellm.litellm_core_utils.logging_worker", worker_module)
    bridge = _Bridge()

    assert lifecycle.flush_on_proxy_shutdown(bridge, timeout=1.0)
    assert not lifecycle.flush_on_proxy_shutdown(bridge, timeout=1.0)  # once only
    asyncio.run(server.proxy_shutdown_event(worker_heartbeat=None))
    assert calls == ["litellm"]
    assert worker.flushed == 1 and bridge.shutdowns == 1


def test_server_spans_switched_off_on_the_proxy_app(monkeypatch):
    server = types.ModuleType("litellm.proxy.proxy_server")
    server.app = types.SimpleNamespace(_telemetry={"tracing": True, "operation_spans": True})
    monkeypatch.setitem(sys.modules, "litellm.proxy.proxy_server", server)
    lifecycle.without_server_spans()
    assert server.app._telemetry == {"tracing": False, "operation_spans": False}
