"""Scenario 3: tool calls, traced. The model is offered a ``get_weather`` tool, asks for it, the
app runs it (a TOOL span) and the model answers from its result.

    otel-bridge run -- python examples/tool_calls.py

The trace shows the tools offered (``gen_ai.tool.definitions``), the tool call the model asked
for, the tool's execution and the final answer. Offline (no OPENAI_API_KEY) the model's replies
are scripted through LiteLLM's ``mock_response``; the spans and the export are the real thing.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-map download

import litellm
from opentelemetry import trace as otel_trace

from otel_bridge.demo import ScriptedModel
from otel_bridge.instrumentation import trace

tracer = otel_trace.get_tracer("examples.tool_calls")

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "The city, e.g. Tokyo"},
                },
                "required": ["location"],
            },
        },
    }
]


@trace(span_type="TOOL")
def get_weather(location: str) -> str:
    return {"tokyo": "sunny", "paris": "rainy"}.get(location.lower(), "unknown")


def main() -> None:
    scripted = None if os.environ.get("OPENAI_API_KEY") else ScriptedModel()
    model = scripted.chat_model if scripted else "gpt-4o-mini"

    def complete(messages: list) -> litellm.ModelResponse:
        script = scripted.chat_kwargs(messages, TOOLS) if scripted else {}
        return litellm.completion(model=model, messages=messages, tools=TOOLS, **script)

    messages: list = [{"role": "user", "content": "What's the weather like in Paris today?"}]
    with tracer.start_as_current_span("weather-question") as span:
        response = complete(messages)
        message = response.choices[0].message
        messages.append(message)
        for call in message.tool_calls or []:
            result = get_weather(**json.loads(call.function.arguments))
            print(f"tool call: {call.function.name}({call.function.arguments}) -> {result}")
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        answer = complete(messages).choices[0].message.content
    print(answer)
    print(f"trace id: {span.get_span_context().trace_id:032x}")


if __name__ == "__main__":
    main()
