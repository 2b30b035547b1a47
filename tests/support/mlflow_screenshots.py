"""Screenshots of MLflow's UI showing the bridge's traces, for a person to look at.

    python -m tests.support.mlflow_screenshots [OUT_DIR]     (default: ./mlflow-screenshots)

Starts a real `mlflow server` (SQLite, 127.0.0.1, a free port) and the loopback OpenAI server,
runs the app of tests/support/mlflow_view_app.py under `otel-bridge run` into it, then opens the
experiment's trace list and each trace's page in headless Chromium (tests/support/mlflow_ui.py)
and writes one PNG per view. Needs `pip install '.[ui]'` and a Chromium
(``OTEL_BRIDGE_TEST_CHROMIUM``, default /usr/bin/chromium). Everything stops on exit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .mlflow_ui import MlflowUi, unavailable
from .mlflow_view_app import ViewTraces

# (file name, scenario, span to select or None for the root, tab)
VIEWS = [
    ("llm_root", "llm_root", None, "Inputs / Outputs"),
    ("tool_call", "tool_call", None, "Inputs / Outputs"),
    ("responses_instructions", "responses", None, "Inputs / Outputs"),
    ("plain_root", "plain_root", None, "Inputs / Outputs"),
    ("plain_root_chat_span", "plain_root", "chat gpt-4o-mini", "Inputs / Outputs"),
    ("plain_root_embeddings_span", "plain_root", "embeddings text-embedding-3-small", "Attributes"),
    ("agent_error_events", "agent", None, "Events"),
    ("agent_error_inputs_outputs", "agent", None, "Inputs / Outputs"),
    ("agent_error_chat_span", "agent", "chat gpt-4o-mini", "Inputs / Outputs"),
    ("stream_estimated_usage", "stream", None, "Inputs / Outputs"),
    ("stream_estimated_usage_attributes", "stream", None, "Attributes"),
    ("fan_out", "fan_out", None, "Inputs / Outputs"),
]


def take_screenshots(ui: MlflowUi, view: ViewTraces, out: Path) -> list[Path]:
    """The trace list and every view of VIEWS as PNGs in ``out``."""
    ui.trace_list(view.experiment_id, rows=len(view.traces))
    written = [ui.screenshot(out / "trace_list.png")]
    for file_name, scenario, span, tab in VIEWS:
        ui.trace_page(view.experiment_id, view.ids[scenario])
        ui.select_span(span, tab)
        written.append(ui.screenshot(out / f"{file_name}.png"))
    ui.trace_page(view.experiment_id, view.ids["fan_out"])
    ui.trace_tags()  # the root's "N tags" popover open
    written.append(ui.screenshot(out / "fan_out_tags.png"))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default="mlflow-screenshots", type=Path)
    args = parser.parse_args(argv)
    reason = unavailable()
    if reason:
        print(f"cannot take screenshots: {reason}", file=sys.stderr)
        return 2
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from .mlflow_server import MlflowServer
    from .mlflow_view_app import write_view_traces
    from .openai_server import OpenAIServer

    with tempfile.TemporaryDirectory(prefix="mlflow-screenshots-") as work:
        print("starting mlflow server (~30 s) ...", file=sys.stderr)
        with MlflowServer(Path(work) / "server") as server, OpenAIServer() as openai:
            app_dir = Path(work) / "app"
            app_dir.mkdir()
            print("running the app under otel-bridge ...", file=sys.stderr)
            view = write_view_traces(openai, server.uri, app_dir, "otel-bridge-screenshots")
            with MlflowUi(server.uri) as ui:
                for path in take_screenshots(ui, view, args.out):
                    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
