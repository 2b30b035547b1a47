"""`otel-bridge demo` end to end in its own process, checked with MLflow's own search API."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from otel_bridge.cli.demo import view_instructions
from otel_bridge.config import load_settings
from otel_bridge.demo import WEATHER_TOOL, ScriptedModel, choose_model, get_weather
from otel_bridge.demo.scripted import answer_from_tools, find_city
from tests.e2e.apps import BIN, REPO_ROOT, base_env
from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces
from tests.support.mlflow_ui import MlflowUi as BrowsedUi
from tests.support.mlflow_ui import unavailable as browser_unavailable
from tests.support.openai_payloads import Reply
from tests.support.servers import ServerProcess

DEMO_QUESTION = "What's the weather like in Paris today?"
DEMO_ANSWER = "It's rainy in Paris today, so take an umbrella."
BROWSER_MISSING = browser_unavailable()
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
    # this tree's otel_bridge, whichever tree the environment's editable install points at
    environment = base_env(PYTHONPATH=str(REPO_ROOT))
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
    store = run.line(r"^  MLflow: .*\bmlflow ui --backend-store-uri (sqlite:///\S+) ").group(1)
    assert store == f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_name = run.line(r"then open http://127.0.0.1:5000 → experiment '([^']+)'").group(1)
    assert experiment_name == "otel-bridge-demo"  # OTEL_SERVICE_NAME is unset
    assert f"→ Traces → tr-{trace_id}" in run.stdout
    # the receiver is no Jaeger: the trace id and where it went, no Jaeger link
    run.line(
        rf"^  OTLP: sent to {re.escape(otlp_receiver.http_endpoint)}; "
        rf"look up trace {trace_id} in its UI$"
    )
    assert "Jaeger" not in run.stdout
    run.line(r"^\[2/4\] the model asked for get_weather\(\{\"location\": \"Paris\"\}\) -> rainy$")
    run.line(rf"^{re.escape(DEMO_ANSWER)}$")  # streamed
    run.line(r"^mlflow: 5 spans exported, 0 dropped$")

    # MLflow, read through its own client from the printed store and experiment.
    client = MlflowClient(store)
    [trace] = wait_for_traces(client, wait_for_experiment(client, experiment_name), spans=5)
    assert trace.info.trace_id == f"tr-{trace_id}"
    spans = trace.data.spans
    [root] = [s for s in spans if s.parent_id is None]
    assert root.span_type == "AGENT" and root.name == "invoke_agent WeatherAgent"
    assert root.inputs == {"question": DEMO_QUESTION}
    assert root.outputs == DEMO_ANSWER
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

    # The same trace in the OTLP receiver (the OTLP line's trace id).
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
    assert "Jaeger" not in run.stdout and "OTLP:" not in run.stdout  # no OTLP endpoint set
    [trace] = wait_for_traces(client, wait_for_experiment(client, "wx-bot"), spans=5)
    assert trace.info.trace_id == f"tr-{trace_id}"
    assert sorted(s.span_type for s in trace.data.spans) == [
        "AGENT",
        "CHAT_MODEL",
        "CHAT_MODEL",
        "EMBEDDING",
        "TOOL",
    ]


class PrintedMlflowUi(ServerProcess):
    """The `mlflow ui` command a demo printed, run as written (on a free port, not 5000)."""

    name = "mlflow ui"

    def __init__(self, workdir: Path, printed: str, env: dict[str, str]) -> None:
        super().__init__(workdir, "mlflow-ui.log")
        words = shlex.split(printed.replace("5000", str(self.port)))
        assignments = [w for w in words if re.fullmatch(r"[A-Z_]+=.*", w)]
        self.argv = words[len(assignments) :]
        self.env = {**env, **dict(a.split("=", 1) for a in assignments)}

    def start(self) -> PrintedMlflowUi:
        self._spawn(self.argv, self.env, timeout=180)
        return self

    def is_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False


def serve_the_demos_store(tmp_path: Path, service: str) -> tuple[DemoRun, PrintedMlflowUi]:
    """Run the demo, then the `mlflow ui` command it printed, as a user would, offline: no
    proxy, and an HTTPS_PROXY that goes nowhere would show any attempt to go out."""
    run = run_demo(tmp_path, OTEL_SERVICE_NAME=service)
    assert run.returncode == 0, run.stdout + run.stderr
    printed = run.line(r"^  MLflow: (.*\bmlflow ui .*)$").group(1)
    assert " mlflow ui " in printed  # this environment's `mlflow` is first on the demo's PATH
    env = {k: v for k, v in base_env().items() if "proxy" not in k.lower()}
    env.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    return run, PrintedMlflowUi(tmp_path / "ui", printed, env).start()


@pytest.mark.e2e
def test_the_printed_mlflow_ui_command_serves_the_store_offline_and_quietly(tmp_path):
    _, ui = serve_the_demos_store(tmp_path, "ui-check")
    try:
        query = urllib.parse.urlencode({"experiment_name": "ui-check"})
        url = f"http://127.0.0.1:{ui.port}/api/2.0/mlflow/experiments/get-by-name?{query}"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert json.load(response)["experiment"]["name"] == "ui-check"  # the demo's store
    finally:
        ui.stop()
    quiet = re.compile(
        r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d INFO: |"  # uvicorn's access and life-cycle lines
        r"Registry store URI not provided\. Using backend store URI\.$|"
        rf"\[MLflow\] Security middleware enabled\. Allowed hosts: localhost:{ui.port}, "
        rf"127\.0\.0\.1:{ui.port}\.$"
    )
    noise = [line for line in ui.log_text().splitlines() if not quiet.match(line)]
    assert noise == [], ui.log_text()


@pytest.mark.e2e
@pytest.mark.skipif(BROWSER_MISSING is not None, reason=str(BROWSER_MISSING))
def test_the_demo_trace_in_the_browser_as_the_printed_path_leads(tmp_path):
    """Home page → the printed experiment → Traces → the row: what a first-time user clicks,
    in MLflow's UI served by the printed `mlflow ui` over the embedded store."""
    run, server = serve_the_demos_store(tmp_path, "otel-bridge-demo")
    trace_id = run.line(r"^trace id: ([0-9a-f]{32})$").group(1)
    experiment = run.line(r"then open http://127\.0\.0\.1:5000 → experiment '([^']+)'").group(1)
    try:
        with BrowsedUi(f"http://127.0.0.1:{server.port}") as ui:
            page = ui.page
            page.goto(ui.uri + "/")
            page.get_by_role("link", name=experiment, exact=True).click()
            page.get_by_role("link", name="Traces", exact=True).click()
            page.get_by_text(DEMO_QUESTION).first.click()
            ui.opened_trace()
            header, tree, pane = ui.trace_header(), ui.span_tree(), ui.span_pane()
    finally:
        server.stop()
    assert header.startswith(f"Trace {trace_id[:8]} Success "), header
    assert [name for name, _ in tree] == [
        "invoke_agent WeatherAgent",
        "chat scripted-weather",
        "execute_tool get_weather",
        "chat scripted-weather",
        "embeddings scripted-embedding",
    ]
    # duration, then tokens where the span has usage: both chat calls and the embedding
    tokens = [int(metrics.split()[1]) for _, metrics in tree if len(metrics.split()) > 1]
    assert len(tokens) == 3 and f" {sum(tokens)} tokens" in header, (tree, header)
    assert f"Inputs Pretty question {DEMO_QUESTION} Outputs Pretty {DEMO_ANSWER}" in pane, pane


