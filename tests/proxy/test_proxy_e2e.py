"""Issue 4 end to end: a real LiteLLM proxy loading ``otel_bridge.proxy.handler``, real HTTP
requests to it, the spans checked in an OTLP receiver and in a real MLflow server."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import TraceState

from otel_bridge.proxy.callback import TRACER_NAME
from tests.e2e.apps import REPO_ROOT
from tests.support.mlflow_traces import wait_for_experiment, wait_for_trace
from tests.support.openai_server import ErrorReply, Reply
from tests.support.otlp_receiver import ReceivedSpan
from tests.support.ports import free_port

from . import virtual_keys
from .proxy_process import MOCK_CONTENT, LiteLLMProxy, proxy_config, strong_key

pytestmark = pytest.mark.e2e

SCENARIO_TAGS = ["jobID:214590dsff09fds", "taskName:run_page_classification"]
QUESTION = "what llm are you"
SPAN_NAME = "chat gpt-4o-mini"


class Setup:
    """One proxy for the module, and everything the tests need to know about it."""

    def __init__(self, proxy: LiteLLMProxy, service: str, mlflow_uri: str, keys: dict[str, str]):
        self.proxy = proxy
        self.service = service
        self.mlflow = MlflowClient(mlflow_uri)
        self.master_key = keys["master"]
        self.virtual_key = keys["virtual"]
        self.upstream_key = keys["upstream"]

    @property
    def secrets(self) -> list[str]:
        return [self.master_key, self.virtual_key, self.upstream_key]


def _keys() -> dict[str, str]:
    return {
        "master": strong_key("sk-master"),
        "virtual": strong_key("sk-virtual"),
        "upstream": strong_key("sk-upstream"),
    }


def _start_proxy(
    workdir: Path, openai_base_url: str, env: dict[str, str], keys: dict[str, str]
) -> LiteLLMProxy:
    config = proxy_config(openai_base_url, keys["upstream"], dead_port=free_port())
    env = {
        "LITELLM_MASTER_KEY": keys["master"],
        "TEST_VIRTUAL_KEY": keys["virtual"],
        **env,
    }
    return LiteLLMProxy(workdir, config, env).start()


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory, otlp_receiver_session, openai_server_session, mlflow_server
) -> Iterator[Setup]:
    service = f"llm-gateway-{uuid.uuid4().hex[:8]}"
    keys = _keys()
    proxy = _start_proxy(
        tmp_path_factory.mktemp("litellm-proxy"),
        openai_server_session.base_url,
        {
            "OTEL_SERVICE_NAME": service,
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_receiver_session.grpc_endpoint,
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": otlp_receiver_session.http_base + "/v1/metrics",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        },
        keys,
    )
    try:
        yield Setup(proxy, service, mlflow_server.uri, keys)
    finally:
        proxy.kill()


# -- helpers ---------------------------------------------------------------------------------


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def _chat(
    setup: Setup,
    model: str,
    *,
    key: str | None = None,
    traceparent: str | None = None,
    stream: bool = False,
    tags: list[str] | None = None,
    user: str | None = None,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {key or setup.master_key}"}
    if traceparent:
        headers["traceparent"] = traceparent
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": QUESTION}]}
    if tags is not None:
        body["litellm_metadata"] = {"tags": tags}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if user:
        body["user"] = user
    return requests.post(
        f"{setup.proxy.url}/chat/completions", json=body, headers=headers, timeout=60, stream=stream
    )


def _streamed_text(response: requests.Response) -> str:
    text = []
    for line in response.iter_lines(decode_unicode=True):
        if line and line.startswith("data: ") and line != "data: [DONE]":
            chunk = json.loads(line[len("data: ") :])
            for choice in chunk.get("choices") or ():
                text.append((choice.get("delta") or {}).get("content") or "")
    return "".join(text)


def _span_of_trace(receiver, trace_id: str) -> ReceivedSpan:
    [span] = receiver.wait_for_spans(1, lambda s: s.trace_id == trace_id)
    return span


def _span_of_call(receiver, response: requests.Response) -> ReceivedSpan:
    call_id = response.headers["x-litellm-call-id"]
    [span] = receiver.wait_for_spans(1, lambda s: s.attributes.get("litellm.call_id") == call_id)
    return span


def _mlflow_trace(setup: Setup, trace_id: str):
    """The proxy's one-span trace in the experiment named after the service."""
    experiment_id = wait_for_experiment(setup.mlflow, setup.service)
    trace = wait_for_trace(setup.mlflow, trace_id, spans=1)
    assert trace.info.experiment_id == experiment_id
    return trace


