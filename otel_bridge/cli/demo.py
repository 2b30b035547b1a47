"""``otel-bridge demo``: one traced agent run on a fresh machine, then how to look at it.

Offline by default (a scripted model through LiteLLM's ``mock_response``); the spans are the
real instrumentation's, exported by the real pipeline, into the embedded MLflow store unless
the environment names other destinations.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from otel_bridge.config import ConfigError, MlflowSettings, OtlpSettings, Settings, load_settings
from otel_bridge.exporters.mlflow.probe import quiet_mlflow_logs
from otel_bridge.exporters.mlflow.store_check import sqlite_path
from otel_bridge.redaction import mask_url

if TYPE_CHECKING:
    from otel_bridge.exporters.stats import StatsSnapshot

DEMO_SERVICE_NAME = "otel-bridge-demo"
DEFAULT_QUESTION = "What's the weather like in Paris today?"
JAEGER_UI = "http://localhost:16686"
# OTLP endpoints that feed the Jaeger UI above: docker-compose.yml's Collector (published on
# localhost, `otel-collector` inside the compose network) or a Jaeger all-in-one's own ports.
JAEGER_LIKE_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "jaeger", "otel-collector"})
OTLP_PORTS = frozenset({4317, 4318})
MLFLOW_UI_PORT = 5000
# `mlflow ui` for the embedded store, quiet and offline: job execution off (it starts worker
# processes and imports LiteLLM, which fetches a price map from the internet); the allowed hosts
# named (else a security-middleware notice); Starlette's deprecation of the WSGI bridge MLflow
# imports silenced (MLflow's matter, printed at every start).
MLFLOW_UI_ENV = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "PYTHONWARNINGS": "ignore:starlette.middleware.wsgi",
}
EXIT_OK, EXIT_FAILED, EXIT_CONFIG_ERROR = 0, 1, 2


def demo_command(
    model: str | None = None,
    question: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    # Offline by design: no price-map download, no usage telemetry.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import otel_bridge

    print("otel-bridge demo: setting up tracing (a new MLflow store takes a few seconds)", file=out)
    try:
        # OTEL_SERVICE_NAME wins; unset, the demo's own name (and so the experiment's).
        settings = load_settings()
        if settings.mlflow is not None and settings.mlflow.embedded:
            import mlflow  # noqa: F401 - its import resets its loggers: import before quieting
        named = settings.service_name is not None
        with quiet_mlflow_logs():  # "Creating initial MLflow database tables..."
            bridge = otel_bridge.configure(**({} if named else {"service_name": DEMO_SERVICE_NAME}))
    except ConfigError as error:
        print(f"otel-bridge demo: configuration error: {error}", file=err)
        print("otel-bridge doctor shows the whole configuration.", file=err)
        return EXIT_CONFIG_ERROR

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    say(f"otel-bridge demo: traces go to {_destinations(bridge.settings)}")

    import litellm

    from otel_bridge.demo import WeatherAgent, choose_model

    litellm.suppress_debug_info = True
    choice = choose_model(model)
    offline = "offline, scripted: " if choice.offline else ""
    say(f"model: {choice.chat_model} ({offline}{choice.why})")
    question = question or DEFAULT_QUESTION
    say(f"question: {question}")
    agent = WeatherAgent(choice, progress=say, on_chunk=lambda t: print(t, end="", file=out))
    failed = False
    try:
        agent.ask(question)
    except Exception as error:
        print(f"otel-bridge demo: the agent failed: {type(error).__name__}: {error}", file=err)
        failed = True
    finally:
        # The spans are in the store before we say where to look: a new store is made now
        # (on the MLflow destination's thread), which takes seconds.
        with quiet_mlflow_logs():
            flushed = bridge.shutdown(timeout=max(bridge.settings.shutdown_timeout, 60))

    if not bridge.enabled:
        say("OTEL_SDK_DISABLED=true: nothing was traced.")
        return EXIT_FAILED if failed else EXIT_OK
    trace_id = agent.last_run.trace_id if agent.last_run else ""
    lost = _report_destinations(bridge.stats(), flushed, say)
    say(f"trace id: {trace_id}")
    for line in view_instructions(bridge.settings, trace_id):
        say(line)
    return EXIT_FAILED if failed or lost else EXIT_OK


def _report_destinations(
    stats: Mapping[str, StatsSnapshot], flushed: bool, say: Callable[[str], None]
) -> bool:
    lost = not flushed
    for name, counts in stats.items():
        exported, dropped = counts["exported"], counts["dropped"]
        say(f"{name}: {exported} spans exported, {dropped} dropped")
        lost = lost or bool(dropped) or not exported
    if lost:
        say("some spans did not arrive: run `otel-bridge doctor` to check the destinations")
    return lost


def _destinations(settings: Settings) -> str:
    if settings.disabled:
        return "nowhere (OTEL_SDK_DISABLED=true)"
    where = []
    if settings.mlflow is not None:
        mlflow = settings.mlflow
        path = sqlite_path(mlflow.tracking_uri)
        kind = "embedded store" if mlflow.embedded else "server"
        where.append(
            f"MLflow {kind} {path or mask_url(mlflow.tracking_uri)} ({_experiment(mlflow)})"
        )
    if settings.otlp is not None:
        where.append(f"OTLP {settings.otlp.protocol} {mask_url(settings.otlp.endpoint)}")
    if settings.console:
        where.append("the console")
    return ", ".join(where) or "nowhere (OTEL_TRACES_EXPORTER=none)"


def _experiment(mlflow: MlflowSettings) -> str:
    if mlflow.experiment_name:
        return f"experiment {mlflow.experiment_name!r}"
    if mlflow.experiment_id:
        return f"experiment id {mlflow.experiment_id}"
    return "experiment 'Default'"


def view_instructions(settings: Settings, trace_id: str) -> list[str]:
    """The exact commands / URLs that show this trace, one destination per line."""
    lines = ["see the trace:"]
    if settings.mlflow is not None:
        lines += _mlflow_lines(settings.mlflow, trace_id)
    if settings.otlp is not None:
        lines.append(_otlp_line(settings.otlp, trace_id))
    return lines


def _otlp_line(otlp: OtlpSettings, trace_id: str) -> str:
    endpoint = urlsplit(otlp.endpoint)
    if endpoint.hostname in JAEGER_LIKE_HOSTS and endpoint.port in OTLP_PORTS:
        return f"  Jaeger: {JAEGER_UI}/trace/{trace_id}"
    return f"  OTLP: sent to {mask_url(otlp.endpoint)}; look up trace {trace_id} in its UI"


def _mlflow_lines(mlflow: MlflowSettings, trace_id: str) -> list[str]:
    then = f"{_experiment(mlflow)} → Traces → tr-{trace_id}"
    if not mlflow.embedded:
        return [f"  MLflow: open {mask_url(mlflow.tracking_uri)} → {then}"]
    return [
        f"  MLflow: {mlflow_ui_command(mlflow.tracking_uri)}",
        f"          then open http://127.0.0.1:{MLFLOW_UI_PORT} → {then}",
    ]


def mlflow_ui_command(tracking_uri: str) -> str:
    """The shell command that serves the embedded store's UI on 127.0.0.1, offline."""
    path = sqlite_path(tracking_uri)
    uri = f"sqlite:///{path}" if path else mask_url(tracking_uri)
    hosts = f"localhost:{MLFLOW_UI_PORT},127.0.0.1:{MLFLOW_UI_PORT}"
    env = [f"{name}={value}" for name, value in MLFLOW_UI_ENV.items()]
    ui = ["ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(MLFLOW_UI_PORT)]
    ui += ["--workers", "1", "--allowed-hosts", hosts]
    return shlex.join([*env, _mlflow_executable(), *ui])


def _mlflow_executable() -> str:
    """``mlflow`` when the one on PATH is this environment's, else its full path."""
    here = Path(sys.executable).parent / "mlflow"
    found = shutil.which("mlflow")
    if found and Path(found).resolve() == here.resolve():
        return "mlflow"
    return str(here) if here.exists() else "mlflow"
