"""Issue 15, the MLflow view: what a person sees in MLflow's trace list (previews, state, tokens,
tags) and trace view (inputs/outputs), read through MLflow's own API from a live server and from
the embedded store. One app under `otel-bridge run`, through LiteLLM's real HTTP path to the
loopback OpenAI server, makes every kind of trace:

- an LLM call as the root (a system and a user message), one whose answer is a tool call, and a
  Responses API call with `instructions`;
- a plain application root with an embedding and a chat call inside (totals);
- an agent (`otel_bridge.trace`) that fails after an LLM reply;
- a stream whose provider sends no usage (the app asks for none);
- 40 concurrent calls under one root, tagged `worker:N` each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import litellm
import pytest
from mlflow import MlflowClient

from tests.e2e.apps import base_env, run_app
from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces
from tests.support.openai_server import OpenAIServer, Reply

pytestmark = pytest.mark.e2e

SYSTEM = "You suggest weekend plans."
QUESTION = "Hi - i'm open to suggestions for Saturday in Paris."
SUGGESTION = "How about a walk along the Seine, then a picnic?"
WEATHER_QUESTION = "What's the weather in Paris?"
INSTRUCTIONS = "You talk like a pirate."
SEA_QUESTION = "How is the sea today?"
SEA_ANSWER = "Arr, the sea be calm today."
UMBRELLA_QUESTION = "Do I need an umbrella in Paris?"
UMBRELLA_ANSWER = "It's rainy in Paris today, so take an umbrella."
AGENT_QUESTION = "Will it rain in Tokyo tomorrow?"
EARLY_REPLY = "Let me look that up for you."
STREAM_QUESTION = "Stream me the weather."
STREAMED = "Streaming along: it's sunny in Paris, take sunglasses."
WORKERS = 40
WEATHER_CALL = '{"location": "Paris"}'

APP = """
import json, os, threading
import litellm
from opentelemetry import context, trace as otel_trace
from otel_bridge import trace

tracer = otel_trace.get_tracer("app")
base = {"api_base": os.environ["TEST_OPENAI_BASE"], "api_key": "sk-test"}
M = "openai/gpt-4o-mini"
ids = {}
T = json.loads(os.environ["TEST_TEXTS"])


def trace_id(span):
    return "tr-" + format(span.get_span_context().trace_id, "032x")


for name, kwargs in {
    "llm_root": {"messages": [{"role": "system", "content": T["system"]},
                              {"role": "user", "content": T["question"]}]},
    "tool_call": {"messages": [{"role": "user", "content": T["weather"]}],
                  "tools": [{"type": "function", "function": {"name": "get_weather",
                             "parameters": {"type": "object", "properties": {
                                 "location": {"type": "string"}}}}}]},
}.items():
    response = litellm.completion(model=M, **kwargs, **base)
    ids[name] = response.id  # the LLM span is the root: found by its response id below

litellm.responses(model=M, input=T["sea"], instructions=T["instructions"], **base)

with tracer.start_as_current_span("handle-request") as span:
    litellm.embedding(model="openai/text-embedding-3-small", input=["umbrella weather"], **base)
    litellm.completion(model=M, messages=[{"role": "user", "content": T["umbrella"]}], **base)
ids["plain_root"] = trace_id(span)


@trace(span_type="AGENT", name="weather_agent")
def agent(question):
    litellm.completion(model=M, messages=[{"role": "user", "content": question}], **base)
    raise RuntimeError("the weather service is down")


try:
    agent(T["agent"])
except RuntimeError:
    pass

for _ in litellm.completion(model=M, messages=[{"role": "user", "content": T["stream"]}],
                            stream=True, **base):
    pass