def _assert_no_other_span(receiver, trace_id: str) -> None:
    time.sleep(1.0)  # four export intervals: a second span would have arrived by now
    spans = [s for s in receiver.spans() if s.trace_id == trace_id]
    assert [s.name for s in spans] == [SPAN_NAME]


# -- tests -----------------------------------------------------------------------------------


def test_plain_call_continues_the_callers_trace(setup, otlp_receiver):
    trace_id, caller_span, traceparent = _traceparent()
    response = _chat(setup, "mock-gpt", traceparent=traceparent, tags=SCENARIO_TAGS)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == MOCK_CONTENT

    span = _span_of_trace(otlp_receiver, trace_id)
    assert span.name == SPAN_NAME
    assert span.kind_name == "SPAN_KIND_CLIENT"
    assert span.parent_span_id == caller_span
    assert span.scope_name == TRACER_NAME
    assert span.resource["service.name"] == setup.service
    a = span.attributes
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["gen_ai.usage.input_tokens"] > 0
    assert a["litellm.router.model_group"] == "mock-gpt"
    assert a["litellm.request.tags"] == SCENARIO_TAGS  # LiteLLM's "User-Agent: ..." dropped
    assert not [k for k in a if k.startswith("mlflow.")]  # MLflow's dialect: MLflow's copy only
    assert "gen_ai.input.messages" not in a  # content goes to MLflow only, by default
    assert span.status_code == 0
    assert span.duration_ns > 0

    # MLflow: the same trace id, the proxy's span as the trace's root, tags searchable.
    trace = _mlflow_trace(setup, trace_id)
    [root] = trace.data.spans
    assert root.name == SPAN_NAME and root.parent_id is None
    assert root.span_type == "CHAT_MODEL"
    assert QUESTION in json.dumps(root.inputs)
    assert trace.info.state == TraceState.OK
    assert trace.info.tags["jobID"] == "214590dsff09fds"
    assert trace.info.tags["taskName"] == "run_page_classification"
    assert trace.info.tags["litellm.router.model_group"] == "mock-gpt"
    found = setup.mlflow.search_traces(
        locations=[trace.info.experiment_id], filter_string="tags.jobID = '214590dsff09fds'"
    )
    assert f"tr-{trace_id}" in {t.info.trace_id for t in found}


def test_exactly_one_span_per_call(setup, otlp_receiver):
    """No instrumentor span for the router's internal litellm.acompletion, no HTTP server span."""
    trace_id, _, traceparent = _traceparent()
    assert _chat(setup, "mock-gpt", traceparent=traceparent).status_code == 200
    _span_of_trace(otlp_receiver, trace_id)
    _assert_no_other_span(otlp_receiver, trace_id)
    ours = [s for s in otlp_receiver.spans() if s.resource.get("service.name") == setup.service]
    assert {s.scope_name for s in ours} == {TRACER_NAME}
    assert {s.kind_name for s in ours} == {"SPAN_KIND_CLIENT"}


def test_streaming_through_the_loopback_server(setup, otlp_receiver, openai_server):
    openai_server.enqueue(Reply(content="streamed through the proxy", chunk_delay=0.02))
    trace_id, caller_span, traceparent = _traceparent()
    response = _chat(setup, "loop-gpt", traceparent=traceparent, stream=True, tags=["stream:yes"])
    assert response.status_code == 200
    assert _streamed_text(response) == "streamed through the proxy"
    # the upstream got its own key; the span must not (see test_no_secret_anywhere)
    assert openai_server.requests[-1].headers["authorization"] == f"Bearer {setup.upstream_key}"

    span = _span_of_trace(otlp_receiver, trace_id)
    assert span.parent_span_id == caller_span
    a = span.attributes
    assert a["gen_ai.request.stream"] is True
    assert a["gen_ai.usage.input_tokens"] == 11 and a["gen_ai.usage.output_tokens"] == 7
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert 0 < a["gen_ai.response.time_to_first_chunk"] <= span.duration_ns / 1e9
    assert a["server.address"] == "127.0.0.1"
    assert a["server.port"] == openai_server.port
    assert a["litellm.api_base"] == openai_server.base_url
    assert "stream:yes" in a["litellm.request.tags"]
    _assert_no_other_span(otlp_receiver, trace_id)

    trace = _mlflow_trace(setup, trace_id)
    [root] = trace.data.spans
    assert root.parent_id is None
    assert trace.info.tags["stream"] == "yes"
    assert "streamed through the proxy" in json.dumps(root.outputs)


