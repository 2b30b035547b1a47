"""Issue 15, the MLflow view as a person sees it: MLflow's own UI, served by a real `mlflow server`,
opened in headless Chromium (tests/support/mlflow_ui.py), on the traces the bridge wrote there
(every kind the view is about: tests/support/mlflow_view_app.py). The assertions read the
rendered text: the trace list's previews, state, tokens and tags, and a trace's header, span
tree and Inputs / Outputs. test_view.py reads the same traces through MLflow's API.

Skipped when Playwright (`pip install '.[ui]'`) or Chromium (``OTEL_BRIDGE_TEST_CHROMIUM``,
default /usr/bin/chromium) is missing. `python -m tests.support.mlflow_screenshots DIR` writes
the same views as PNGs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import mlflow_view_app as app
from tests.support.mlflow_ui import MlflowUi, unavailable
from tests.support.mlflow_view_app import ViewTraces, stream_tokens_counted

_MISSING = unavailable()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))]


@pytest.fixture(scope="module")
def ui(view_on_server: ViewTraces, mlflow_server) -> Iterator[MlflowUi]:
    with MlflowUi(mlflow_server.uri) as browser:
        yield browser


@pytest.fixture(scope="module")
def listed(ui: MlflowUi, view_on_server: ViewTraces) -> dict[str, dict[str, str]]:
    """The experiment's trace list as rendered: scenario -> column -> text."""
    view = view_on_server
    rows = ui.trace_list(view.experiment_id, rows=len(view.traces))
    assert set(rows) == set(view.traces)
    return {name: rows[trace_id] for name, trace_id in view.ids.items()}


def first_started_worker(view: ViewTraces) -> str:
    """N of the fan-out's first-started call (``worker:N``, question ``job N``)."""
    trace = view.client.get_trace(view.ids["fan_out"])
    first = min(
        (s.start_time_ns, s.span_id, s.get_attribute("litellm.request.tags")[0])
        for s in trace.data.spans
        if s.parent_id is not None
    )
    return str(first[2]).removeprefix("worker:")


def test_the_list_previews_the_text_a_person_wrote_and_read(listed, view_on_server):
    worker = first_started_worker(view_on_server)
    previews = {name: (row["Input"], row["Output"]) for name, row in listed.items()}
    assert previews == {
        "llm_root": (app.QUESTION, app.SUGGESTION),  # the last user message, not the system one
        "tool_call": (app.WEATHER_QUESTION, f"get_weather({app.WEATHER_CALL})"),
        "responses": (app.SEA_QUESTION, app.SEA_ANSWER),
        "plain_root": (app.UMBRELLA_QUESTION, app.UMBRELLA_ANSWER),
        "stream": (app.STREAM_QUESTION, app.STREAMED),
        # an otel_bridge.trace root shows its arguments, as MLflow shows an @mlflow.trace root
        "agent": (f'{{"question":"{app.AGENT_QUESTION}"}}', "-"),
        "fan_out": (f"job {worker}", "done"),  # the first-started call's question
    }


def test_the_list_shows_state_and_totals_that_add_up(listed):
    assert {name: row["State"] for name, row in listed.items()} == {
        name: "Error" if name == "agent" else "OK" for name in listed
    }
    prompt, completion = stream_tokens_counted()
    tokens = {name: row["Tokens"] for name, row in listed.items()}
    assert tokens == {
        "llm_root": str(21 + 13),
        "tool_call": str(11 + 7),
        "responses": str(17 + 8),
        "plain_root": str(55 + 45 + 12),  # the embedding counted in the total
        "agent": str(11 + 7),
        "stream": str(prompt + completion),  # LiteLLM's count: the provider sent none
        "fan_out": str(app.WORKERS * (10 + 2)),
    }


def test_the_trace_shows_the_first_started_workers_tag(ui, view_on_server):
    ui.trace_page(view_on_server.experiment_id, view_on_server.ids["fan_out"])
    assert "480 tokens" in ui.trace_header()
    assert len(ui.span_tree()) == 1 + app.WORKERS
    tags = ui.trace_tags()
    assert tags["worker"] == first_started_worker(view_on_server), tags


def test_a_plain_roots_page_shows_the_conversation_and_the_spans_totals(ui, view_on_server):
    ui.trace_page(view_on_server.experiment_id, view_on_server.ids["plain_root"])
    assert "Success" in ui.trace_header()
    assert "112 tokens" in ui.trace_header()
    tree = ui.span_tree()
    assert [name for name, _ in tree] == [
        "handle-request",
        "embeddings text-embedding-3-small",
        "chat gpt-4o-mini",
    ]
    assert [metrics.split()[1] for _, metrics in tree[1:]] == ["55", str(45 + 12)]
    assert f"User {app.UMBRELLA_QUESTION} Outputs Pretty Assistant {app.UMBRELLA_ANSWER}" in (
        ui.span_pane()
    )
    ui.select_span("chat gpt-4o-mini")
    pane = ui.span_pane()
    assert pane.startswith(f"chat gpt-4o-mini gpt-4o-mini {45 + 12} tokens"), pane
    assert f"User {app.UMBRELLA_QUESTION} Outputs Pretty Assistant {app.UMBRELLA_ANSWER}" in pane


@pytest.mark.parametrize(
    ("scenario", "conversation"),
    [
        ("llm_root", (app.SYSTEM, app.QUESTION, app.SUGGESTION)),
        ("responses", (app.INSTRUCTIONS, app.SEA_QUESTION, app.SEA_ANSWER)),  # the Responses API's
    ],
)
def test_system_instructions_lead_the_inputs(ui, view_on_server, scenario, conversation):
    system, question, answer = conversation
    ui.trace_page(view_on_server.experiment_id, view_on_server.ids[scenario])
    pane = ui.span_pane()
    expected = f"Inputs Pretty System {system} User {question} Outputs Pretty Assistant {answer}"
    assert expected in pane, pane


def test_a_failed_trace_shows_the_error_not_the_earlier_reply(ui, view_on_server):
    ui.trace_page(view_on_server.experiment_id, view_on_server.ids["agent"])
    assert "Error" in ui.trace_header()
    ui.select_span(None, "Events")
    assert "RuntimeError" in ui.span_pane() and "the weather service is down" in ui.span_pane()
    ui.select_span(None, "Inputs / Outputs")
    pane = ui.span_pane()
    assert app.AGENT_QUESTION in pane
    assert app.EARLY_REPLY not in pane and "Outputs" not in pane.split("Inputs / Outputs", 1)[1]
    ui.select_span("chat gpt-4o-mini")
    assert f"Assistant {app.EARLY_REPLY}" in ui.span_pane()  # the reply stays on its LLM span


def test_a_streams_usage_is_marked_estimated(ui, view_on_server):
    ui.trace_page(view_on_server.experiment_id, view_on_server.ids["stream"])
    prompt, completion = stream_tokens_counted()
    assert f"{prompt + completion} tokens" in ui.trace_header()
    ui.select_span(None, "Attributes")
    pane = ui.span_pane()
    assert f"gen_ai.usage.input_tokens {prompt}" in pane
    assert f"gen_ai.usage.output_tokens {completion}" in pane
    assert "litellm.usage.estimated true" in pane
    ui.select_span(None, "Inputs / Outputs")
    assert ui.trace_tags()["litellm.usage.estimated"] == "true"  # the trace is marked too
