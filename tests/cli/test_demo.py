"""`otel-bridge demo` end to end in its own process, checked with MLflow's own search API."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from otel_bridge.demo import WEATHER_TOOL, ScriptedModel, choose_model, get_weather
from otel_bridge.demo.scripted import answer_from_tools, find_city
from tests.e2e.apps import BIN, base_env
from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces
from tests.support.openai_payloads import Reply

PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")


@dataclass
class DemoRun:
    returncode: int
    stdout: str
    stderr: str

    def line(self, pattern: str) -> re.Match[str]:
        match = re.search(pattern, self.stdout, re.MULTILINE)
        assert match, f"no line matching {pattern!r} in:\n{self.stdout}\nstderr:\n{self.stderr}"
        return match


def run_demo(cwd: Path, *args: str, **env: str) -> DemoRun:
    environment = base_env()
    for key in PROVIDER_KEYS:  # offline (the scripted model) unless the test sets a key
        environment.pop(key, None)
    environment.update(env)
    done = subprocess.run(
        [str(BIN / "otel-bridge"), "demo", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return DemoRun(done.returncode, done.stdout, done.stderr)


@pytest.mark.e2e
def test_demo_traces_one_agent_tree_into_the_embedded_store(tmp_path, otlp_receiver):
    run = run_demo(tmp_path, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint)

    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == ""
    trace_id = run.line(r"^trace id: ([0-9a-f]{32})$").group(1)
    store = run.line(r"^  MLflow: \S*mlflow ui --backend-store-uri (sqlite:///\S+)$").group(1)
    assert store == f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_name = run.line(r"then open http://127.0.0.1:5000 → experiment '([^']+)'").group(1)
    assert experiment_name == "otel-bridge-demo"  # OTEL_SERVICE_NAME is unset
    assert f"→ Traces → tr-{trace_id}" in run.stdout
    assert f"  Jaeger: http://localhost:16686/trace/{trace_id}" in run.stdout
    run.line(r"^\[2/4\] the model asked for get_weather\(\{\"location\": \"Paris\"\}\) -> rainy$")
    answer = "It's rainy in Paris today, so take an umbrella."
    run.line(rf"^{re.escape(answer)}$")  # streamed
    run.line(r"^mlflow: 5 spans exported, 0 dropped$")

    # MLflow, read through its own client from the printed store and experiment.
    client = MlflowClient(store)
    [trace] = wait_for_traces(client, wait_for_experiment(client, experiment_name), spans=5)
    assert trace.info.trace_id == f"tr-{trace_id}"
    spans = trace.data.spans
    [root] = [s for s in spans if s.parent_id is None]
    assert root.span_type == "AGENT" and root.name == "invoke_agent WeatherAgent"
    assert root.inputs == {"question": "What's the weather like in Paris today?"}
    assert root.outputs == answer
    children = [s for s in spans if s is not root]
    assert all(s.parent_id == root.span_id for s in children)  # one tree
    assert sorted((s.span_type, s.name) for s in children) == [
        ("CHAT_MODEL", "chat scripted-weather"),
        ("CHAT_MODEL", "chat scripted-weather"),
        ("EMBEDDING", "embeddings scripted-embedding"),
        ("TOOL", "execute_tool get_weather"),
    ]
    [tool] = [s for s in children if s.span_type == "TOOL"]
    assert tool.inputs == {"location": "Paris"} and tool.outputs == "rainy"
    first_chat = min(
        (s for s in children if s.span_type == "CHAT_MODEL"), key=lambda s: s.start_time_ns
    )
    assert "get_weather" in str(first_chat.outputs)  # the tool call the model asked for
    assert first_chat.get_attribute("gen_ai.tool.definitions")  # the tools offered

    # The same trace in the OTLP receiver (the Jaeger line's trace id).
    received = otlp_receiver.wait_for_spans(5, lambda s: s.trace_id == trace_id)
    assert {s.resource["service.name"] for s in received} == {"otel-bridge-demo"}


@pytest.mark.e2e
def test_demo_with_a_real_model_over_http(tmp_path, openai_server):
    """A provider key and --model: LiteLLM's real HTTP path (the loopback OpenAI server);
    OTEL_SERVICE_NAME set: it names the experiment."""
    openai_server.enqueue(
        Reply(
            tool_calls=[
                {"id": "call_7", "name": "get_weather", "arguments": '{"location": "Tokyo"}'}
            ]
        ),
        Reply(content="Sunny all day in Tokyo."),
    )
    run = run_demo(
        tmp_path,
        "--model",
        "openai/gpt-4o-mini",
        "--question",
        "Is it warm in Tokyo?",
        OTEL_SERVICE_NAME="wx-bot",
        OPENAI_API_KEY="sk-loopback-secret",
        OPENAI_API_BASE=openai_server.base_url,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "sk-loopback-secret" not in run.stdout + run.stderr
    run.line(r"^model: openai/gpt-4o-mini \(--model\)$")
    run.line(r"^question: Is it warm in Tokyo\?$")
    run.line(r"get_weather\(\{\"location\": \"Tokyo\"\}\) -> sunny$")
    run.line(r"^Sunny all day in Tokyo\.$")
    run.line(r"embedded the answer with text-embedding-3-small: 8 dimensions$")
    paths = [r.path for r in openai_server.requests]
    assert paths == ["/v1/chat/completions", "/v1/chat/completions", "/v1/embeddings"]
    first, second, _ = (r.json for r in openai_server.requests)
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert second["stream"] is True
    assert first["messages"][-1] == {"role": "user", "content": "Is it warm in Tokyo?"}
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_7", "content": "sunny"}
    trace_id = run.line(r"^trace id: ([0-9a-f]{32})$").group(1)
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert "experiment 'wx-bot' → Traces" in run.stdout
    assert "Jaeger" not in run.stdout  # no OTLP endpoint set
    [trace] = wait_for_traces(client, wait_for_experiment(client, "wx-bot"), spans=5)
    assert trace.info.trace_id == f"tr-{trace_id}"
    assert sorted(s.span_type for s in trace.data.spans) == [
        "AGENT",
        "CHAT_MODEL",
        "CHAT_MODEL",
        "EMBEDDING",
        "TOOL",
    ]


def test_demo_stops_on_a_configuration_error(tmp_path):
    run = run_demo(tmp_path, MLFLOW_TRACKING_URI="./mlruns")
    assert run.returncode == 2
    assert run.stderr.startswith(
        "otel-bridge demo: configuration error: MLFLOW_TRACKING_URI='./mlruns': use an MLflow "
        "server URL"
    )


# --- the scripted model and the model choice, in-process --------------------------------------


def test_get_weather_is_scenario_3():
    assert [get_weather(c) for c in ("Tokyo", "paris", "Paris, France", "Oslo")] == [
        "sunny",
        "rainy",
        "rainy",
        "unknown",
    ]
    assert WEATHER_TOOL["function"]["parameters"]["required"] == ["location"]


def test_scripted_model_asks_for_the_tool_then_answers():
    model = ScriptedModel()
    messages = [{"role": "user", "content": "What's the weather like in Paris today?"}]
    reply = model.chat_kwargs(messages, [WEATHER_TOOL])["mock_response"]
    [call] = reply.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"location": "Paris"}'
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "rainy"},
    ]
    assert model.chat_kwargs(messages, [WEATHER_TOOL]) == {
        "mock_response": "It's rainy in Paris today, so take an umbrella."
    }
    assert model.chat_kwargs(messages[:1], None)["mock_response"].startswith("Which city")
    assert find_city("how about the weather at Mont Blanc") == "Mont Blanc"
    unknown = [
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"arguments": '{"location": "New York"}'}}],
        },
        {"role": "tool", "tool_call_id": "c", "content": "unknown"},
    ]
    assert answer_from_tools(unknown).startswith("I have no weather report for New York today")
    assert answer_from_tools([]).startswith("Which city")
    vector = model.embedding_kwargs("hello")["mock_response"]
    assert len(vector) == 16 and vector == model.embedding_kwargs("hello")["mock_response"]


def test_model_choice():
    assert choose_model(None, {}).offline
    assert choose_model("scripted", {"OPENAI_API_KEY": "k"}).offline
    openai = choose_model(None, {"OPENAI_API_KEY": "k"})
    assert (openai.chat_model, openai.embedding_model, openai.offline) == (
        "gpt-4o-mini",
        "text-embedding-3-small",
        False,
    )
    claude = choose_model(None, {"ANTHROPIC_API_KEY": "k"})
    assert claude.chat_model.startswith("anthropic/") and claude.scripted_chat is None
    assert claude.scripted_embedding is not None  # no OpenAI key: embeddings stay scripted
    assert choose_model("ollama/llama3", {}).chat_model == "ollama/llama3"
