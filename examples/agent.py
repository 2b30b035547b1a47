"""Scenario 5: one trace for the whole application. An agent loops up to ``max_turns``, calling
``litellm.completion`` and deciding what to do next with ``get_action(response)``.

    otel-bridge run -- python examples/agent.py

``run`` is the AGENT span, ``get_action`` a plain traced step, the tool a TOOL span: a single
tree (agent -> LLM calls -> actions) instead of loose LLM spans. Offline (no OPENAI_API_KEY)
the model's replies are scripted through LiteLLM's ``mock_response``.
"""

from __future__ import annotations

import json
import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-map download

import litellm
from opentelemetry import trace as otel_trace

from otel_bridge.demo import WEATHER_TOOL, ScriptedModel
from otel_bridge.demo import get_weather as weather_report
from otel_bridge.instrumentation import trace


@trace(span_type="TOOL")
def get_weather(location: str) -> str:
    return weather_report(location)


TOOLS = {"get_weather": get_weather}


@trace
def get_action(response: litellm.ModelResponse) -> dict[str, Any]:
    """The next step: call tools, or answer."""
    message = response.choices[0].message
    if message.tool_calls:
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": json.loads(c.function.arguments)}
            for c in message.tool_calls
        ]
        return {"type": "tool_calls", "calls": calls}
    return {"type": "answer", "content": message.content}


class Agent:
    def __init__(self, model: str, max_turns: int = 5, scripted: ScriptedModel | None = None):
        self.model = model
        self.max_turns = max_turns
        self.scripted = scripted
        self.trace_id = ""

    @trace(span_type="AGENT")
    def run(self, query: str) -> str:
        self.trace_id = format(otel_trace.get_current_span().get_span_context().trace_id, "032x")
        messages: list = [{"role": "user", "content": query}]
        for _ in range(self.max_turns):
            script = self.scripted.chat_kwargs(messages, [WEATHER_TOOL]) if self.scripted else {}
            response = litellm.completion(
                model=self.model, messages=messages, tools=[WEATHER_TOOL], **script
            )
            action = get_action(response)
            if action["type"] == "answer":
                return action["content"]
            messages.append(response.choices[0].message)
            for call in action["calls"]:
                tool = TOOLS.get(call["name"])
                result = tool(**call["arguments"]) if tool else f"unknown tool {call['name']}"
                print(f"action: {call['name']}({json.dumps(call['arguments'])}) -> {result}")
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        return f"no answer within {self.max_turns} turns"


def main() -> None:
    scripted = None if os.environ.get("OPENAI_API_KEY") else ScriptedModel()
    agent = Agent(scripted.chat_model if scripted else "gpt-4o-mini", scripted=scripted)
    print(agent.run("What's the weather like in Paris today?"))
    print(f"trace id: {agent.trace_id}")


if __name__ == "__main__":
    main()
