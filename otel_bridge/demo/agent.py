"""The demo agent: ask a model, run the ``get_weather`` tool it asks for, stream the answer,
embed it, all under one AGENT span (one trace)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import litellm
from opentelemetry import trace as otel_trace

from otel_bridge.demo.scripted import ScriptedModel
from otel_bridge.demo.weather import WEATHER_TOOL, get_weather
from otel_bridge.instrumentation import trace

SCRIPTED = "scripted"
SYSTEM_PROMPT = "You are a helpful assistant. Use the get_weather tool for weather questions."
# A provider key in the environment picks a real model when none is given.
DEFAULT_MODELS = (
    ("OPENAI_API_KEY", "gpt-4o-mini"),
    ("ANTHROPIC_API_KEY", "anthropic/claude-3-5-haiku-latest"),
    ("GEMINI_API_KEY", "gemini/gemini-2.0-flash"),
)
OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
TOOLS: dict[str, Callable[..., str]] = {"get_weather": get_weather}


@dataclass(frozen=True)
class ModelChoice:
    """Which chat and embedding models the agent calls; ``None`` scripted means a real one."""

    chat_model: str
    embedding_model: str
    why: str
    scripted_chat: ScriptedModel | None = None
    scripted_embedding: ScriptedModel | None = None

    @property
    def offline(self) -> bool:
        return self.scripted_chat is not None and self.scripted_embedding is not None

    def chat_kwargs(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        if self.scripted_chat is None:
            return {}
        return self.scripted_chat.chat_kwargs(messages, [WEATHER_TOOL])

    def embedding_kwargs(self, text: str) -> dict[str, Any]:
        return (
            {}
            if self.scripted_embedding is None
            else self.scripted_embedding.embedding_kwargs(text)
        )


def choose_model(model: str | None = None, environ: Mapping[str, str] | None = None) -> ModelChoice:
    """``model`` if given (``"scripted"``: offline), else a provider's default model when its
    key is set, else the offline scripted model."""
    env = os.environ if environ is None else environ
    scripted = ScriptedModel()
    if model == SCRIPTED:
        return _scripted(scripted, "--model scripted")
    if model is None:
        found = [(var, name) for var, name in DEFAULT_MODELS if env.get(var)]
        if not found:
            keys = ", ".join(var for var, _ in DEFAULT_MODELS)
            why = f"no provider key ({keys}) is set; pass --model to use a real model"
            return ModelChoice(
                scripted.chat_model, scripted.embedding_model, why, scripted, scripted
            )
        var, model = found[0]
        why = f"{var} is set"
    else:
        why = "--model"
    if env.get("OPENAI_API_KEY"):
        return ModelChoice(model, OPENAI_EMBEDDING_MODEL, why)
    why += "; scripted embeddings (no OPENAI_API_KEY)"
    return ModelChoice(model, scripted.embedding_model, why, scripted_embedding=scripted)


def _scripted(scripted: ScriptedModel, why: str) -> ModelChoice:
    return ModelChoice(scripted.chat_model, scripted.embedding_model, why, scripted, scripted)


@dataclass
class AgentRun:
    question: str
    answer: str = ""
    trace_id: str = ""
    tool_calls: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    embedding_dimensions: int = 0


class WeatherAgent:
    """LLM (tools offered) -> tool call(s) -> LLM answer, streamed -> embedding of the answer."""

    def __init__(
        self,
        model: ModelChoice,
        progress: Callable[[str], None] = print,
        on_chunk: Callable[[str], None] | None = None,
    ) -> None:
        self.model = model
        self.progress = progress
        self.on_chunk = on_chunk or (lambda text: print(text, end="", flush=True))
        self.last_run: AgentRun | None = None

    def ask(self, question: str) -> AgentRun:
        self.last_run = AgentRun(question)
        self.last_run.answer = self.run(question)
        return self.last_run

    @trace(span_type="AGENT")
    def run(self, question: str) -> str:
        record = self.last_run or AgentRun(question)
        record.trace_id = format(otel_trace.get_current_span().get_span_context().trace_id, "032x")
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": question},
        ]
        self.progress(f"[1/4] asking {self.model.chat_model} (tools offered: get_weather)")
        plan = litellm.completion(
            model=self.model.chat_model,
            messages=messages,
            tools=[WEATHER_TOOL],
            **self.model.chat_kwargs(messages),
        )
        message = plan.choices[0].message
        calls = list(message.tool_calls or ())
        if not calls:
            self.progress("[2/4] the model answered without a tool")
            answer = message.content or ""
            self.on_chunk(answer + "\n")
        else:
            messages.append(_assistant_message(message.content, calls))
            for call in calls:
                messages.append(self._run_tool(call, record))
            self.progress("[3/4] answer (streaming):")
            answer = self._stream_answer(messages)
        record.embedding_dimensions = self._embed(answer)
        return answer

    def _run_tool(self, call: Any, record: AgentRun) -> dict[str, Any]:
        name = call.function.name
        arguments = json.loads(call.function.arguments or "{}")
        tool = TOOLS.get(name)
        if tool is None:
            result = f"unknown tool {name!r}"
        else:
            traced = trace(name=name, span_type="TOOL", attributes={"gen_ai.tool.call.id": call.id})
            result = traced(tool)(**arguments)
        record.tool_calls.append((name, arguments, result))
        self.progress(f"[2/4] the model asked for {name}({json.dumps(arguments)}) -> {result}")
        return {"role": "tool", "tool_call_id": call.id, "content": result}

    def _stream_answer(self, messages: list[dict[str, Any]]) -> str:
        stream = litellm.completion(
            model=self.model.chat_model,
            messages=messages,
            tools=[WEATHER_TOOL],
            stream=True,
            **self.model.chat_kwargs(messages),
        )
        parts: list[str] = []
        for chunk in stream:
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                parts.append(delta)
                self.on_chunk(delta)
        self.on_chunk("\n")
        return "".join(parts)

    def _embed(self, answer: str) -> int:
        response = litellm.embedding(
            model=self.model.embedding_model,
            input=[answer],
            **self.model.embedding_kwargs(answer),
        )
        dimensions = len(response.data[0]["embedding"])
        model = self.model.embedding_model
        self.progress(f"[4/4] embedded the answer with {model}: {dimensions} dimensions")
        return dimensions


def _assistant_message(content: str | None, calls: list[Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in calls
        ],
    }