def _settings(**env: str):
    return load_settings({"OTEL_SERVICE_NAME": "wx-bot", **env})


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SERVER_LINE = (
    f"  MLflow: open http://mlflow.internal:5000 → experiment 'wx-bot' → Traces → tr-{TRACE}"
)
JAEGER_LINE = f"  Jaeger: http://localhost:16686/trace/{TRACE}"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"MLFLOW_TRACKING_URI": "http://mlflow.internal:5000"}, [SERVER_LINE], id="server"
        ),
        pytest.param(
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:4317",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
            },
            [JAEGER_LINE],
            id="otlp-to-the-compose-collector",
        ),
        pytest.param(
            {
                "MLFLOW_TRACKING_URI": "http://mlflow.internal:5000",
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
            },
            [SERVER_LINE, JAEGER_LINE],
            id="both-inside-compose",
        ),
        pytest.param(
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://tempo.example.com/v1/traces",
                "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer sk-secret",
            },
            [
                "  OTLP: sent to https://tempo.example.com/v1/traces; "
                f"look up trace {TRACE} in its UI"
            ],
            id="otlp-elsewhere",
        ),
        pytest.param(
            {"MLFLOW_TRACKING_URI": "https://bot:pa55word@mlflow.example.com"},
            [
                "  MLflow: open https://bot:***@mlflow.example.com → experiment 'wx-bot' → "
                f"Traces → tr-{TRACE}"
            ],
            id="server-credentials-masked",
        ),
    ],
)
def test_the_demo_points_at_the_configured_backends(env, expected):
    assert view_instructions(_settings(**env), TRACE) == ["see the trace:", *expected]


def test_the_embedded_store_gets_a_quiet_local_mlflow_ui_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # another `mlflow` first: the full path is shown
    _, command, then = view_instructions(_settings(OTEL_TRACES_EXPORTER="mlflow"), TRACE)
    assert command == (
        "  MLflow: MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false "
        "PYTHONWARNINGS=ignore:starlette.middleware.wsgi "
        f"{BIN / 'mlflow'} ui --backend-store-uri sqlite:///{tmp_path / 'mlflow.db'} "
        "--host 127.0.0.1 --port 5000 --workers 1 --allowed-hosts localhost:5000,127.0.0.1:5000"
    )
    assert (
        then
        == f"          then open http://127.0.0.1:5000 → experiment 'wx-bot' → Traces → tr-{TRACE}"
    )


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
    messages = [{"role": "user", "content": DEMO_QUESTION}]
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
