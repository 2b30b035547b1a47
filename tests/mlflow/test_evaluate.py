"""Issue 8, evaluation: `mlflow.genai.evaluate` over bridged traces (examples/evaluate.py):
code scorers offline, an LLM judge through LiteLLM, assessments read back from the traces."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.apps import REPO_ROOT, base_env
from tests.mlflow.bridged import LAST_ANSWER, QUESTION
from tests.support.openai_server import Reply

pytestmark = pytest.mark.e2e

EXAMPLE = REPO_ROOT / "examples" / "evaluate.py"
PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")
CODE_SCORERS = {"no_errors", "has_answer", "within_token_budget"}


def start_example(app, *args: str, **env: str) -> subprocess.Popen[str]:
    environment = base_env(MLFLOW_TRACKING_URI=app.tracking_uri, **env)
    for key in (*PROVIDER_KEYS, "MLFLOW_GENAI_JUDGE_DEFAULT_MODEL"):
        if key not in env:
            environment.pop(key, None)
    experiment = app.client().get_experiment(app.experiment_id).name
    cmd = [sys.executable, str(EXAMPLE), "--experiment", experiment, *args]
    return subprocess.Popen(
        cmd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finished(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, out + err
    return out


def assessments(app, trace_id: str) -> dict[str, object]:
    info = app.client().get_trace(trace_id).info
    return {a.name: a.feedback.value for a in info.assessments if a.feedback is not None}


@pytest.fixture(scope="module")
def evaluated(bridged, openai_server_session):
    """The example run on the server's traces with a judge (the loopback model behind
    LiteLLM's OpenAI provider) and on the embedded store's without any key, side by side."""
    openai_server_session.clear()
    verdict = '{"result": "yes", "rationale": "It answers the question about Paris."}'
    openai_server_session.enqueue(*[Reply(content=verdict)] * 2)
    server, embedded = bridged["server"], bridged["embedded"]
    with_judge = start_example(
        server,
        "--filter",
        f"tag.`service.name` = '{server.service}'",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=openai_server_session.base_url,
    )
    code_only = start_example(embedded)
    outputs = {"server": finished(with_judge), "embedded": finished(code_only)}
    return outputs, list(openai_server_session.requests)


@pytest.mark.parametrize("mode", ["server", "embedded"])
def test_code_scorers_assess_every_bridged_trace(bridged, evaluated, mode):
    outputs, _ = evaluated
    app = bridged[mode]
    for trace_id in app.trace_ids:
        found = assessments(app, trace_id)
        assert {k: found[k] for k in CODE_SCORERS} == dict.fromkeys(CODE_SCORERS, True)
        assert f"{trace_id}: " in outputs[mode]  # printed as read back
    if mode == "embedded":
        assert "no LLM judge: none of OPENAI_API_KEY" in outputs[mode]


def test_an_llm_judge_through_litellm_sees_the_bridged_request_and_response(bridged, evaluated):
    outputs, requests = evaluated
    app = bridged["server"]
    assert (
        "LLM judge: openai:/gpt-4o-mini (from OPENAI_API_KEY), through LiteLLM" in outputs["server"]
    )
    for trace_id in app.trace_ids:
        assert assessments(app, trace_id)["answers_the_request"] == "yes"
    judged = [r for r in requests if r.path.endswith("/chat/completions")]
    assert len(judged) == 2  # one per trace, the filter kept the content-off apps out
    for request in judged:
        prompt = " ".join(str(m["content"]) for m in request.json["messages"])
        assert QUESTION in prompt and LAST_ANSWER in prompt


def test_the_evaluation_run_is_linked_to_the_traces(bridged, evaluated):
    outputs, _ = evaluated
    app = bridged["server"]
    run_id = next(
        line.split(": ")[1]
        for line in outputs["server"].splitlines()
        if line.startswith("evaluation run: ")
    )
    assert app.search(run_id=run_id) == app.trace_ids


@pytest.mark.skipif(
    not os.environ.get("OPENAI_API_KEY"),
    reason="no OPENAI_API_KEY: the LLM judge is not run against a real provider (it is run "
    "against the loopback model above)",
)
def test_a_real_judge_model(bridged):
    app = bridged["embedded"]
    out = finished(start_example(app, OPENAI_API_KEY=os.environ["OPENAI_API_KEY"]))
    assert "LLM judge: openai:/gpt-4o-mini" in out
    for trace_id in app.trace_ids:
        assert assessments(app, trace_id)["answers_the_request"] in ("yes", "no")
