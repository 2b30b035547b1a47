"""Bad input never breaks a call, and never breaks the export of its span.

Each case is run through LiteLLM twice, without and with the instrumentation (content capture
on): the application must see the same outcome (the same answer, or the same exception type and
message) both times. The span must exist, its content be bounded, and the whole batch encode as
OTLP protobuf (lone surrogates, for one, make the encoder drop an attribute or a whole span).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import litellm
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

from otel_bridge.attributes import CONTENT_ATTRIBUTES
from otel_bridge.instrumentation import trace
from otel_bridge.instrumentation.content import DEFAULT_MAX_CONTENT_LENGTH

MODEL = "openai/gpt-4o-mini"
SCOPE = "otel_bridge.instrumentation.litellm"


class Slots:
    """No __dict__."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 1


class Hostile:
    """Every way of looking at it raises."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no attribute {name}")

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class DumpRaises:
    @property
    def model_dump(self) -> Any:
        raise RuntimeError("model_dump is broken")


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def _cyclic() -> dict[str, Any]:
    value: dict[str, Any] = {"type": "custom"}
    value["self"] = value
    return value


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        response = call()
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    choices = getattr(response, "choices", None)
    content = choices[0].message.content if choices else None
    return ("returned", type(response), content)


def _llm_spans(exporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == SCOPE]


def _check_exportable(spans: list[ReadableSpan], caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="opentelemetry.exporter"):
        encode_spans(spans).SerializeToString()
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    for span in spans:
        for key, value in (span.attributes or {}).items():
            if key in CONTENT_ATTRIBUTES:
                assert len(value) <= DEFAULT_MAX_CONTENT_LENGTH
            if isinstance(value, str):
                value.encode("utf-8")  # raises on a lone surrogate


def _same_outcome(instrument, exporter, caplog, call: Callable[[], Any]) -> list[ReadableSpan]:
    expected = _outcome(call)
    instrument()
    assert _outcome(call) == expected
    spans = _llm_spans(exporter)
    assert len(spans) == 1, [s.name for s in exporter.get_finished_spans()]
    _check_exportable(spans, caplog)
    return spans


MESSAGES: dict[str, Any] = {
    "object without __dict__": [{"role": "user", "content": Slots()}],
    "hostile object": [{"role": "user", "content": Hostile()}],
    "hostile message": [Hostile()],
    "model_dump raises": [{"role": "user", "content": [DumpRaises()]}],
    "set, bytes, complex": [{"role": "user", "content": [{"type": "x", "v": {1, 2}}, b"\xff"]}],
    "bytes content": [{"role": "user", "content": b"\xff\xfe not utf-8"}],
    "lone surrogates": [{"role": "user", "content": "caf\udce9 \ud800 ok"}],
    "nested deeper than the recursion limit": [
        {"role": "user", "content": [{"type": "custom", "data": _deep(5000)}]}
    ],
    "cycle": [{"role": "user", "content": [_cyclic()]}],
    "huge int": [{"role": "user", "content": [{"type": "custom", "n": 10**5000}]}],
    "nan and inf": [{"role": "user", "content": [{"type": "custom", "f": [float("nan")]}]}],
    "non-string keys": [{"role": "user", "content": [{"type": "custom", (1, 2): "tuple key"}]}],
    "None everywhere": [
        None,
        {"role": None, "content": None},
        {"role": "assistant", "content": None, "tool_calls": None},
        {"role": "assistant", "tool_calls": [None, {"function": None}]},
        {"role": "tool", "content": None, "tool_call_id": None},
    ],
    "a dict, not a list": {"role": "user", "content": "hi"},
    "None": None,
}


@pytest.mark.parametrize("messages", MESSAGES.values(), ids=MESSAGES.keys())
def test_odd_messages(instrument, exporter, caplog, messages):
    _same_outcome(
        instrument,
        exporter,
        caplog,
        lambda: litellm.completion(model=MODEL, messages=messages, mock_response="fine"),
    )


KWARGS: dict[str, dict[str, Any]] = {
    "None everywhere": {
        "tools": [None, {"function": None}],
        "metadata": {"tags": None, "session_id": None},
        "user": None,
        "stop": None,
        "temperature": None,
        "n": None,
        "response_format": None,
    },
    "odd types": {
        "tools": {"not": "a list"},
        "metadata": {"tags": [Hostile(), "ok", "k:\ud800"], "session_id": Slots()},
        "user": "caf\udce9",
        "stop": ["\ud800"],
        "temperature": "hot",
        "max_tokens": "many",
        "seed": object(),
    },
    "metadata not a dict": {"metadata": ["tags"], "litellm_metadata": "x"},
    "surrogate in the model name": {"model": "openai/gpt-4o-mini-\udcff"},
}


@pytest.mark.parametrize("extra", KWARGS.values(), ids=KWARGS.keys())
def test_odd_parameters(instrument, exporter, caplog, extra):
    kwargs = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **extra}
    _same_outcome(
        instrument,
        exporter,
        caplog,
        lambda: litellm.completion(**kwargs, mock_response="fine"),
    )


def test_a_generator_is_not_consumed(instrument, exporter, caplog):
    """Iterating it here would hand LiteLLM an empty one."""

    def call():
        messages = ({"role": "user", "content": w} for w in ("one", "two"))
        return litellm.completion(model=MODEL, messages=messages, mock_response="fine")

    _same_outcome(instrument, exporter, caplog, call)


def test_a_10_mb_prompt(instrument, exporter, caplog):
    prompt = "word " * (2 * 1024 * 1024)

    def call():
        return litellm.completion(
            model=MODEL, messages=[{"role": "user", "content": prompt}], mock_response="fine"
        )

    start = time.perf_counter()
    call()
    plain = time.perf_counter() - start
    instrument()
    start = time.perf_counter()
    call()
    traced = time.perf_counter() - start
    [span] = _llm_spans(exporter)
    _check_exportable([span], caplog)
    value = span.attributes["gen_ai.input.messages"]
    assert "truncated by otel-bridge" in value
    assert json.loads(value)[0]["parts"][0]["content"].startswith("word word")
    assert traced - plain < 1.0, (plain, traced)  # the serialisation of 10 MB, bounded


PNG = base64.b64encode(b"\x89PNG\r\n" + bytes(range(256)) * 2000).decode()


def test_base64_payloads_are_elided(instrument, exporter, caplog):
    """Provider-specific parts (LiteLLM refuses some of them for OpenAI: the span of the failed
    call carries its input all the same)."""
    content = [
        {"type": "text", "text": "Look"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "inline_data": {"mime_type": "image/png", "data": PNG}},
        {"type": "input_audio", "input_audio": {"format": "wav", "data": PNG}},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PNG}"}},
        {"type": "custom_blob", "payload": {"bytes": PNG}},
    ]
    [span] = _same_outcome(
        instrument,
        exporter,
        caplog,
        lambda: litellm.completion(
            model=MODEL, messages=[{"role": "user", "content": content}], mock_response="fine"
        ),
    )
    raw = span.attributes["gen_ai.input.messages"]
    assert PNG[:64] not in raw
    assert "truncated" not in raw  # small once elided: nothing had to be cut
    parts = json.loads(raw)[0]["parts"]
    assert parts[0] == {"type": "text", "content": "Look"}
    size = len(PNG) * 3 // 4
    for part in parts[1:6]:
        assert part["type"] == "blob", part
        assert f"{size} bytes" in part["content"], part
    assert [p["modality"] for p in parts[1:6]] == ["image", "image", "image", "audio", "document"]
    assert parts[1]["mime_type"] == parts[2]["mime_type"] == "image/png"
    assert f"{size} bytes" in parts[6]["payload"]["bytes"]


def test_decorated_steps_with_odd_arguments(instrument, exporter, caplog):
    instrument()
    sentinel = object()

    @trace
    def step(*args, **kwargs):
        return sentinel

    for args in ([Hostile()], [_deep(5000)], [_cyclic()], [b"\xff" * 10], ["\ud800"], [None]):
        assert step(*args, extra=Slots()) is sentinel
    spans = exporter.get_finished_spans()
    assert len(spans) == 6
    _check_exportable(list(spans), caplog)


def test_errors_with_odd_messages_reach_the_caller_unchanged(instrument, exporter, caplog):
    instrument()

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    errors = [Unprintable(), ValueError("\ud800 broken"), ValueError("x" * 10_000_000)]
    for error in errors:

        @trace
        def fails(error=error):
            raise error

        with pytest.raises(type(error)) as caught:
            fails()
        assert caught.value is error
    spans = list(exporter.get_finished_spans())
    assert len(spans) == 3
    _check_exportable(spans, caplog)
    messages = [s.events[0].attributes["exception.message"] for s in spans]
    assert "Unprintable" in messages[0]
    assert len(messages[2]) <= 33 * 1024
