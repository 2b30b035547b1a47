"""Run a small application in its own process, the way a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# An app span with one LiteLLM call inside, through LiteLLM's real HTTP path.
TRACED_CALL_APP = """
import json, os, sys
import litellm
from opentelemetry import trace

tracer = trace.get_tracer("app")
with tracer.start_as_current_span("handle-request") as span:
    response = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "Hi - i'm openai"}],
        api_base=os.environ["TEST_OPENAI_BASE"],
        api_key="sk-test",
    )
print(json.dumps({
    "trace_id": format(span.get_span_context().trace_id, "032x"),
    "span_id": format(span.get_span_context().span_id, "016x"),
    "content": response.choices[0].message.content,
}))
sys.exit(int(os.environ.get("TEST_EXIT_CODE", "0")))
"""


@dataclass
class AppRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict:
        lines = [line for line in self.stdout.splitlines() if line.startswith("{")]
        assert lines, f"no result line\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        return json.loads(lines[-1])


def base_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLFLOW_", "PYTHONPATH"))
    }
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(REPO_ROOT),  # this checkout's otel_bridge, whatever is installed
    )
    env.update(extra)
    return env


def run_app(
    source: str,
    cwd: Path,
    env: dict[str, str],
    *,
    under_bridge: bool = True,
    timeout: float = 120,
) -> AppRun:
    app = cwd / "app.py"
    app.write_text(textwrap.dedent(source))
    cmd = [sys.executable, str(app)]
    if under_bridge:
        cmd = [str(BIN / "otel-bridge"), "run", "--", *cmd]
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return AppRun(done.returncode, done.stdout, done.stderr)


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str], *, python_flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``otel-bridge ARGS`` from this interpreter (``python [FLAGS] -m otel_bridge.cli``)."""
    return subprocess.run(
        [sys.executable, *python_flags, "-m", "otel_bridge.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# An app with one span, that prints its stats: enough for the MLflow destination to connect.
ONE_SPAN_APP = """
import json, otel_bridge
from opentelemetry import trace
bridge = otel_bridge.configure()
with trace.get_tracer("app").start_as_current_span("work"):
    pass
bridge.force_flush()
print(json.dumps({"stats": bridge.stats()}))
"""


# Three traces of two spans each, the bridge's INFO lines on stderr; prints the trace ids.
THREE_TRACES_APP = """
import json, logging, otel_bridge
logging.basicConfig(level=logging.WARNING)
logging.getLogger("otel_bridge").setLevel(logging.INFO)
from opentelemetry import trace
bridge = otel_bridge.configure()
tracer = trace.get_tracer("app")
ids = []
for i in range(3):
    with tracer.start_as_current_span(f"job-{i}") as span:
        with tracer.start_as_current_span("step"):
            pass
    ids.append(format(span.get_span_context().trace_id, "032x"))
bridge.shutdown()
print(json.dumps({"trace_ids": ids, "stats": bridge.stats()}))
"""


def stopped_or_reported(run: AppRun, message: str) -> str:
    """How a refusal by the MLflow server reached the user: ``otel-bridge run`` stops with exit
    code 2 and one line when the server answers within the wrapper's start-up budget (0.3 s);
    on a machine too busy for that the app runs, and its MLflow destination reports the same
    refusal, loudly, keeping the spans. Either way ``message`` is said."""
    if run.returncode == 2:
        assert run.stderr.startswith(f"otel-bridge: {message}"), run.stderr
        assert "Traceback" not in run.stderr and not run.stdout, run.stdout + run.stderr
        return "stopped"
    assert run.returncode == 0, run.stderr
    assert f"otel-bridge: mlflow refused the spans: {message}" in run.stderr, run.stderr
    assert run.result["stats"]["mlflow"]["exported"] == 0
    return "reported"
