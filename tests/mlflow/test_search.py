"""Issue 8, search: service.name, request tags, session and user of bridged traces, and the
MLflow run they ran under, found with MLflow's filter syntax on a live server and in the
embedded store."""

from __future__ import annotations

import pytest

from otel_bridge.exporters.mlflow.dialect import to_mlflow
from otel_bridge.exporters.mlflow.trace_roots import TraceRoots
from otel_bridge.exporters.spans import replace_span
from tests.mlflow.bridged import TAGS, llm_trace

pytestmark = pytest.mark.e2e

FILTERS = {
    "service.name": "tag.`service.name` = '{app.service}'",
    "request tag": "tag.jobID = '{jobID}'",
    "second request tag": "tag.taskName = '{taskName}'",
    "session": "metadata.`mlflow.trace.session` = '{app.session}'",
    "user": "metadata.`mlflow.trace.user` = '{app.user}'",
    "all at once": (
        "tag.`service.name` = '{app.service}' AND tag.jobID = '{jobID}' AND "
        "metadata.`mlflow.trace.session` = '{app.session}' AND "
        "metadata.`mlflow.trace.user` = '{app.user}'"
    ),
}


@pytest.mark.parametrize("field", FILTERS)
@pytest.mark.parametrize("mode", ["server", "embedded"])
def test_bridged_traces_are_found_by(bridged, mode, field):
    app = bridged[mode]
    found = app.search(FILTERS[field].format(app=app, **TAGS))
    if field.endswith("request tag") and mode == "server":
        # the content-off apps sent the same tags into the same experiment
        others = {t for name in ("otlp", "none") for t in bridged[name].trace_ids}
        assert found == app.trace_ids | others
    else:
        assert found == app.trace_ids


@pytest.mark.parametrize("mode", ["server", "embedded"])
def test_filters_select_and_exclude(bridged, mode):
    app = bridged[mode]
    assert app.search(f"tag.`service.name` = '{app.service}-other'") == set()
    assert app.search("metadata.`mlflow.trace.session` = 'no-such-session'") == set()
    assert app.search("tag.jobID = 'another-job'") == set()
    if mode == "server":  # several services in one experiment: each finds its own
        for name in ("otlp", "none"):
            other = bridged[name]
            assert app.search(f"tag.`service.name` = '{other.service}'") == other.trace_ids
            assert app.search(f"metadata.`mlflow.trace.user` = '{other.user}'") == other.trace_ids


@pytest.mark.parametrize("mode", ["server", "embedded"])
def test_the_trace_started_under_an_active_run_is_linked_to_it(bridged, mode):
    app = bridged[mode]
    run_id = app.result["run_id"]
    assert app.search(run_id=run_id) == {f"tr-{app.result['inside']}"}
    assert app.search(f"attribute.run_id = '{run_id}'") == {f"tr-{app.result['inside']}"}
    # the root span carries the run id the bridge read on the app's thread
    trace = app.client().get_trace(f"tr-{app.result['inside']}")
    root = next(s for s in trace.data.spans if s.parent_id is None)
    assert root.attributes["otel_bridge.mlflow.run_id"] == run_id
    outside = app.client().get_trace(f"tr-{app.result['outside']}")
    assert all("otel_bridge.mlflow.run_id" not in s.attributes for s in outside.data.spans)


def test_the_server_destination_does_not_import_mlflow_into_the_app(bridged):
    """Reading the active run costs nothing unless the app imported MLflow itself."""
    assert bridged["server"].result["mlflow_imported"] is False


def test_every_root_carries_its_service_as_a_trace_tag():
    """For servers that drop the resource at OTLP ingestion: the tag travels on the root."""
    child, root = (to_mlflow(span) for span in llm_trace("svc-tagged"))
    processed = TraceRoots().process([child, root])
    assert processed[0] is child  # children untouched
    assert processed[1].attributes["mlflow.traceTag.service.name"] == "svc-tagged"
    assert processed[1].attributes["mlflow.traceTag.jobID"] == TAGS["jobID"]

    own = llm_trace("svc-resource")
    mine = replace_span(own[1], attributes={"mlflow.traceTag.service.name": "chosen-by-app"})
    [kept] = TraceRoots().process([mine])
    assert kept.attributes["mlflow.traceTag.service.name"] == "chosen-by-app"


def test_an_estimated_usage_below_the_root_marks_the_trace():
    """A stream's usage counted by LiteLLM (no provider usage) tags its trace, whatever span
    is the root; a trace whose usage all came from the provider gets no such tag."""
    child, root = llm_trace("svc-estimated")
    estimated = replace_span(
        child, attributes={**child.attributes, "litellm.usage.estimated": True}
    )
    _, marked = TraceRoots().process([to_mlflow(estimated), to_mlflow(root)])
    assert marked.attributes["mlflow.traceTag.litellm.usage.estimated"] == "true"
    _, plain = TraceRoots().process([to_mlflow(s) for s in llm_trace("svc-provider")])
    assert "mlflow.traceTag.litellm.usage.estimated" not in plain.attributes
