"""``trace`` AGENT and TOOL steps record the conventions' ``gen_ai.invoke_agent.duration`` and
``gen_ai.execute_tool.duration`` (not ``gen_ai.client.operation.duration``, which is for the
provider-facing calls), with the span's own duration, recorded on the spot or through the
pipeline's handoff."""

from __future__ import annotations

import litellm
import pytest

from otel_bridge.instrumentation import trace
from otel_bridge.instrumentation.metrics import AGENT_BUCKETS, DURATION_BUCKETS

from .helpers import USER, points

AGENT_METRIC = "gen_ai.invoke_agent.duration"
TOOL_METRIC = "gen_ai.execute_tool.duration"


def _seconds(span) -> float:
    return (span.end_time - span.start_time) / 1e9


def _metric(reader, name):
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    return metric
    return None


def test_an_agent_and_its_tool_record_their_own_durations(metered, reader, exporter):
    @trace(span_type="AGENT", name="Planner")
    def plan(goal):
        litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="ok")
        return lookup(city="Tokyo")

    @trace(span_type="TOOL")
    def lookup(city):
        """Weather of a city."""
        return "sunny"

    plan("go")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    agent_metric = _metric(reader, AGENT_METRIC)
    assert agent_metric.unit == "s"
    [agent] = agent_metric.data.data_points
    assert dict(agent.attributes) == {"gen_ai.agent.name": "Planner"}
    assert agent.count == 1
    assert agent.sum == pytest.approx(_seconds(spans["invoke_agent Planner"]), abs=1e-9)
    assert agent.explicit_bounds == AGENT_BUCKETS

    tool_metric = _metric(reader, TOOL_METRIC)
    assert tool_metric.unit == "s"
    [tool] = tool_metric.data.data_points
    assert dict(tool.attributes) == {
        "gen_ai.tool.name": "lookup",
        "gen_ai.tool.type": "function",
        "gen_ai.agent.name": "Planner",  # the agent that executed it
    }
    assert tool.sum == pytest.approx(_seconds(spans["execute_tool lookup"]), abs=1e-9)
    assert tool.explicit_bounds == DURATION_BUCKETS
    # and the tool's span says which agent ran it
    assert spans["execute_tool lookup"].attributes["gen_ai.agent.name"] == "Planner"

    # the one provider-facing call is the only client operation
    [call] = points(reader, "gen_ai.client.operation.duration")
    assert call.count == 1 and call.attributes["gen_ai.operation.name"] == "chat"


def test_a_failing_tool_records_its_error_type(metered, reader):
    @trace(span_type="TOOL", name="explode")
    def explode():
        raise ValueError("no")

    with pytest.raises(ValueError):
        explode()
    [tool] = points(reader, TOOL_METRIC)
    assert dict(tool.attributes) == {
        "gen_ai.tool.name": "explode",
        "gen_ai.tool.type": "function",
        "error.type": "ValueError",
    }


def test_a_declared_agent_model_is_kept_and_nothing_else(metered, reader):
    """``gen_ai.request.model`` when the application declares the agent's one model; the
    agent's other attributes (provider, operation) are not metric attributes."""
    with trace(
        name="Writer",
        span_type="AGENT",
        attributes={"gen_ai.request.model": "gpt-4o-mini", "gen_ai.provider.name": "openai"},
    ):
        pass
    [agent] = points(reader, AGENT_METRIC)
    assert dict(agent.attributes) == {
        "gen_ai.agent.name": "Writer",
        "gen_ai.request.model": "gpt-4o-mini",
    }


def test_other_steps_record_nothing(metered, reader):
    @trace
    def chain():
        return 1

    chain()
    with trace(name="search", span_type="RETRIEVER"):
        pass
    assert points(reader, AGENT_METRIC) == [] and points(reader, TOOL_METRIC) == []
    assert points(reader, "gen_ai.client.operation.duration") == []
