"""Request metadata: tags, user, session and conversation, for Jaeger and for MLflow."""

from __future__ import annotations

import litellm
import pytest

from otel_bridge.exporters.mlflow.dialect import to_mlflow

from .helpers import USER, attrs, one_span

TAGS = ["jobID:214590dsff09fds", "taskName:run_page_classification", "nightly"]


@pytest.mark.parametrize("field", ["metadata", "litellm_metadata"])
def test_tags_user_session(instrumented, exporter, field):
    litellm.completion(
        model="openai/gpt-4o-mini",
        messages=USER,
        mock_response="x",
        user="user-7",
        **{field: {"tags": TAGS, "session_id": "session-1"}},
    )
    span = one_span(exporter)
    a = attrs(span)
    assert a["litellm.request.tags"] == tuple(TAGS)
    assert a["user.id"] == "user-7"
    assert a["session.id"] == "session-1"
    assert a["gen_ai.conversation.id"] == "session-1"
    assert not [k for k in a if k.startswith("mlflow.")]  # MLflow's dialect is the destination's
    # what the MLflow destination makes of them: trace tags from the key:value tags
    m = attrs(to_mlflow(span))
    assert m["mlflow.traceTag.jobID"] == "214590dsff09fds"
    assert m["mlflow.traceTag.taskName"] == "run_page_classification"
    assert not [k for k in m if k.startswith("mlflow.traceTag.nightly")]
    assert m["user.id"] == "user-7" and m["session.id"] == "session-1"  # MLflow reads these


def test_conversation_id(instrumented, exporter):
    litellm.completion(
        model="openai/gpt-4o-mini",
        messages=USER,
        mock_response="x",
        metadata={"conversation_id": "conv-9", "user_id": "u-1"},
    )
    a = attrs(one_span(exporter))
    assert a["gen_ai.conversation.id"] == "conv-9"
    assert a["user.id"] == "u-1"
    assert "session.id" not in a


def test_no_metadata_no_attributes(instrumented, exporter):
    litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="x")
    a = attrs(one_span(exporter))
    assert not [
        k for k in a if k.startswith(("mlflow.trace", "user.", "session.", "litellm.request"))
    ]