def test_proxied_calls_record_the_genai_client_metrics(setup, otlp_receiver, openai_server):
    """The handler's metrics go through the bridge's metrics pipeline of the proxy process
    (cumulative, exported every 0.5 s: compared with what the series held before the call)."""
    call = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "loop-gpt",  # the proxy answers with the model group's name
        "server.address": "127.0.0.1",
        "server.port": openai_server.port,
    }

    def ours(name: str, **extra: Any) -> Any:
        wanted = {**call, **extra}
        return lambda p: (
            p.name == name
            and p.scope_name == TRACER_NAME
            and p.resource.get("service.name") == setup.service
            and p.attributes == wanted
        )

    durations = ours("gen_ai.client.operation.duration")
    inputs = ours("gen_ai.client.token.usage", **{"gen_ai.token.type": "input"})
    outputs = ours("gen_ai.client.token.usage", **{"gen_ai.token.type": "output"})
    with contextlib.suppress(AssertionError):  # earlier tests' calls, if any: four exports
        otlp_receiver.wait_for_histograms(durations, timeout=2.0)
    before = {
        "count": sum(p.count for p in otlp_receiver.histograms() if durations(p)),
        "input": sum(p.sum for p in otlp_receiver.histograms() if inputs(p)),
        "output": sum(p.sum for p in otlp_receiver.histograms() if outputs(p)),
    }

    openai_server.enqueue(
        Reply(content="metered", chunk_delay=0.02, prompt_tokens=13, completion_tokens=3)
    )
    assert _streamed_text(_chat(setup, "loop-gpt", stream=True)) == "metered"

    [duration] = otlp_receiver.wait_for_histograms(
        lambda p: durations(p) and p.count == before["count"] + 1
    )
    assert duration.unit == "s" and duration.sum > 0
    otlp_receiver.wait_for_histograms(lambda p: inputs(p) and p.sum == before["input"] + 13)
    otlp_receiver.wait_for_histograms(lambda p: outputs(p) and p.sum == before["output"] + 3)
    [first] = otlp_receiver.wait_for_histograms(ours("gen_ai.client.operation.time_to_first_chunk"))
    assert first.unit == "s" and 0 < first.sum <= duration.sum


def test_without_traceparent_the_call_is_its_own_trace(setup, otlp_receiver):
    response = _chat(setup, "mock-gpt")
    assert response.status_code == 200
    span = _span_of_call(otlp_receiver, response)
    assert span.parent_span_id is None
    [root] = _mlflow_trace(setup, span.trace_id).data.spans
    assert root.parent_id is None


def test_team_key_alias_and_end_user_from_a_virtual_key(setup, otlp_receiver):
    trace_id, _, traceparent = _traceparent()
    response = _chat(
        setup,
        "mock-gpt",
        key=setup.virtual_key,
        traceparent=traceparent,
        tags=SCENARIO_TAGS,
        user="end-user-9",
    )
    assert response.status_code == 200, response.text
    a = _span_of_trace(otlp_receiver, trace_id).attributes
    assert a["litellm.proxy.team.alias"] == virtual_keys.TEAM_ALIAS
    assert a["litellm.proxy.team.id"] == virtual_keys.TEAM_ID
    assert a["litellm.proxy.key.alias"] == virtual_keys.KEY_ALIAS
    assert a["litellm.proxy.user.id"] == virtual_keys.USER_ID
    assert a["litellm.proxy.end_user"] == "end-user-9"
    assert a["user.id"] == "end-user-9"
    # a hash of the key at most
    assert a["litellm.proxy.key.hash"] == hashlib.sha256(setup.virtual_key.encode()).hexdigest()

    trace = _mlflow_trace(setup, trace_id)
    tags = trace.info.tags
    assert tags["litellm.proxy.team.alias"] == virtual_keys.TEAM_ALIAS
    assert tags["litellm.proxy.team.id"] == virtual_keys.TEAM_ID
    assert tags["litellm.proxy.key.alias"] == virtual_keys.KEY_ALIAS
    assert tags["litellm.proxy.end_user"] == "end-user-9"
    assert tags["litellm.router.model_group"] == "mock-gpt"
    assert tags["jobID"] == "214590dsff09fds"
    assert trace.info.request_metadata.get("mlflow.trace.user") == "end-user-9"


