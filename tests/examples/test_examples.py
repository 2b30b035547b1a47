"""Each example runs offline under `otel-bridge run`; its trace is checked in MLflow and OTLP."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.e2e.apps import BIN, REPO_ROOT, base_env
from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces

pytestmark = pytest.mark.e2e

PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")
ANSWER = "It's rainy in Paris today, so take an umbrella."


def run_example(name: str, cwd: Path, answer: str = ANSWER, **env: str) -> tuple[str, list]:
    """Run examples/<name>.py under otel-bridge run; its trace id and MLflow spans."""
    # The embedded store opens on the MLflow destination's thread, seconds on a busy machine: the
    # example's exit waits for it rather than leaving its spans in the spool for the next run.
    environment = base_env(
        OTEL_SERVICE_NAME=f"example-{name}", OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60", **env
    )
    for key in PROVIDER_KEYS:
        environment.pop(key, None)
    cmd = [
        str(BIN / "otel-bridge"),
        "run",
        "--",
        sys.executable,
        str(REPO_ROOT / "examples" / f"{name}.py"),
    ]
    done = subprocess.run(
        cmd, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert answer in done.stdout.splitlines()
    match = re.search(r"^trace id: ([0-9a-f]{32})$", done.stdout, re.MULTILINE)
    assert match, done.stdout
    trace_id = match.group(1)
    client = MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}")
    experiment_id = wait_for_experiment(client, f"example-{name}")
    [trace] = wait_for_traces(client, experiment_id, trace_ids=[trace_id])
    assert trace.info.trace_id == f"tr-{trace_id}"
    return trace_id, sorted(trace.data.spans, key=lambda s: s.start_time_ns)


def test_tool_calls(tmp_path, otlp_receiver):
    trace_id, spans = run_example(
        "tool_calls", tmp_path, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint
    )
    root, first, tool, second = spans
    assert root.name == "weather-question" and root.parent_id is None
    assert [(s.span_type, s.parent_id) for s in (first, tool, second)] == [
        ("CHAT_MODEL", root.span_id),
        ("TOOL", root.span_id),
        ("CHAT_MODEL", root.span_id),
    ]
    # The tools offered, the call the model asked for, the tool's run, the answer from its result.
    [offered] = first.get_attribute("gen_ai.tool.definitions")
    assert (offered["name"], offered["parameters"]["required"]) == ("get_weather", ["location"])
    [asked] = [p for m in first.outputs for p in m["parts"] if p["type"] == "tool_call"]
    assert (asked["name"], asked["arguments"]) == ("get_weather", {"location": "Paris"})
    assert tool.name == "execute_tool get_weather"
    assert (tool.inputs, tool.outputs) == ({"location": "Paris"}, "rainy")
    assert any(p.get("type") == "tool_call_response" for m in second.inputs for p in m["parts"])
    assert ANSWER in str(second.outputs)

    received = otlp_receiver.wait_for_spans(4, lambda s: s.trace_id == trace_id)
    assert sorted(s.name for s in received) == sorted(s.name for s in spans)


def test_agent_is_one_tree(tmp_path):
    _, spans = run_example("agent", tmp_path)
    root, *steps = spans
    assert (root.name, root.span_type, root.parent_id) == ("invoke_agent Agent", "AGENT", None)
    assert root.inputs == {"query": "What's the weather like in Paris today?"}
    assert root.outputs == ANSWER
    assert [(s.name, s.span_type) for s in steps] == [
        ("chat scripted-weather", "CHAT_MODEL"),
        ("get_action", "CHAIN"),
        ("execute_tool get_weather", "TOOL"),
        ("chat scripted-weather", "CHAT_MODEL"),
        ("get_action", "CHAIN"),
    ]
    assert all(s.parent_id == root.span_id for s in steps)
    assert steps[1].outputs["type"] == "tool_calls"
    assert steps[4].outputs == {"type": "answer", "content": ANSWER}


PLAIN_ANSWER = "Hello! I'm a scripted stand-in for gpt-4o-mini."


def test_plain_call_default_content_policy(tmp_path, otlp_receiver):
    trace_id, spans = run_example(
        "plain_call",
        tmp_path,
        answer=PLAIN_ANSWER,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
    )
    root, chat = spans
    assert (root.name, root.parent_id) == ("answer-user", None)
    assert (chat.span_type, chat.parent_id) == ("CHAT_MODEL", root.span_id)
    assert "Hi - i'm openai" in str(chat.inputs)
    # the app's root span shows the first input and the last output (the trace list's previews)
    assert "Hi - i'm openai" in str(root.inputs)
    assert PLAIN_ANSWER in str(root.outputs)
    received = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == trace_id)
    llm = next(s for s in received if s.name == "chat gpt-4o-mini")
    assert "gen_ai.input.messages" not in llm.attributes  # content: MLflow only, by default


def test_plain_call_content_to_otlp_only(tmp_path, otlp_receiver):
    trace_id, spans = run_example(
        "plain_call",
        tmp_path,
        answer=PLAIN_ANSWER,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BRIDGE_CONTENT_DESTINATIONS="otlp",
    )
    root, chat = spans
    assert chat.span_type == "CHAT_MODEL"
    assert chat.inputs is None and root.inputs is None
    received = otlp_receiver.wait_for_spans(2, lambda s: s.trace_id == trace_id)
    llm = next(s for s in received if s.name == "chat gpt-4o-mini")
    assert "Hi - i'm openai" in llm.attributes["gen_ai.input.messages"]