with tracer.start_as_current_span("fan-out") as span:
    parent = context.get_current()

    def work(n):
        token = context.attach(parent)
        try:
            litellm.completion(model=M, messages=[{"role": "user", "content": f"job {n}"}],
                               metadata={"tags": [f"worker:{n}"]}, **base)
        finally:
            context.detach(token)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(T["workers"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
ids["fan_out"] = trace_id(span)
print(json.dumps(ids))
"""
TEXTS = {
    "system": SYSTEM,
    "question": QUESTION,
    "weather": WEATHER_QUESTION,
    "sea": SEA_QUESTION,
    "instructions": INSTRUCTIONS,
    "umbrella": UMBRELLA_QUESTION,
    "agent": AGENT_QUESTION,
    "stream": STREAM_QUESTION,
    "workers": WORKERS,
}

REPLIES = [
    Reply(content=SUGGESTION, prompt_tokens=21, completion_tokens=13),
    Reply(
        tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": '{"location": "Paris"}'}]
    ),
    Reply(content=SEA_ANSWER, prompt_tokens=17, completion_tokens=8),
    Reply(prompt_tokens=55),  # the embedding
    Reply(content=UMBRELLA_ANSWER, prompt_tokens=45, completion_tokens=12),
    Reply(content=EARLY_REPLY),
    Reply(content=STREAMED),
    *[Reply(content="done", prompt_tokens=10, completion_tokens=2) for _ in range(WORKERS)],
]
SPANS = 1 + 1 + 1 + 3 + 2 + 1 + (1 + WORKERS)


@dataclass
class Viewed:
    client: MlflowClient
    ids: dict[str, str]  # scenario -> MLflow trace id
    traces: dict[str, object]  # MLflow trace id -> Trace (from search_traces)
    stream_request: dict


@pytest.fixture(scope="module")
def viewed(
    mlflow_server, openai_server_session: OpenAIServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Viewed]:
    """The app run once into the server and once into the embedded store (one after the other:
    the loopback server answers in order)."""
    landed = {}
    for mode in ("server", "embedded"):
        cwd: Path = tmp_path_factory.mktemp(f"view-{mode}")
        uri = mlflow_server.uri if mode == "server" else f"sqlite:///{cwd / 'mlflow.db'}"
        experiment = f"view-{mode}-{cwd.name}"
        openai_server_session.clear()
        openai_server_session.enqueue(*REPLIES)
        env = base_env(
            MLFLOW_TRACKING_URI=uri,
            MLFLOW_EXPERIMENT_NAME=experiment,
            OTEL_SERVICE_NAME=experiment,
            TEST_OPENAI_BASE=openai_server_session.base_url,
            TEST_TEXTS=json.dumps(TEXTS),
            OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",
        )
        run = run_app(APP, cwd, env, timeout=240)
        assert run.returncode == 0, run.stderr
        client = MlflowClient(uri)
        experiment_id = wait_for_experiment(client, experiment)
        traces = wait_for_traces(client, experiment_id, spans=SPANS)
        ids = dict(run.result)
        by_id = {t.info.trace_id: t for t in traces}
        for name in ("llm_root", "tool_call"):  # an LLM root: its trace found by response id
            ids[name] = next(
                t.info.trace_id
                for t in traces
                if any(s.get_attribute("gen_ai.response.id") == ids[name] for s in t.data.spans)
            )
        ids["responses"] = next(
            t.info.trace_id for t in traces if t.info.request_preview == SEA_QUESTION
        )
        ids["agent"] = next(t.info.trace_id for t in traces if t.info.state == "ERROR")
        ids["stream"] = next(
            t.info.trace_id for t in traces if t.info.request_preview == STREAM_QUESTION
        )
        [stream_request] = [
            r.json for r in openai_server_session.requests if (r.json or {}).get("stream")
        ]
        landed[mode] = Viewed(client, ids, by_id, stream_request)
    return landed


MODES = ["server", "embedded"]


@pytest.mark.parametrize("mode", MODES)
def test_the_list_previews_the_text_a_person_wrote_and_read(viewed, mode):
    view = viewed[mode]
    previews = {
        name: (
            view.traces[view.ids[name]].info.request_preview,
            view.traces[view.ids[name]].info.response_preview,
        )
        for name in ("llm_root", "tool_call", "responses", "plain_root", "stream")
    }
    assert previews == {
        "llm_root": (QUESTION, SUGGESTION),  # the last user message, not the system one
        "tool_call": (WEATHER_QUESTION, 'get_weather({"location": "Paris"})'),
        "responses": (SEA_QUESTION, SEA_ANSWER),
        "plain_root": (UMBRELLA_QUESTION, UMBRELLA_ANSWER),
        "stream": (STREAM_QUESTION, STREAMED),
    }


@pytest.mark.parametrize("mode", MODES)
def test_the_trace_view_keeps_the_whole_conversation(viewed, mode):
    view = viewed[mode]

    def root(name):
        trace = view.client.get_trace(view.ids[name])
        return next(s for s in trace.data.spans if s.parent_id is None), trace

    llm_root, _ = root("llm_root")
    assert llm_root.inputs == {
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    }
    assert llm_root.outputs == {"messages": [{"role": "assistant", "content": SUGGESTION}]}
    tool_root, _ = root("tool_call")
    [answer] = tool_root.outputs["messages"]
    assert answer["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
        }
    ]
    # the Responses API's instructions lead the inputs
    responses_root, _ = root("responses")
    assert responses_root.inputs["messages"][0] == {"role": "system", "content": INSTRUCTIONS}
    # an inner LLM span keeps the conventions' messages, which MLflow's chat view renders too
    plain, trace = root("plain_root")
    assert plain.inputs == {"messages": [{"role": "user", "content": UMBRELLA_QUESTION}]}
    [chat] = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
    assert chat.inputs == [
        {"role": "user", "parts": [{"type": "text", "content": UMBRELLA_QUESTION}]}
    ]


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_trace_shows_no_reply_as_its_response(viewed, mode):
    view = viewed[mode]
    info = view.traces[view.ids["agent"]].info
    assert info.state == "ERROR"
    assert AGENT_QUESTION in info.request_preview
    assert not info.response_preview  # not the reply that came before the failure
    trace = view.client.get_trace(view.ids["agent"])
    [llm] = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
    assert EARLY_REPLY in json.dumps(llm.outputs)  # still on the LLM span itself


@pytest.mark.parametrize("mode", MODES)
def test_totals_add_up_with_embeddings(viewed, mode):
    view = viewed[mode]
    usage = view.traces[view.ids["plain_root"]].info.token_usage
    assert (usage["input_tokens"], usage["output_tokens"]) == (55 + 45, 12)
    assert usage["total_tokens"] == 55 + 45 + 12
    trace = view.client.get_trace(view.ids["plain_root"])
    [embedding] = [s for s in trace.data.spans if s.span_type == "EMBEDDING"]
    assert embedding.get_attribute("mlflow.chat.tokenUsage") == {
        "input_tokens": 55,
        "output_tokens": 0,
        "total_tokens": 55,
    }


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_without_usage_gets_litellms_count_marked_estimated(viewed, mode):
    view = viewed[mode]
    assert "stream_options" not in view.stream_request  # the app's request, unchanged
    trace = view.client.get_trace(view.ids["stream"])
    [span] = trace.data.spans
    assert span.get_attribute("litellm.usage.estimated") is True
    prompt = litellm.token_counter(
        model="gpt-4o-mini", messages=[{"role": "user", "content": STREAM_QUESTION}]
    )
    completion = litellm.token_counter(
        model="gpt-4o-mini", text=STREAMED, count_response_tokens=True
    )
    assert view.traces[view.ids["stream"]].info.token_usage == {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
    }


@pytest.mark.parametrize("mode", MODES)
def test_disagreeing_tags_lift_the_first_started_spans_value(viewed, mode):
    view = viewed[mode]
    trace = view.client.get_trace(view.ids["fan_out"])
    workers = sorted(
        (s.start_time_ns, s.span_id, s.get_attribute("litellm.request.tags")[0])
        for s in trace.data.spans
        if s.parent_id is not None
    )
    assert len(workers) == WORKERS
    first = workers[0][2].removeprefix("worker:")
    assert trace.info.tags["worker"] == first
    experiment_id = trace.info.experiment_id
    found = view.client.search_traces(
        locations=[experiment_id], filter_string=f"tag.worker = '{first}'"
    )
    assert [t.info.trace_id for t in found] == [view.ids["fan_out"]]
    other = workers[-1][2].removeprefix("worker:")
    assert not view.client.search_traces(
        locations=[experiment_id], filter_string=f"tag.worker = '{other}'"
    )
