"""One trace per application run: LLM spans nest under the current span, per call."""

from __future__ import annotations

import asyncio
import json

import litellm
from opentelemetry.trace import SpanKind

from otel_bridge.instrumentation import trace
from tests.support.openai_server import Reply

from .helpers import USER, attrs, json_attr, llm_spans, server_kwargs
from .test_http import WEATHER_TOOL


def test_gather_100_acompletions_keep_their_parents(instrumented, provider, exporter):
    tracer = provider.get_tracer("app")

    async def one(i: int) -> tuple[int, int]:
        with tracer.start_as_current_span(f"parent-{i}") as parent:
            await asyncio.sleep(0)
            # mock_delay: every call is still in flight while the others start and finish
            await litellm.acompletion(
                model="openai/gpt-4o-mini",
                messages=[{"role": "user", "content": f"q{i}"}],
                mock_response=f"a{i}",
                mock_delay=0.05 + (i % 7) * 0.01,
            )
            return parent.get_span_context().span_id, i

    async def run() -> list[tuple[int, int]]:
        return await asyncio.gather(*(one(i) for i in range(100)))

    parents = dict(asyncio.run(run()))
    spans = llm_spans(exporter)
    assert len(spans) == 100
    by_parent = {}
    for span in spans:
        assert span.parent is not None
        question = json_attr(span, "gen_ai.input.messages")[0]["parts"][0]["content"]
        answer = json_attr(span, "gen_ai.output.messages")[0]["parts"][0]["content"]
        assert answer == "a" + question[1:]
        by_parent[span.parent.span_id] = int(question[1:])
    assert by_parent == parents


def get_weather(location: str, tool_call_id: str | None = None) -> str:
    return {"Tokyo": "sunny", "Paris": "rainy"}.get(location, "unknown")


traced_get_weather = trace(span_type="TOOL", name="get_weather")(get_weather)


class WeatherAgent:
    def __init__(self, server, max_turns: int = 4) -> None:
        self.server = server
        self.max_turns = max_turns

    @trace(span_type="AGENT")
    def run(self, query: str) -> str:
        messages: list = [{"role": "user", "content": query}]
        for _ in range(self.max_turns):
            response = litellm.completion(
                model="openai/gpt-4o-mini",
                messages=messages,
                tools=[WEATHER_TOOL],
                **server_kwargs(self.server),
            )
            action = self.get_action(response)
            if action is None:
                return response.choices[0].message.content
            messages.append(response.choices[0].message)
            call_id, arguments = action
            result = traced_get_weather(**arguments, tool_call_id=call_id)
            messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
        return "gave up"

    @trace
    def get_action(self, response):
        calls = response.choices[0].message.tool_calls
        if not calls:
            return None
        return calls[0].id, json.loads(calls[0].function.arguments)


def test_agent_loop_is_one_tree(instrumented, exporter, openai_server):
    openai_server.enqueue(
        Reply(
            tool_calls=[
                {"id": "call_1", "name": "get_weather", "arguments": '{"location": "Paris"}'}
            ]
        ),
        Reply(content="It is rainy in Paris today."),
    )
    answer = WeatherAgent(openai_server).run("What's the weather like in Paris today?")
    assert answer == "It is rainy in Paris today."

    spans = exporter.get_finished_spans()
    assert len({s.context.trace_id for s in spans}) == 1
    roots = [s for s in spans if s.parent is None]
    assert [r.name for r in roots] == ["invoke_agent WeatherAgent"]
    root = roots[0]
    children = sorted((s for s in spans if s is not root), key=lambda s: s.start_time)
    assert [s.name for s in children] == [
        "chat gpt-4o-mini",
        "get_action",
        "execute_tool get_weather",
        "chat gpt-4o-mini",
        "get_action",
    ]
    assert all(s.parent.span_id == root.context.span_id for s in children)

    ra = attrs(root)
    assert ra["gen_ai.operation.name"] == "invoke_agent"
    assert ra["gen_ai.agent.name"] == "WeatherAgent"
    assert json.loads(ra["litellm.span.input"]) == {
        "query": "What's the weather like in Paris today?"
    }
    assert json.loads(ra["litellm.span.output"]) == "It is rainy in Paris today."

    tool = children[2]
    ta = attrs(tool)
    assert tool.kind is SpanKind.INTERNAL
    assert ta["gen_ai.operation.name"] == "execute_tool"
    assert ta["gen_ai.tool.name"] == "get_weather"
    assert ta["gen_ai.tool.call.id"] == "call_1"
    assert json.loads(ta["gen_ai.tool.call.arguments"]) == {"location": "Paris"}
    assert json.loads(ta["gen_ai.tool.call.result"]) == "rainy"

    first, second = children[0], children[3]
    assert json_attr(first, "gen_ai.tool.definitions")[0]["name"] == "get_weather"
    assert json_attr(first, "gen_ai.output.messages")[0]["parts"][0]["type"] == "tool_call"
    history = json_attr(second, "gen_ai.input.messages")
    assert history[1]["parts"][0] == {
        "type": "tool_call",
        "id": "call_1",
        "name": "get_weather",
        "arguments": {"location": "Paris"},
    }
    assert history[2] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy"}],
    }
    assert attrs(children[1])["litellm.span.type"] == "CHAIN"


def test_llm_span_is_current_during_the_call(instrumented, provider, exporter):
    """Spans made inside the call (an HTTP client instrumentation, say) nest under ours."""
    tracer = provider.get_tracer("inner")
    seen = []

    class Inner(litellm.integrations.custom_logger.CustomLogger):
        def log_pre_api_call(self, model, messages, kwargs):
            with tracer.start_as_current_span("http"):
                seen.append(True)

    litellm.completion(
        model="openai/gpt-4o-mini", messages=USER, mock_response="x", callbacks=[Inner()]
    )
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert seen
    assert spans["http"].parent.span_id == spans["chat gpt-4o-mini"].context.span_id
