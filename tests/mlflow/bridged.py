"""Apps whose traces land in a live MLflow server and in the embedded store.

Apps run under `otel-bridge run` the way a user runs them, concurrently (each pays seconds of
imports): a plain application span as the trace's root with two LiteLLM calls inside, request
tags, a session and a user; one trace outside and one inside an active MLflow run. Two more apps
send with message content kept from MLflow (`OTEL_BRIDGE_CONTENT_DESTINATIONS=otlp` / `none`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient

from tests.e2e.apps import BIN, AppRun
from tests.support.mlflow_traces import wait_for_trace

QUESTION = "What's the weather like in Paris today?"
FOLLOW_UP = "And tomorrow?"
FIRST_ANSWER = "It's rainy in Paris today, so take an umbrella."
LAST_ANSWER = "Tomorrow will be sunny in Paris."
TAGS = {"jobID": "214590dsff09fds", "taskName": "run_page_classification"}

# A plain app span (no inputs of its own) as the root, two LLM calls under it.
BRIDGED_APP = """
import json, os, sys
import litellm
from opentelemetry import trace

tracer = trace.get_tracer("app")
QUESTION, FOLLOW_UP = {question!r}, {follow_up!r}
ANSWERS = {answers!r}
TAGS = {tags!r}


def handle_request():
    with tracer.start_as_current_span("handle-request") as span:
        messages = [{{"role": "user", "content": QUESTION}}]
        for number, answer in enumerate(ANSWERS):
            if number:
                messages += [{{"role": "assistant", "content": ANSWERS[number - 1]}},
                             {{"role": "user", "content": FOLLOW_UP}}]
            litellm.completion(
                model="openai/gpt-4o-mini",
                messages=messages,
                mock_response=answer,
                user=os.environ["TEST_USER"],
                metadata={{"tags": TAGS, "session_id": os.environ["TEST_SESSION"]}},
            )
    return format(span.get_span_context().trace_id, "032x")


result = {{"outside": handle_request(), "mlflow_imported": "mlflow" in sys.modules}}
if os.environ.get("TEST_MLFLOW_RUN"):
    import mlflow

    with mlflow.start_run() as run:
        result["inside"] = handle_request()
    result["run_id"] = run.info.run_id
print(json.dumps(result))
"""


def bridged_app_source() -> str:
    return textwrap.dedent(BRIDGED_APP).format(
        question=QUESTION,
        follow_up=FOLLOW_UP,
        answers=[FIRST_ANSWER, LAST_ANSWER],
        tags=[f"{k}:{v}" for k, v in TAGS.items()],
    )


@dataclass
class Bridged:
    """One app's traces as they landed in MLflow."""

    mode: str  # "server" | "embedded"
    tracking_uri: str
    experiment_id: str
    service: str
    session: str
    user: str
    result: dict

    @property
    def trace_ids(self) -> set[str]:
        return {f"tr-{self.result[k]}" for k in ("outside", "inside") if k in self.result}

    def client(self) -> MlflowClient:
        return MlflowClient(self.tracking_uri)

    def wait_until_stored(self) -> None:
        """Every trace of the app whole in MLflow (its root and both LLM spans): a server may
        store them after the app's exit."""
        for trace_id in self.trace_ids:
            wait_for_trace(self.client(), trace_id, spans=3)

    def search(self, filter_string: str | None = None, **kwargs) -> set[str]:
        traces = self.client().search_traces(
            locations=[self.experiment_id], filter_string=filter_string, **kwargs
        )
        return {t.info.trace_id for t in traces}


def start_bridged_app(cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    app = cwd / "app.py"
    app.write_text(bridged_app_source())
    cmd = [str(BIN / "otel-bridge"), "run", "--", sys.executable, str(app)]
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], timeout: float = 240) -> AppRun:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    run = AppRun(process.returncode, stdout, stderr)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


def llm_trace(service: str) -> list:
    """A finished trace as the instrumentation makes it, without LiteLLM: a plain root span and
    one chat span with content, tags, session and user (children first, as exporters see them)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    def messages(role: str, text: str) -> str:
        return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.mlflow")
    chat = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.input.messages": messages("user", QUESTION),
        "gen_ai.output.messages": messages("assistant", LAST_ANSWER),
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 7,
        "session.id": f"session-{service}",
        "user.id": f"user-{service}",
        "litellm.request.tags": [f"{k}:{v}" for k, v in TAGS.items()],
    }
    root = tracer.start_as_current_span("handle-request")
    with root, tracer.start_as_current_span("chat gpt-4o-mini", attributes=chat):
        pass
    return list(memory.get_finished_spans())
