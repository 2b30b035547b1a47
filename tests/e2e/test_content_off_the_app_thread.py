"""Under the bridge's pipeline the app's thread never serialises message content: the
destinations that receive it build it in their workers, from what the call was given."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import base_env, run_app
from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces

pytestmark = pytest.mark.e2e

# Every JSON text the bridge builds goes through content._dumps: record which thread runs it.
APP = """
import json, os, threading
import litellm
from otel_bridge.instrumentation import content

threads = set()
dumps = content._dumps

def recording_dumps(value):
    threads.add(threading.current_thread().name)
    return dumps(value)

content._dumps = recording_dumps

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}
messages = [{"role": "user", "content": "Weather in Paris? key sk-abcdefghijklmnopqrstuvwxyz0123"}]
response = litellm.completion(
    model="openai/gpt-4o-mini", messages=messages, tools=[WEATHER],
    api_base=os.environ["TEST_OPENAI_BASE"], api_key="sk-test",
)
# the agent pattern: the reply appended to the very list passed to the call, then edited
messages.append(response.choices[0].message.model_dump())
messages[0]["content"] = "changed after the call"
stream = litellm.completion(
    model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "stream please"}],
    stream=True, api_base=os.environ["TEST_OPENAI_BASE"], api_key="sk-test",
)
streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
print("ready", flush=True)
import otel_bridge
otel_bridge.configure().force_flush()
print(json.dumps({"threads": sorted(threads), "streamed": streamed}))
"""


def _run(tmp_path: Path, otlp_receiver, openai_server, destinations: str) -> tuple[dict, str, str]:
    service = f"content-threads-{uuid.uuid4().hex[:8]}"
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = base_env(
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.grpc_endpoint,
        OTEL_BRIDGE_CONTENT_DESTINATIONS=destinations,
        MLFLOW_TRACKING_URI=tracking_uri,
        TEST_OPENAI_BASE=openai_server.base_url,
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",  # the flush's: the store opens on MLflow's thread
    )
    run = run_app(APP, tmp_path, env)
    assert run.returncode == 0, run.stderr
    return run.result, service, tracking_uri


def test_content_is_built_by_the_destinations_workers(otlp_receiver, openai_server, tmp_path):
    result, service, tracking_uri = _run(tmp_path, otlp_receiver, openai_server, "otlp,mlflow")

    assert result["threads"], "no content was serialised at all"
    assert "MainThread" not in result["threads"], result["threads"]
    assert all(name.startswith("otel-bridge-") for name in result["threads"]), result["threads"]

    spans = otlp_receiver.wait_for_spans(2, lambda s: s.resource.get("service.name") == service)
    chat, stream = sorted(
        spans, key=lambda s: "stream please" in s.attributes["gen_ai.input.messages"]
    )
    inputs = json.loads(chat.attributes["gen_ai.input.messages"])
    # as the call was given: not the reply appended after it, nor the edit; the key scrubbed
    assert len(inputs) == 1
    text = inputs[0]["parts"][0]["content"]
    assert text.startswith("Weather in Paris? key ") and "sk-abcdef" not in text
    assert json.loads(chat.attributes["gen_ai.tool.definitions"])[0]["name"] == "get_weather"
    outputs = json.loads(chat.attributes["gen_ai.output.messages"])
    assert outputs[0]["role"] == "assistant" and outputs[0]["parts"]
    streamed = json.loads(stream.attributes["gen_ai.output.messages"])
    assert streamed[0]["parts"][0]["content"] == result["streamed"] != ""

    # MLflow got the very same content, built once for both destinations
    client = MlflowClient(tracking_uri)
    traces = wait_for_traces(client, wait_for_experiment(client, service), spans=2)
    by_input = {
        json.dumps(s.get_attribute("gen_ai.input.messages")): s
        for t in traces
        for s in t.data.spans
    }
    mlflow_chat = by_input[json.dumps(inputs)]
    assert mlflow_chat.get_attribute("gen_ai.output.messages") == outputs


def test_destinations_without_content_never_build_it(otlp_receiver, openai_server, tmp_path):
    result, service, tracking_uri = _run(tmp_path, otlp_receiver, openai_server, "mlflow")

    assert result["threads"] == ["otel-bridge-mlflow-worker"], result["threads"]
    spans = otlp_receiver.wait_for_spans(2, lambda s: s.resource.get("service.name") == service)
    for span in spans:
        assert "gen_ai.input.messages" not in span.attributes
        assert "gen_ai.output.messages" not in span.attributes
        assert "gen_ai.tool.definitions" not in span.attributes
    client = MlflowClient(tracking_uri)
    traces = wait_for_traces(client, wait_for_experiment(client, service), spans=2)
    inputs = [s.get_attribute("gen_ai.input.messages") for t in traces for s in t.data.spans]
    assert len(inputs) == 2 and all(inputs), inputs
