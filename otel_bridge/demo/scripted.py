"""An offline model for the demo: scripted replies handed to LiteLLM's own ``mock_response``.

The calls still go through ``litellm.completion`` / ``litellm.embedding`` (and so through the
instrumentation, streaming included); only the provider's answer is scripted.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from litellm import ModelResponse
from litellm.types.utils import (
    ChatCompletionMessageToolCall,
    Choices,
    Function,
    Message,
    Usage,
)

from otel_bridge.demo.weather import WEATHER_TOOL

_KNOWN_CITIES = ("Tokyo", "Paris")
_CITY_AFTER_IN = re.compile(r"\b(?:in|at|for)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")
_ANSWERS = {
    "rainy": "It's rainy in {city} today, so take an umbrella.",
    "sunny": "It's sunny in {city} today: a good day to be outside.",
}
_UNKNOWN = "I have no weather report for {city} today; I only know Tokyo and Paris."
_NO_CITY = "Which city do you mean? I can tell you today's weather in Tokyo or Paris."


class ScriptedModel:
    """Plays a chat model that calls ``get_weather`` and an embedding model, offline."""

    chat_model = "openai/scripted-weather"
    embedding_model = "openai/scripted-embedding"
    dimensions = 16

    def chat_kwargs(
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None
    ) -> dict[str, Any]:
        """The extra ``litellm.completion`` keyword arguments that script this turn."""
        last = messages[-1]
        if last.get("role") == "user":
            city = find_city(str(last.get("content") or ""))
            offers_weather = any(_tool_name(t) == _tool_name(WEATHER_TOOL) for t in tools or ())
            if city and offers_weather:
                return {"mock_response": self._tool_call(messages, city)}
            return {"mock_response": _NO_CITY}
        return {"mock_response": answer_from_tools(messages)}

    def embedding_kwargs(self, text: str) -> dict[str, Any]:
        return {"mock_response": pseudo_embedding(text, self.dimensions)}

    def _tool_call(self, messages: Sequence[Mapping[str, Any]], city: str) -> ModelResponse:
        call = ChatCompletionMessageToolCall(
            id=f"call_{uuid.uuid4().hex[:12]}",
            type="function",
            function=Function(name="get_weather", arguments=json.dumps({"location": city})),
        )
        message = Message(role="assistant", content=None, tool_calls=[call])
        prompt_tokens = _approx_tokens(json.dumps(list(messages), default=str))
        return ModelResponse(
            model=self.chat_model.split("/", 1)[-1],
            choices=[Choices(index=0, finish_reason="tool_calls", message=message)],
            usage=Usage(
                prompt_tokens=prompt_tokens, completion_tokens=12, total_tokens=prompt_tokens + 12
            ),
        )


def find_city(question: str) -> str | None:
    for city in _KNOWN_CITIES:
        if re.search(rf"\b{city}\b", question, re.IGNORECASE):
            return city
    match = _CITY_AFTER_IN.search(question)
    return match.group(1) if match else None


def answer_from_tools(messages: Sequence[Mapping[str, Any]]) -> str:
    """One sentence per ``get_weather`` result in the conversation."""
    asked: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or ():
            arguments = json.loads(call["function"]["arguments"] or "{}")
            asked[call["id"]] = str(arguments.get("location", "that city"))
    sentences = [
        _ANSWERS.get(str(m.get("content")), _UNKNOWN).format(city=asked.get(m["tool_call_id"], "?"))
        for m in messages
        if m.get("role") == "tool"
    ]
    return " ".join(sentences) or _NO_CITY


def pseudo_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector derived from the text (same text, same vector)."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]


def _tool_name(tool: Mapping[str, Any]) -> str | None:
    return (tool.get("function") or {}).get("name")


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)
