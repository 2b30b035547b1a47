"""Issue 15, the MLflow view: what a person sees in MLflow's trace list (previews, state, tokens,
tags) and trace view (inputs/outputs), read through MLflow's own API from a live server and from
the embedded store. The traces: every kind the view is about, made by one app
(tests/support/mlflow_view_app.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.mlflow_view_app import (
    AGENT_QUESTION,
    EARLY_REPLY,
    INSTRUCTIONS,
    QUESTION,
    SEA_ANSWER,
    SEA_QUESTION,
    STREAM_QUESTION,
    STREAMED,
    SUGGESTION,
    SYSTEM,
    UMBRELLA_ANSWER,
    UMBRELLA_QUESTION,
    WEATHER_QUESTION,
    WORKERS,
    ViewTraces,
    stream_tokens_counted,
    write_view_traces,
)
from tests.support.openai_server import OpenAIServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def viewed(
    view_on_server: ViewTraces,
    openai_server_session: OpenAIServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, ViewTraces]:
    """The app run into the server (the session's run, which test_ui.py shows in the UI) and
    into the embedded store (one after the other: the loopback server answers in order)."""
    cwd: Path = tmp_path_factory.mktemp("view-embedded")
    embedded = write_view_traces(
        openai_server_session, f"sqlite:///{cwd / 'mlflow.db'}", cwd, f"view-{cwd.name}"
    )
    return {"server": view_on_server, "embedded": embedded}


MODES = ["server", "embedded"]


@pytest.mark.parametrize("mode", MODES)
def test_the_list_previews_the_text_a_person_wrote_and_read(viewed, mode):
    view = viewed[mode]
    previews = {
        name: (
            view.traces[view.ids[name]].info.request_preview,
            view.traces[view.ids[name]].info.response_preview,
        )
        for name in ("llm_root", "tool_call", "responses", "plain_root", "stream")
    }
    assert previews == {
        "llm_root": (QUESTION, SUGGESTION),  # the last user message, not the system one
        "tool_call": (WEATHER_QUESTION, 'get_weather({"location": "Paris"})'),
        "responses": (SEA_QUESTION, SEA_ANSWER),
        "plain_root": (UMBRELLA_QUESTION, UMBRELLA_ANSWER),
        "stream": (STREAM_QUESTION, STREAMED),
    }


@pytest.mark.parametrize("mode", MODES)
def test_the_trace_view_keeps_the_whole_conversation(viewed, mode):
    view = viewed[mode]

    def root(name):
        trace = view.client.get_trace(view.ids[name])
        return next(s for s in trace.data.spans if s.parent_id is None), trace

    llm_root, _ = root("llm_root")
    assert llm_root.inputs == {
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    }
    assert llm_root.outputs == {"messages": [{"role": "assistant", "content": SUGGESTION}]}
    tool_root, _ = root("tool_call")
    [answer] = tool_root.outputs["messages"]
    assert answer["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
        }
    ]
    # the Responses API's instructions lead the inputs
    responses_root, _ = root("responses")
    assert responses_root.inputs["messages"][0] == {"role": "system", "content": INSTRUCTIONS}
    # an inner LLM span keeps the conventions' messages, which MLflow's chat view renders too
    plain, trace = root("plain_root")
    assert plain.inputs == {"messages": [{"role": "user", "content": UMBRELLA_QUESTION}]}
    [chat] = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
    assert chat.inputs == [
        {"role": "user", "parts": [{"type": "text", "content": UMBRELLA_QUESTION}]}
    ]


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_trace_shows_no_reply_as_its_response(viewed, mode):
    view = viewed[mode]
    info = view.traces[view.ids["agent"]].info
    assert info.state == "ERROR"
    assert AGENT_QUESTION in info.request_preview
    assert not info.response_preview  # not the reply that came before the failure
    trace = view.client.get_trace(view.ids["agent"])
    [llm] = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
    assert EARLY_REPLY in json.dumps(llm.outputs)  # still on the LLM span itself


@pytest.mark.parametrize("mode", MODES)
def test_totals_add_up_with_embeddings(viewed, mode):
    view = viewed[mode]
    usage = view.traces[view.ids["plain_root"]].info.token_usage
    assert (usage["input_tokens"], usage["output_tokens"]) == (55 + 45, 12)
    assert usage["total_tokens"] == 55 + 45 + 12
    trace = view.client.get_trace(view.ids["plain_root"])
    [embedding] = [s for s in trace.data.spans if s.span_type == "EMBEDDING"]
    assert embedding.get_attribute("mlflow.chat.tokenUsage") == {
        "input_tokens": 55,
        "output_tokens": 0,
        "total_tokens": 55,
    }


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_without_usage_gets_litellms_count_marked_estimated(viewed, mode):
    view = viewed[mode]
    assert "stream_options" not in view.stream_request  # the app's request, unchanged
    trace = view.client.get_trace(view.ids["stream"])
    [span] = trace.data.spans
    assert span.get_attribute("litellm.usage.estimated") is True
    # the trace says so too, where the list shows and searches it
    assert trace.info.tags["litellm.usage.estimated"] == "true"
    found = view.client.search_traces(
        locations=[trace.info.experiment_id],
        filter_string="tag.`litellm.usage.estimated` = 'true'",
    )
    assert [t.info.trace_id for t in found] == [view.ids["stream"]]
    prompt, completion = stream_tokens_counted()
    assert view.traces[view.ids["stream"]].info.token_usage == {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
    }


@pytest.mark.parametrize("mode", MODES)
def test_disagreeing_tags_lift_the_first_started_spans_value(viewed, mode):
    view = viewed[mode]
    trace = view.client.get_trace(view.ids["fan_out"])
    workers = sorted(
        (s.start_time_ns, s.span_id, s.get_attribute("litellm.request.tags")[0])
        for s in trace.data.spans
        if s.parent_id is not None
    )
    assert len(workers) == WORKERS
    first = workers[0][2].removeprefix("worker:")
    assert trace.info.tags["worker"] == first
    experiment_id = trace.info.experiment_id
    found = view.client.search_traces(
        locations=[experiment_id], filter_string=f"tag.worker = '{first}'"
    )
    assert [t.info.trace_id for t in found] == [view.ids["fan_out"]]
    other = workers[-1][2].removeprefix("worker:")
    assert not view.client.search_traces(
        locations=[experiment_id], filter_string=f"tag.worker = '{other}'"
    )
