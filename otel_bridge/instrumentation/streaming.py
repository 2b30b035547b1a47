"""Streams: a transparent proxy around LiteLLM's stream that keeps the call's span open.

The span ends when the stream is exhausted, fails, is closed, or is garbage-collected, and then
carries the aggregate: finish reasons, usage, response id/model, time to first chunk and (when
content is captured) the output messages. Per chunk the accumulators only append references to
lists and dicts: no JSON, no copies.

As opentelemetry-util-genai's stream wrapper does: a stream that breaks ends the span as an error
(with ``gen_ai.response.finish_reasons=["error"]``); one closed early (``close()``, leaving its
``with`` block) ends normally; one dropped without either (garbage-collected) ends as an error
of type ``_OTHER``, "abandoned stream". The usage seen so far stays on the span; failed streams
record no token-usage metric (the conventions: failed operations record none).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import wrapt

from otel_bridge import attributes as keys
from otel_bridge.instrumentation import content
from otel_bridge.instrumentation.calls import LLMCall
from otel_bridge.instrumentation.errors import record_error
from otel_bridge.instrumentation.fields import field
from otel_bridge.instrumentation.operations import RESPONSES, TEXT_COMPLETION
from otel_bridge.instrumentation.response import (
    hidden_params,
    response_attributes,
    usage_attributes,
)
from otel_bridge.instrumentation.stream_usage import usage_estimate

_time_ns = time.time_ns
_EMPTY: dict[str, Any] = {}
_MAX_GAPS = 4096  # chunk intervals kept for gen_ai.client.operation.time_per_output_chunk
OTHER_ERROR = "_OTHER"


class AbandonedStreamError(Exception):
    """A stream dropped before it was exhausted, closed or left (its span ends with this)."""

    def __init__(self) -> None:
        super().__init__("abandoned stream")


class StreamState:
    """Aggregate of a chat or text-completion stream (OpenAI-style chunks with ``choices``)."""

    __slots__ = (
        "call",
        "capture",
        "chat",
        "done",
        "finish_reasons",
        "first_ns",
        "gaps",
        "hidden_source",
        "last_ns",
        "model",
        "reasoning",
        "response_id",
        "texts",
        "tools",
        "usage",
    )

    def __init__(self, call: LLMCall) -> None:
        self.call = call
        self.capture = call.settings.capture
        self.chat = call.kind != TEXT_COMPLETION
        self.done = False
        self.first_ns = 0
        self.response_id: Any = None
        self.model: Any = None
        self.usage: Any = None
        self.finish_reasons: dict[int, str] = {}
        self.texts: dict[int, list[str]] = {}
        self.reasoning: dict[int, list[str]] = {}
        self.tools: dict[tuple[int, int], list[Any]] = {}
        self.hidden_source: Any = None
        # chunk intervals (ns), only when metrics are recorded
        self.gaps: list[int] | None = [] if call.settings.metrics is not None else None
        self.last_ns = 0

    def on_chunk(self, chunk: Any) -> None:
        # The hot path, once per chunk: LiteLLM's ModelResponseStream keeps ``choices`` in
        # __dict__ and ``usage`` in ``__pydantic_extra__``; its StreamingChoices keep their fields
        # in ``__pydantic_extra__``. Inlined for them (no call per choice); anything else (dicts,
        # other objects) goes through ``field``.
        try:
            if not self.first_ns:
                self._first_chunk(chunk)
            else:
                gaps = self.gaps
                if gaps is not None:  # _gap()'s body: one call less per chunk
                    now = _time_ns()
                    if len(gaps) < _MAX_GAPS:
                        gaps.append(now - self.last_ns)
                    self.last_ns = now
            values = getattr(chunk, "__dict__", None)
            if values is None:
                self._other_chunk(chunk)
                return
            choices = values.get("choices")
            if choices is None:
                choices = field(chunk, "choices")
            if choices:
                if not self.chat:
                    self._text_choices(choices)
                else:
                    for choice in choices:
                        extra = getattr(choice, "__pydantic_extra__", None)
                        if extra is not None and "delta" in extra:
                            reason = extra.get("finish_reason")
                            if reason or self.capture:
                                index = extra.get("index") or 0
                                if reason:
                                    self.finish_reasons[index] = reason
                                if self.capture:
                                    self._delta(index, extra["delta"])
                        else:
                            self._choice(choice)
            extra = getattr(chunk, "__pydantic_extra__", None)
            usage = extra.get("usage") if extra else None
            if usage is None:
                usage = values.get("usage")
            if usage is not None:
                self.usage = usage
        except Exception:
            record_error("stream_chunk")

    def _gap(self) -> None:
        now = _time_ns()
        gaps = self.gaps
        if gaps is not None and len(gaps) < _MAX_GAPS:
            gaps.append(now - self.last_ns)
        self.last_ns = now

    def _first_chunk(self, chunk: Any) -> None:
        self.first_ns = self.last_ns = _time_ns()
        self.response_id = field(chunk, "id")
        # LiteLLM rewrites chunk.model to the model asked for; the model the server streamed is
        # in the chunk's hidden params (provider_response_model)
        hidden = hidden_params(chunk)
        model = hidden.get("provider_response_model") if hidden else None
        self.model = model if isinstance(model, str) and model else field(chunk, "model")

    def _other_chunk(self, chunk: Any) -> None:
        """A chunk that is not a pydantic/plain object (a dict, ...)."""
        choices = field(chunk, "choices")
        if choices:
            if not self.chat:
                self._text_choices(choices)
            else:
                for choice in choices:
                    self._choice(choice)
        usage = field(chunk, "usage")
        if usage is not None:
            self.usage = usage

    def _choice(self, choice: Any) -> None:
        extra = getattr(choice, "__pydantic_extra__", None) or _EMPTY
        if "delta" in extra:
            reason = extra.get("finish_reason")
            delta = extra["delta"]
            index = extra.get("index") or 0
        else:
            reason = field(choice, "finish_reason")
            delta = field(choice, "delta")
            index = field(choice, "index") or 0
        if reason:
            self.finish_reasons[index] = reason
        if self.capture:
            self._delta(index, delta)

    def _delta(self, index: int, delta: Any) -> None:
        if delta is None:
            return
        delta_extra = getattr(delta, "__pydantic_extra__", None)
        if delta_extra is not None:
            delta_values = delta.__dict__
            text = delta_extra.get("content") or delta_values.get("content")
            calls = delta_extra.get("tool_calls") or delta_values.get("tool_calls")
            thought = delta_values.get("reasoning_content") or delta_extra.get("reasoning_content")
        else:
            text = field(delta, "content")
            calls = field(delta, "tool_calls")
            thought = field(delta, "reasoning_content")
        if text:
            pieces = self.texts.get(index)
            if pieces is None:
                pieces = self.texts[index] = []
            pieces.append(text)
        if thought:
            pieces = self.reasoning.get(index)
            if pieces is None:
                pieces = self.reasoning[index] = []
            pieces.append(thought)
        if calls:
            self._tool_calls(index, calls)

    def _text_choices(self, choices: Any) -> None:
        for choice in choices:
            index = field(choice, "index") or 0
            reason = field(choice, "finish_reason")
            if reason:
                self.finish_reasons[index] = reason
            if self.capture:
                text = field(choice, "text")
                if text:
                    pieces = self.texts.get(index)
                    if pieces is None:
                        pieces = self.texts[index] = []
                    pieces.append(text)

    def _tool_calls(self, index: int, calls: Any) -> None:
        for call in calls:
            key = (index, field(call, "index") or 0)
            entry = self.tools.get(key)
            if entry is None:
                entry = self.tools[key] = [None, None, []]
            call_id = field(call, "id")
            if call_id:
                entry[0] = call_id
            function = field(call, "function")
            name = field(function, "name")
            if name:
                entry[1] = name
            arguments = field(function, "arguments")
            if arguments:
                entry[2].append(arguments)

    def attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        if isinstance(self.response_id, str) and self.response_id:
            attrs[keys.RESPONSE_ID] = self.response_id
        if isinstance(self.model, str) and self.model:
            attrs[keys.RESPONSE_MODEL] = self.model
        reasons = self.finish_reasons
        if reasons:
            attrs[keys.RESPONSE_FINISH_REASONS] = [str(reasons[i]) for i in sorted(reasons)]
        usage_attributes(attrs, self.usage, self.call.kind)
        if self.capture and (self.texts or self.tools or self.reasoning or reasons):
            call = self.call
            # the pieces are not touched after the end: serialised later, they need no copy
            content.put(
                attrs,
                keys.OUTPUT_MESSAGES,
                call.settings.max_length,
                call.pending,
                self._messages,
            )
        return attrs

    def _messages(self) -> list[dict[str, Any]]:
        indexes = sorted(
            set(self.texts)
            | set(self.reasoning)
            | {i for i, _ in self.tools}
            | set(self.finish_reasons)
        )
        messages = []
        for index in indexes:
            parts: list[dict[str, Any]] = []
            if index in self.reasoning:
                parts.append({"type": "reasoning", "content": "".join(self.reasoning[index])})
            if index in self.texts:
                parts.append({"type": "text", "content": "".join(self.texts[index])})
            for (choice, _), (call_id, name, pieces) in sorted(
                self.tools.items(), key=lambda item: item[0]
            ):
                if choice == index:
                    parts.append(
                        {
                            "type": "tool_call",
                            "id": call_id,
                            "name": name or "",
                            "arguments": content._arguments("".join(pieces)),
                        }
                    )
            messages.append({"role": "assistant", "parts": parts})
        return messages

    def finish(self, exc: BaseException | None = None, error_type: str | None = None) -> None:
        """End the span once: ``exc`` None for a normal end or a close."""
        if self.done:
            return
        self.done = True
        try:
            attrs = self.attributes()
        except Exception:
            record_error("stream_attributes")
            attrs = {}
        self.capture = False  # the pieces may be serialised later: nothing may add to them
        first = None
        if self.first_ns:
            first = (self.first_ns - self.call.start_ns) / 1e9
            attrs[keys.RESPONSE_TIME_TO_FIRST_CHUNK] = first
        if exc is None:
            if self.usage is None and self.call.kind != RESPONSES:  # the provider sent none
                self.call.estimate_usage(attrs, usage_estimate(self.hidden_source, self.tools))
            # in ns: the recorder converts them (under configure(), on the metrics thread)
            gaps = self.gaps or ()
            self.call.end_with_attributes(attrs, hidden_params(self.hidden_source), first, gaps)
            return
        if not isinstance(exc, AbandonedStreamError):
            attrs[keys.RESPONSE_FINISH_REASONS] = ["error"]
        self.call.end_with_error(exc, attrs, error_type, first)

    def abandon(self) -> None:
        self.finish(AbandonedStreamError(), OTHER_ERROR)


class ResponsesStreamState(StreamState):
    """Aggregate of a Responses API event stream: the final ``response.*`` event carries it all."""

    __slots__ = ("final",)

    def __init__(self, call: LLMCall) -> None:
        super().__init__(call)
        self.final: Any = None

    def on_chunk(self, chunk: Any) -> None:
        try:
            if not self.first_ns:
                self.first_ns = self.last_ns = _time_ns()
            elif self.gaps is not None:
                self._gap()
            kind = field(chunk, "type")
            if kind == "response.output_text.delta":
                if self.capture:
                    delta = field(chunk, "delta")
                    if delta:
                        pieces = self.texts.get(0)
                        if pieces is None:
                            pieces = self.texts[0] = []
                        pieces.append(delta)
            elif kind in ("response.completed", "response.incomplete", "response.failed"):
                self.final = field(chunk, "response")
        except Exception:
            record_error("stream_chunk")

    def attributes(self) -> dict[str, Any]:
        if self.final is not None:
            call = self.call
            settings = call.settings
            return response_attributes(
                RESPONSES, self.final, settings.capture, settings.max_length, call.pending
            )
        return super().attributes()


if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:  # wrapt < 2 has no ObjectProxy[...]
    _Proxy = wrapt.ObjectProxy


class StreamProxy(_Proxy):
    """Proxy of a LiteLLM stream (``CustomStreamWrapper`` and kin): everything passes through;
    iteration also feeds the call's aggregate, and the end of the stream ends the span."""

    def __init__(self, wrapped: Any, state: StreamState) -> None:
        super().__init__(wrapped)
        self._self_state = state
        self._self_on_chunk = state.on_chunk  # one attribute lookup per chunk, not two
        state.hidden_source = wrapped

    def __iter__(self) -> StreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self.__wrapped__)
        except StopIteration:
            self._self_state.finish(None)
            raise
        except BaseException as exc:
            self._self_state.finish(exc)
            raise
        self._self_on_chunk(chunk)
        return chunk

    def __aiter__(self) -> StreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_state.finish(None)
            raise
        except BaseException as exc:
            self._self_state.finish(exc)
            raise
        self._self_on_chunk(chunk)
        return chunk

    def close(self) -> Any:
        try:
            close = getattr(self.__wrapped__, "close", None)
            return close() if close is not None else None
        finally:
            self._self_state.finish(None)

    async def aclose(self) -> Any:
        try:
            aclose = getattr(self.__wrapped__, "aclose", None)
            return (await aclose()) if aclose is not None else None
        finally:
            self._self_state.finish(None)

    def __enter__(self) -> StreamProxy:
        enter = getattr(self.__wrapped__, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            exit_ = getattr(self.__wrapped__, "__exit__", None)
            return exit_(exc_type, exc, tb) if exit_ is not None else None
        finally:
            self._self_state.finish(exc)

    async def __aenter__(self) -> StreamProxy:
        enter = getattr(self.__wrapped__, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            exit_ = getattr(self.__wrapped__, "__aexit__", None)
            return (await exit_(exc_type, exc, tb)) if exit_ is not None else None
        finally:
            self._self_state.finish(exc)

    def __del__(self) -> None:
        state = getattr(self, "_self_state", None)
        if state is not None and not state.done:
            state.abandon()


def is_stream(result: Any) -> bool:
    cls = type(result)
    return hasattr(cls, "__next__") or hasattr(cls, "__anext__")


def wrap_stream(call: LLMCall, stream: Any) -> StreamProxy:
    state = ResponsesStreamState(call) if call.kind == RESPONSES else StreamState(call)
    return StreamProxy(stream, state)
