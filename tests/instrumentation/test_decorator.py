"""The trace decorator / context manager for the application's own steps."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind, StatusCode

from otel_bridge.instrumentation import trace

from .helpers import attrs


def _by_name(exporter):
    return {s.name: s for s in exporter.get_finished_spans()}


def test_plain_decorator_and_kinds(instrumented, exporter):
    @trace
    def chain(x, y=2):
        return x + y

    @trace(span_type="retriever", name="search", attributes={"app.index": "docs"})
    async def retrieve(query):
        return ["doc1", "doc2"]

    assert chain(1) == 3
    assert asyncio.run(retrieve("q")) == ["doc1", "doc2"]
    spans = _by_name(exporter)
    a = attrs(spans["chain"])
    assert spans["chain"].kind is SpanKind.INTERNAL
    assert a["litellm.span.type"] == "CHAIN"
    assert json.loads(a["litellm.span.input"]) == {"x": 1}
    assert json.loads(a["litellm.span.output"]) == 3
    b = attrs(spans["search"])
    assert b["litellm.span.type"] == "RETRIEVER"
    assert b["app.index"] == "docs"
    assert json.loads(b["litellm.span.output"]) == ["doc1", "doc2"]


def test_agent_and_tool(instrumented, exporter):
    @trace(span_type="AGENT")
    def planner(goal):
        return lookup(city="Tokyo", tool_call_id="call_7")

    @trace(span_type="TOOL")
    def lookup(city, tool_call_id=None):
        return {"weather": "sunny"}

    planner("go")
    spans = _by_name(exporter)
    agent = spans["invoke_agent planner"]
    assert attrs(agent)["gen_ai.operation.name"] == "invoke_agent"
    assert attrs(agent)["gen_ai.agent.name"] == "planner"
    tool = spans["execute_tool lookup"]
    t = attrs(tool)
    assert tool.parent.span_id == agent.context.span_id
    assert t["gen_ai.operation.name"] == "execute_tool"
    assert t["gen_ai.tool.name"] == "lookup"
    assert t["gen_ai.tool.call.id"] == "call_7"
    assert json.loads(t["gen_ai.tool.call.arguments"]) == {"city": "Tokyo"}
    assert json.loads(t["gen_ai.tool.call.result"]) == {"weather": "sunny"}
    assert "litellm.span.type" not in t


def test_exception_recorded_and_reraised_unchanged(instrumented, exporter):
    error = KeyError("missing")

    @trace(span_type="TOOL")
    def broken():
        raise error

    @trace
    async def abroken():
        raise error

    with pytest.raises(KeyError) as caught:
        broken()
    assert caught.value is error
    with pytest.raises(KeyError) as caught:
        asyncio.run(abroken())
    assert caught.value is error
    for span in exporter.get_finished_spans():
        assert span.status.status_code is StatusCode.ERROR
        assert attrs(span)["error.type"] == "KeyError"
        assert span.events[0].name == "exception"


def test_generators(instrumented, exporter, provider):
    inner = provider.get_tracer("inner")
    current = []

    @trace(name="numbers")
    def numbers(n):
        for i in range(n):
            with inner.start_as_current_span(f"step-{i}"):
                pass
            current.append(otel_trace.get_current_span().get_span_context().span_id)
            yield i
        return "done"

    @trace(name="anumbers")
    async def anumbers(n):
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    gen = numbers(3)
    assert not [s for s in exporter.get_finished_spans() if s.name == "numbers"]
    assert next(gen) == 0
    outside = otel_trace.get_current_span().get_span_context().span_id
    assert list(gen) == [1, 2]
    span = _by_name(exporter)["numbers"]
    assert set(current) == {span.context.span_id}
    assert outside != span.context.span_id  # not current while the consumer runs
    assert json.loads(attrs(span)["litellm.span.output"]) == [0, 1, 2]
    assert _by_name(exporter)["step-0"].parent.span_id == span.context.span_id

    async def consume():
        return [i async for i in anumbers(3)]

    assert asyncio.run(consume()) == [0, 1, 2]
    assert json.loads(attrs(_by_name(exporter)["anumbers"])["litellm.span.output"]) == [0, 1, 2]


def test_generator_closed_early_and_throw(instrumented, exporter):
    @trace(name="endless")
    def endless():
        i = 0
        while True:
            try:
                yield i
            except ValueError:
                i = 100
            i += 1

    gen = endless()
    assert next(gen) == 0
    assert gen.throw(ValueError()) == 101
    gen.close()
    span = _by_name(exporter)["endless"]
    assert span.status.status_code is StatusCode.UNSET
    assert json.loads(attrs(span)["litellm.span.output"]) == [0, 101]


def test_context_manager(instrumented, exporter, provider):
    with trace(name="step", span_type="TOOL") as span:
        span.set_attribute("app.detail", 1)
        with provider.get_tracer("x").start_as_current_span("child"):
            pass
    spans = _by_name(exporter)
    step = spans["execute_tool step"]
    assert attrs(step)["gen_ai.tool.name"] == "step"
    assert attrs(step)["app.detail"] == 1
    assert spans["child"].parent.span_id == step.context.span_id

    with pytest.raises(RuntimeError), trace(name="failing"):
        raise RuntimeError("x")
    assert _by_name(exporter)["failing"].status.status_code is StatusCode.ERROR

    async def run():
        async with trace(name="async-block", span_type="CHAIN"):
            await asyncio.sleep(0)

    asyncio.run(run())
    assert "async-block" in _by_name(exporter)


def test_capture_override(instrument, exporter):
    instrument(capture_content=True)

    @trace(capture_content=False)
    def secret(password):
        return password

    secret("hunter2")
    a = attrs(exporter.get_finished_spans()[0])
    assert "litellm.span.input" not in a
    assert "litellm.span.output" not in a


def test_method_and_metadata_preserved(instrumented, exporter):
    class Agent:
        @trace(span_type="AGENT")
        def run(self, query: str) -> str:
            """Runs."""
            return query.upper()

    assert Agent.run.__name__ == "run"
    assert Agent.run.__doc__ == "Runs."
    assert Agent().run("hi") == "HI"
    span = exporter.get_finished_spans()[0]
    assert span.name == "invoke_agent Agent"
    assert json.loads(attrs(span)["litellm.span.input"]) == {"query": "hi"}