ROUTES = {
    "embeddings": ("/v1/embeddings", {"input": ["a", "b"]}, "embeddings gpt-4o-mini"),
    "responses": ("/v1/responses", {"input": "hello"}, SPAN_NAME),
    "anthropic messages": (
        "/v1/messages",
        {"max_tokens": 20, "messages": [{"role": "user", "content": "hello"}]},
        SPAN_NAME,
    ),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_other_model_routes(route, setup, otlp_receiver, openai_server):
    path, body, name = ROUTES[route]
    trace_id, caller_span, traceparent = _traceparent()
    response = requests.post(
        f"{setup.proxy.url}{path}",
        json={"model": "loop-gpt", **body, "metadata": {"tags": ["route:" + route]}},
        headers={"Authorization": f"Bearer {setup.master_key}", "traceparent": traceparent},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    span = _span_of_trace(otlp_receiver, trace_id)
    assert span.name == name
    assert span.parent_span_id == caller_span
    assert span.attributes["gen_ai.usage.input_tokens"] == 11
    assert span.attributes["litellm.request.tags"] == ["route:" + route]


# (model, scripted upstream answer, what LiteLLM answers its client, the error type). The answers
# are the proxy's own without the handler (same config, a no-op callback): the handler changes
# nothing in them.
FAILURES = {
    "refused": ("dead-gpt", None, 500, {"InternalServerError", "APIConnectionError"}),
    "429": ("loop-gpt", ErrorReply(status=429, type="rate_limit_error"), 429, {"RateLimitError"}),
    "500": ("loop-gpt", ErrorReply(status=500), 500, {"InternalServerError"}),
    "timeout": ("slow-gpt", Reply(delay=3.0), 408, {"Timeout"}),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failing_upstream_is_an_error_span_and_an_error_trace(
    case, setup, otlp_receiver, openai_server
):
    model, reply, client_status, error_types = FAILURES[case]
    if reply is not None:
        openai_server.enqueue(reply)
    trace_id, caller_span, traceparent = _traceparent()
    response = _chat(setup, model, traceparent=traceparent, tags=SCENARIO_TAGS)
    assert response.status_code == client_status, response.text
    assert f"model group '{model}' failed" in response.json()["error"]["message"]

    span = _span_of_trace(otlp_receiver, trace_id)
    assert span.name == SPAN_NAME
    assert span.parent_span_id == caller_span
    assert span.status_code == 2  # ERROR
    error_type = span.attributes["error.type"]
    assert error_type in error_types
    assert span.status_message.startswith(f"{error_type}: ")
    assert span.attributes["http.response.status_code"] == client_status
    assert span.attributes["litellm.router.model_group"] == model
    [(event_name, event)] = span.events
    assert event_name == "exception"
    assert event["exception.type"] == f"litellm.exceptions.{error_type}"  # as the SDK path's
    _assert_no_other_span(otlp_receiver, trace_id)

    trace = _mlflow_trace(setup, trace_id)
    assert trace.info.state == TraceState.ERROR
    [root] = trace.data.spans
    assert root.parent_id is None
    assert root.attributes["error.type"] == error_type
    assert trace.info.tags["jobID"] == "214590dsff09fds"


def test_no_secret_anywhere(setup, otlp_receiver, openai_server, mlflow_server):
    """Master key, virtual key, upstream key, a rejected key: in no exported byte, no MLflow
    file, no line the proxy logged."""
    wrong_key = strong_key("sk-wrong")
    traced: list[str] = []
    calls = [
        {"model": "mock-gpt", "key": wrong_key},  # refused: no model call, no span
        {"model": "mock-gpt", "key": setup.virtual_key, "user": "end-user-9"},
        {"model": "loop-gpt", "stream": True},
        {"model": "loop-gpt", "reply": ErrorReply(status=401, type="invalid_api_key")},
        {"model": "dead-gpt", "key": setup.virtual_key},
    ]
    for call in calls:
        if "reply" in call:
            openai_server.enqueue(call["reply"])
        trace_id, _, traceparent = _traceparent()
        response = _chat(
            setup,
            call["model"],
            key=call.get("key"),
            traceparent=traceparent,
            stream=call.get("stream", False),
            tags=SCENARIO_TAGS,
            user=call.get("user"),
        )
        response.content  # noqa: B018 - read the whole answer (streams too)
        traced.append(trace_id)
    refused, traced = traced[0], traced[1:]
    for trace_id in traced:
        _span_of_trace(otlp_receiver, trace_id)
        _mlflow_trace(setup, trace_id)
    assert not [s for s in otlp_receiver.spans() if s.trace_id == refused]

    forbidden = [*setup.secrets, wrong_key]
    exported = b"".join(r.request.SerializeToString() for r in otlp_receiver.requests)
    exported += json.dumps([s.attributes for s in otlp_receiver.spans()], default=str).encode()
    for secret in forbidden:
        assert secret.encode() not in exported
    for path in Path(mlflow_server.workdir).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in forbidden:
                assert secret.encode() not in data, path
    log = setup.proxy.log_text()
    for secret in forbidden:
        assert secret not in log


EXAMPLE_CONFIG = REPO_ROOT / "examples" / "proxy" / "config.yaml"
PROVIDER_KEYS = ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


def test_example_config_and_sigterm_flush(tmp_path, otlp_receiver, mlflow_server, monkeypatch):
    """examples/proxy/config.yaml as it is, the README's request to its offline model; the
    export interval is a minute, so only the flush at SIGTERM can deliver the spans."""
    for name in PROVIDER_KEYS:
        monkeypatch.delenv(name, raising=False)
    service = f"llm-gateway-{uuid.uuid4().hex[:8]}"
    keys = _keys()
    proxy = LiteLLMProxy(
        tmp_path,
        EXAMPLE_CONFIG,
        {
            "LITELLM_MASTER_KEY": keys["master"],
            "OTEL_SERVICE_NAME": service,
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_receiver.http_endpoint,
            "MLFLOW_TRACKING_URI": mlflow_server.uri,
            "OTEL_BSP_SCHEDULE_DELAY": "60000",
            "OTEL_BRIDGE_SHUTDOWN_TIMEOUT": "5",
        },
    ).start()
    setup = Setup(proxy, service, mlflow_server.uri, keys)
    try:
        traced = []
        for stream in (False, True):
            trace_id, _, traceparent = _traceparent()
            response = _chat(
                setup, "demo", traceparent=traceparent, stream=stream, tags=SCENARIO_TAGS
            )
            assert response.status_code == 200
            answer = _streamed_text(response) if stream else response.json()
            assert "demo model" in json.dumps(answer)
            traced.append(trace_id)
        time.sleep(0.5)
        assert not [s for s in otlp_receiver.spans() if s.trace_id in traced]

        took = proxy.terminate(timeout=45)
        assert took < 20, f"proxy took {took:.1f}s to exit:\n{proxy.log_tail()}"
    finally:
        proxy.kill()
    spans = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id in traced, timeout=5)
    assert {s.name for s in spans} == {SPAN_NAME}
    assert {s.attributes["litellm.router.model_group"] for s in spans} == {"demo"}
    assert {s.attributes.get("gen_ai.request.stream", False) for s in spans} == {True, False}
    for trace_id in traced:
        trace = _mlflow_trace(setup, trace_id)
        [root] = trace.data.spans
        assert root.parent_id is None
        assert trace.info.tags["jobID"] == "214590dsff09fds"
