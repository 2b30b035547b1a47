"""Issue 8, previews: MLflow's trace list shows request and response previews for a trace whose
root is a plain application span, filled from the trace's first LLM input and last LLM output,
and only where the content policy lets content reach MLflow. Apps run under `otel-bridge run`
into a live server and into the embedded store (tests/mlflow/conftest.py)."""

from __future__ import annotations

import pytest

from tests.mlflow.bridged import FIRST_ANSWER, LAST_ANSWER, QUESTION

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("mode", ["server", "embedded"])
def test_a_plain_root_span_shows_the_first_input_and_the_last_output(bridged, mode):
    app = bridged[mode]
    # The trace list's rows, as the UI gets them from the search API.
    listed = app.client().search_traces(
        locations=[app.experiment_id], filter_string=f"tag.`service.name` = '{app.service}'"
    )
    assert {t.info.trace_id for t in listed} == app.trace_ids
    for info in (t.info for t in listed):
        # the text alone: the last user message of the FIRST input, the LAST output's answer
        assert (info.request_preview, info.response_preview) == (QUESTION, LAST_ANSWER)

    trace = app.client().get_trace(f"tr-{app.result['outside']}")
    root = next(s for s in trace.data.spans if s.parent_id is None)
    assert root.name == "handle-request"
    # in the chat shape MLflow previews and renders as a conversation
    assert root.inputs == {"messages": [{"role": "user", "content": QUESTION}]}
    assert root.outputs == {"messages": [{"role": "assistant", "content": LAST_ANSWER}]}
    # the LLM spans keep their own inputs and outputs
    first, second = sorted(
        (s for s in trace.data.spans if s.parent_id is not None), key=lambda s: s.start_time_ns
    )
    assert (first.span_type, second.span_type) == ("CHAT_MODEL", "CHAT_MODEL")
    assert FIRST_ANSWER in str(first.outputs) and LAST_ANSWER in str(second.outputs)


@pytest.mark.parametrize("destinations", ["otlp", "none"])
def test_no_preview_when_content_may_not_reach_mlflow(bridged, destinations):
    """OTEL_BRIDGE_CONTENT_DESTINATIONS=otlp captures content for the OTLP backend only;
    =none captures none at all. Either way MLflow gets neither previews nor span content."""
    app = bridged[destinations]
    listed = app.client().search_traces(
        locations=[app.experiment_id], filter_string=f"tag.`service.name` = '{app.service}'"
    )
    assert [t.info.trace_id for t in listed] == [f"tr-{app.result['outside']}"]
    [trace] = [app.client().get_trace(t.info.trace_id) for t in listed]
    assert not trace.info.request_preview and not trace.info.response_preview
    for span in trace.data.spans:
        assert span.inputs is None and span.outputs is None, span.name
    assert QUESTION not in trace.to_json() and LAST_ANSWER not in trace.to_json()
    # ... while the rest of the trace is there: typed LLM spans, usage, tags, session
    llm = [s for s in trace.data.spans if s.parent_id is not None]
    assert [s.span_type for s in llm] == ["CHAT_MODEL", "CHAT_MODEL"]
    assert trace.info.token_usage["total_tokens"] > 0
    assert trace.info.tags["jobID"] == "214590dsff09fds"
    assert trace.info.trace_metadata["mlflow.trace.session"] == app.session
