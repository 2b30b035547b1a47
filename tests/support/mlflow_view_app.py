"""Every kind of trace issue 15's MLflow view is about, written through the bridge into MLflow: one
app under `otel-bridge run`, through LiteLLM's real HTTP path to the loopback OpenAI server
(tests/support/openai_server.py):

- an LLM call as the root (a system and a user message), one whose answer is a tool call, and a
  Responses API call with `instructions`;
- a plain application root with an embedding and a chat call inside (totals);
- an agent (`otel_bridge.trace`) that fails after an LLM reply;
- a stream whose provider sends no usage (the app asks for none);
- 40 concurrent calls under one root, tagged `worker:N` each.

Read through MLflow's API by tests/mlflow/test_view.py, in the MLflow UI by
tests/mlflow/test_ui.py and `python -m tests.support.mlflow_screenshots`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Trace

from tests.e2e.apps import base_env, run_app
from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces
from tests.support.openai_server import OpenAIServer, Reply

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
    Reply(tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": WEATHER_CALL}]),
    Reply(content=SEA_ANSWER, prompt_tokens=17, completion_tokens=8),
    Reply(prompt_tokens=55),  # the embedding
    Reply(content=UMBRELLA_ANSWER, prompt_tokens=45, completion_tokens=12),
    Reply(content=EARLY_REPLY),
    Reply(content=STREAMED),
    *[Reply(content="done", prompt_tokens=10, completion_tokens=2) for _ in range(WORKERS)],
]
SPANS = 1 + 1 + 1 + 3 + 2 + 1 + (1 + WORKERS)


def stream_tokens_counted() -> tuple[int, int]:
    """The stream's input and output tokens as LiteLLM counts them (its provider sends none)."""
    import litellm

    prompt = litellm.token_counter(
        model="gpt-4o-mini", messages=[{"role": "user", "content": STREAM_QUESTION}]
    )
    completion = litellm.token_counter(
        model="gpt-4o-mini", text=STREAMED, count_response_tokens=True
    )
    return prompt, completion


@dataclass
class ViewTraces:
    client: MlflowClient
    experiment_id: str
    ids: dict[str, str]  # scenario -> MLflow trace id
    traces: dict[str, Trace]  # MLflow trace id -> Trace (from search_traces)
    stream_request: dict  # what the app's stream sent to the provider


def write_view_traces(
    openai_server: OpenAIServer, tracking_uri: str, cwd: Path, experiment: str
) -> ViewTraces:
    """Run the app once into ``tracking_uri`` (a server or ``sqlite:///``), experiment
    ``experiment``; the traces once all their spans landed, each scenario's trace id found."""
    openai_server.clear()
    openai_server.enqueue(*REPLIES)
    env = base_env(
        MLFLOW_TRACKING_URI=tracking_uri,
        MLFLOW_EXPERIMENT_NAME=experiment,
        OTEL_SERVICE_NAME=experiment,
        TEST_OPENAI_BASE=openai_server.base_url,
        TEST_TEXTS=json.dumps(TEXTS),
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",
    )
    run = run_app(APP, cwd, env, timeout=240)
    assert run.returncode == 0, run.stderr
    client = MlflowClient(tracking_uri)
    experiment_id = wait_for_experiment(client, experiment)
    traces = wait_for_traces(client, experiment_id, spans=SPANS)
    ids = dict(run.result)
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
    [stream_request] = [r.json for r in openai_server.requests if (r.json or {}).get("stream")]
    return ViewTraces(
        client, experiment_id, ids, {t.info.trace_id: t for t in traces}, stream_request
    )
