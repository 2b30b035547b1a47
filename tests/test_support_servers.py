"""Self-tests of the test infrastructure: each fixture server against a real client."""

from __future__ import annotations

import json
import os
import socket
import struct
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import grpc
import litellm
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind

from tests.support import openai_server as openai_server_module
from tests.support.mlflow_server import MlflowServer
from tests.support.mlflow_traces import wait_for_trace
from tests.support.openai_server import ErrorReply, OpenAIServer, Reply
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.polling import wait_for
from tests.support.ports import free_port

MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
NO_RETRIES = {"num_retries": 0, "max_retries": 0}


def _emit_parent_and_child(exporter: SpanExporter, service_name: str) -> tuple[str, str]:
    """Export a parent span and a CLIENT child through a real SDK pipeline; return hex ids."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.support.selftest")
    with tracer.start_as_current_span("parent") as parent:
        child_attributes = {"gen_ai.operation.name": "chat", "n": 3, "tags": ["a", "b"]}
        with tracer.start_as_current_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=child_attributes
        ) as child:
            child.add_event("gen_ai.choice", {"index": 0})
    provider.shutdown()
    return (
        format(parent.get_span_context().span_id, "016x"),
        format(child.get_span_context().trace_id, "032x"),
    )


def _by_service(service_name: str) -> Callable[[ReceivedSpan], bool]:
    return lambda span: span.resource.get("service.name") == service_name


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@pytest.fixture
def polluted_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_SERVICE_NAME", "OTEL_BRIDGE_MODE", "MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(name, "from-a-previous-test")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def test_clean_env_removes_otel_and_mlflow_variables(
    polluted_env: None, clean_env: pytest.MonkeyPatch
) -> None:
    leftovers = [name for name in os.environ if name.startswith(("OTEL_", "MLFLOW_"))]
    assert leftovers == ["MLFLOW_DISABLE_TELEMETRY"]


# -- OTLP receiver -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("protocol", "compression"),
    [("grpc", None), ("http", Compression.Gzip), ("http", Compression.Deflate)],
)
def test_sdk_exporter_delivers_spans(
    clean_env: pytest.MonkeyPatch,
    otlp_receiver: OtlpReceiver,
    protocol: str,
    compression: Compression | None,
) -> None:
    service = f"selftest-{protocol}-{uuid.uuid4().hex[:8]}"
    exporter: SpanExporter
    if protocol == "grpc":
        exporter = GrpcSpanExporter(
            endpoint=otlp_receiver.grpc_endpoint, insecure=True, headers={"x-tenant": "t1"}
        )
    else:
        exporter = HttpSpanExporter(
            endpoint=otlp_receiver.http_endpoint,
            headers={"x-tenant": "t1"},
            compression=compression,
        )
    parent_id, trace_id = _emit_parent_and_child(exporter, service)

    spans = otlp_receiver.wait_for_spans(2, predicate=_by_service(service))
    child = next(span for span in spans if span.name == "chat gpt-4o-mini")
    parent = next(span for span in spans if span.name == "parent")
    assert child.parent_span_id == parent_id == parent.span_id
    assert parent.parent_span_id is None
    assert child.trace_id == trace_id == parent.trace_id
    assert child.attributes == {"gen_ai.operation.name": "chat", "n": 3, "tags": ["a", "b"]}
    assert child.kind_name == "SPAN_KIND_CLIENT"
    assert child.events == [("gen_ai.choice", {"index": 0})]
    assert child.scope_name == "tests.support.selftest"
    assert child.protocol == protocol
    assert child.headers["x-tenant"] == "t1"
    if compression is not None:
        assert child.headers["content-encoding"] == compression.value
    assert child.start_time_unix_nano <= child.end_time_unix_nano
    assert len(otlp_receiver.requests) == 2  # SimpleSpanProcessor: one request per span


def test_otlp_json_over_http_is_decoded(otlp_receiver: OtlpReceiver) -> None:
    service_attribute = {"key": "service.name", "value": {"stringValue": "json-service"}}
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [service_attribute]},
                "scopeSpans": [
                    {
                        "scope": {"name": "json-scope"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "json-span",
                                "kind": 3,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "attributes": [{"key": "n", "value": {"intValue": "42"}}],
                                "status": {"code": 2, "message": "boom"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    response = requests.post(otlp_receiver.http_endpoint, json=document, timeout=10)
    assert response.status_code == 200
    [span] = otlp_receiver.wait_for_spans(1)
    assert (span.trace_id, span.span_id, span.parent_span_id) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "eee19b7ec3c1b173",
    )
    assert span.attributes == {"n": 42}
    assert (span.status_code, span.status_message) == (2, "boom")
    assert span.kind_name == "SPAN_KIND_CLIENT"
    assert span.resource == {"service.name": "json-service"}


def test_http_503_is_retried_by_the_sdk_and_recorded_once(
    clean_env: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver
) -> None:
    otlp_receiver.fail_with(http_status=503, retry_after=0.1, times=1)
    service = f"selftest-retry-{uuid.uuid4().hex[:8]}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        SimpleSpanProcessor(HttpSpanExporter(endpoint=otlp_receiver.http_endpoint))
    )
    provider.get_tracer("t").start_span("retried").end()
    provider.shutdown()

    [span] = otlp_receiver.wait_for_spans(1, predicate=_by_service(service))
    assert span.name == "retried"
    assert otlp_receiver.rejected_requests == 1
    assert len(otlp_receiver.requests) == 1
    assert len(otlp_receiver.spans()) == 1


def test_grpc_unavailable_with_retry_info_is_retried_after_the_given_delay(
    clean_env: pytest.MonkeyPatch, otlp_receiver: OtlpReceiver
) -> None:
    otlp_receiver.fail_with(grpc_code=grpc.StatusCode.UNAVAILABLE, retry_after=0.05, times=1)
    exporter = GrpcSpanExporter(endpoint=otlp_receiver.grpc_endpoint, insecure=True)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    started = time.monotonic()
    provider.get_tracer("t").start_span("retried-grpc").end()
    elapsed = time.monotonic() - started
    provider.shutdown()

    assert [span.name for span in otlp_receiver.wait_for_spans(1)] == ["retried-grpc"]
    assert otlp_receiver.rejected_requests == 1
    # Without RetryInfo the exporter backs off >= 0.8 s before its first retry.
    assert elapsed < 0.7, f"RetryInfo ignored? export took {elapsed:.2f}s"


def test_permanent_fault_rejects_until_reset(otlp_receiver: OtlpReceiver) -> None:
    otlp_receiver.fail_with(http_status=400)
    exporter = HttpSpanExporter(endpoint=otlp_receiver.http_endpoint)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    tracer.start_span("rejected-1").end()
    tracer.start_span("rejected-2").end()
    assert otlp_receiver.rejected_requests == 2
    assert otlp_receiver.spans() == []

    otlp_receiver.reset_faults()
    otlp_receiver.delay(0.2)
    started = time.monotonic()
    tracer.start_span("accepted").end()
    assert time.monotonic() - started >= 0.2
    provider.shutdown()
    assert [span.name for span in otlp_receiver.wait_for_spans(1)] == ["accepted"]


def test_wait_for_spans_reports_what_arrived_on_timeout(otlp_receiver: OtlpReceiver) -> None:
    with pytest.raises(AssertionError, match="received 0 span"):
        otlp_receiver.wait_for_spans(1, timeout=0.1)


# -- OpenAI-compatible server through litellm's real HTTP path ----------------------------
def test_litellm_completion_gets_scripted_content_and_usage(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(
        Reply(
            content="Sunny in Paris.",
            prompt_tokens=21,
            completion_tokens=4,
            cached_tokens=5,
            reasoning_tokens=2,
        )
    )
    response = litellm.completion(
        model="openai/gpt-4o-mini",
        api_base=openai_server.base_url,
        api_key="sk-test",
        messages=MESSAGES,
        **NO_RETRIES,
    )
    assert response.choices[0].message.content == "Sunny in Paris."
    assert response.choices[0].finish_reason == "stop"
    assert response.id.startswith("chatcmpl-")
    assert response.model == "gpt-4o-mini"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (21, 4)
    assert response.usage.prompt_tokens_details.cached_tokens == 5
    assert response.usage.completion_tokens_details.reasoning_tokens == 2

    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.json["model"] == "gpt-4o-mini"
    assert request.json["messages"] == MESSAGES


def test_litellm_streaming_yields_several_chunks(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(Reply(content="one two three four", prompt_tokens=9))
    chunks = list(
        litellm.completion(
            model="openai/gpt-4o-mini",
            api_base=openai_server.base_url,
            api_key="sk-test",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            **NO_RETRIES,
        )
    )
    pieces = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices]
    assert len([piece for piece in pieces if piece]) >= 4
    assert "".join(piece or "" for piece in pieces) == "one two three four"
    assert chunks[-1].usage.prompt_tokens == 9
    assert openai_server.requests[0].json["stream"] is True


def test_litellm_tool_call_reply(openai_server: OpenAIServer) -> None:
    arguments = json.dumps({"location": "Paris"})
    openai_server.enqueue(
        Reply(tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": arguments}])
    )
    response = litellm.completion(
        model="openai/gpt-4o-mini",
        api_base=openai_server.base_url,
        api_key="sk-test",
        messages=MESSAGES,
        **NO_RETRIES,
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1",
        "get_weather",
        arguments,
    )


def test_litellm_rate_limit_error(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(ErrorReply(status=429, message="slow down", code="rate_limit_exceeded"))
    with pytest.raises(litellm.RateLimitError, match="slow down"):
        litellm.completion(
            model="openai/gpt-4o-mini",
            api_base=openai_server.base_url,
            api_key="sk-test",
            messages=MESSAGES,
            **NO_RETRIES,
        )
    assert len(openai_server.requests) == 1


def test_dropped_connection_fails_the_call_once(openai_server: OpenAIServer) -> None:
    openai_server.drop_connection_next()
    call = {
        "model": "openai/gpt-4o-mini",
        "api_base": openai_server.base_url,
        "api_key": "sk-test",
        "messages": MESSAGES,
        **NO_RETRIES,
    }
    # litellm 1.110 maps openai's APIConnectionError to InternalServerError here.
    with pytest.raises((litellm.InternalServerError, litellm.APIConnectionError)):
        litellm.completion(**call)
    assert litellm.completion(**call).choices[0].message.content


def _wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_a_client_leaving_mid_stream_is_counted_without_a_traceback(
    openai_server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_server.enqueue(Reply(content=" ".join(["word"] * 40), chunk_delay=0.02))
    body = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: loopback\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", openai_server.port), timeout=5) as client:
        client.sendall(head.encode() + body)
        received = b""
        while b"data: " not in received:
            received += client.recv(4096)
        # Close with a reset, as a client that abandons a stream does: the next writes fail.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    assert _wait_until(lambda: openai_server.client_disconnects == 1)
    assert "Traceback" not in capsys.readouterr().err


def test_a_real_server_error_still_prints_its_traceback(
    openai_server: OpenAIServer, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the loopback server")

    monkeypatch.setitem(openai_server_module._POST_ROUTES, "/chat/completions", broken)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{openai_server.base_url}/chat/completions", json={}, timeout=5)
    err = ""

    def traceback_printed() -> bool:
        nonlocal err
        err += capsys.readouterr().err
        return "RuntimeError: a bug in the loopback server" in err

    assert _wait_until(traceback_printed), err
    assert openai_server.client_disconnects == 0


@pytest.mark.parametrize("server", ["otlp_receiver", "openai_server"])
def test_a_client_hanging_up_prints_nothing_and_a_real_error_its_traceback(
    server: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """A client that gave up on a slow answer (an app's bounded shutdown against a stalled
    receiver) makes the reply's write fail: not the server's failure, no traceback."""
    http = request.getfixturevalue(server)._http
    for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
        try:
            raise gone
        except OSError:
            http.handle_error(None, ("127.0.0.1", 1))
    assert capsys.readouterr() == ("", "")
    try:
        raise RuntimeError("a bug in the loopback server")
    except RuntimeError:
        http.handle_error(None, ("127.0.0.1", 1))
    assert "RuntimeError: a bug in the loopback server" in capsys.readouterr().err


def test_litellm_embeddings_return_vectors(openai_server: OpenAIServer) -> None:
    response = litellm.embedding(
        model="openai/text-embedding-3-small",
        api_base=openai_server.base_url,
        api_key="sk-test",
        input=["first", "second"],
        max_retries=0,
    )
    vectors = [item["embedding"] for item in response.data]
    assert len(vectors) == 2
    assert all(len(vector) == 8 and all(isinstance(x, float) for x in vector) for vector in vectors)
    assert vectors[0] != vectors[1]
    assert openai_server.requests[0].path == "/v1/embeddings"


def test_litellm_responses_api(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(Reply(content="Responses API answer", prompt_tokens=6))
    response = litellm.responses(
        model="openai/gpt-4o-mini",
        input="hi",
        api_base=openai_server.base_url,
        api_key="sk-test",
    )
    assert response.output[0].content[0].text == "Responses API answer"
    assert response.usage.input_tokens == 6
    assert openai_server.requests[0].path == "/v1/responses"


def test_models_endpoint(openai_server: OpenAIServer) -> None:
    with urllib.request.urlopen(f"{openai_server.base_url}/models", timeout=10) as response:
        listing = json.load(response)
    assert "gpt-4o-mini" in [model["id"] for model in listing["data"]]


# -- MLflow tracking server ----------------------------------------------------------------
@pytest.fixture
def mlflow_client(mlflow_server: MlflowServer) -> Iterator[object]:
    import mlflow

    yield mlflow.MlflowClient(mlflow_server.uri)


def test_mlflow_server_is_healthy_and_answers_the_client(
    mlflow_server: MlflowServer, mlflow_client
) -> None:
    assert mlflow_server.pid is not None
    with urllib.request.urlopen(f"{mlflow_server.uri}/health", timeout=10) as response:
        assert response.status == 200
    names = [experiment.name for experiment in mlflow_client.search_experiments()]
    assert "Default" in names


def test_mlflow_server_ingests_otlp_genai_span_as_chat_model(
    clean_env: pytest.MonkeyPatch, mlflow_server: MlflowServer, mlflow_client
) -> None:
    exporter = HttpSpanExporter(
        endpoint=f"{mlflow_server.uri}/v1/traces", headers={"x-mlflow-experiment-id": "0"}
    )
    service = f"selftest-mlflow-{uuid.uuid4().hex[:8]}"
    _, trace_id = _emit_parent_and_child(exporter, service)

    trace = wait_for_trace(mlflow_client, trace_id, spans=2)
    spans_by_name = {span.name: span for span in trace.data.spans}
    assert set(spans_by_name) == {"parent", "chat gpt-4o-mini"}, mlflow_server.log_tail()
    assert spans_by_name["chat gpt-4o-mini"].span_type == "CHAT_MODEL"


def test_wait_for_returns_once_the_condition_holds() -> None:
    answers = iter([0, 1, 2, 3])
    assert wait_for("three", lambda: next(answers), lambda n: n == 3, interval=0) == 3
    assert next(answers, None) is None  # asked no more than needed


def test_wait_for_retries_the_named_errors_and_says_what_it_last_saw() -> None:
    calls = []

    def probe() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise KeyError("not yet")
        return len(calls)

    assert wait_for("no error", probe, retry_on=(KeyError,), interval=0) == 3
    with pytest.raises(AssertionError, match=r"waiting for a 5; last saw: 4$"):
        wait_for("a 5", lambda: 4, lambda n: n == 5, timeout=0.05, interval=0.01)
    with pytest.raises(AssertionError, match=r"last saw: KeyError: 'gone'"):
        wait_for("a key", lambda: {}["gone"], timeout=0.05, interval=0.01, retry_on=(KeyError,))
    with pytest.raises(ZeroDivisionError):  # an error not named is the test's failure at once
        wait_for("a number", lambda: 1 / 0, timeout=5)
