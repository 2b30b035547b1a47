"""The calls every mode makes: the same model, messages and mock replies for all of them."""

from __future__ import annotations

from typing import Any

MODEL = "gpt-4o-mini"

SYSTEM = (
    "You are a weather assistant. Answer in one short paragraph, name the city, give the "
    "temperature in Celsius and say whether an umbrella is needed. Never invent a forecast: "
    "when the tool fails, say so."
)
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "What is the weather like in Paris this afternoon?"},
]
REPLY = "Paris: 18 °C and light rain this afternoon, so take an umbrella with you."


def _words(count: int, prefix: str) -> str:
    # distinct words: LiteLLM's mock stream cuts text into 3-character chunks and refuses a stream
    # that repeats the same chunk
    return " ".join(f"{prefix}{i}" for i in range(count))


# A conversation about 32 KiB long: what grows with message size shows up here.
LARGE_MESSAGES: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
for _turn in range(8):
    LARGE_MESSAGES.append({"role": "user", "content": _words(330, f"u{_turn}x")})
    LARGE_MESSAGES.append({"role": "assistant", "content": _words(330, f"a{_turn}x")})
LARGE_MESSAGES.append({"role": "user", "content": "And tomorrow?"})

STREAM_SHORT_REPLY = "ok"  # 1 content chunk + the final one
STREAM_LONG_REPLY = _words(100, "w")  # ~130 chunks

VARIANTS = ("plain", "plain_large", "stream_short", "stream_long", "async")
"""plain: ``completion``; plain_large: the same with a 32 KiB conversation; stream_short /
stream_long: ``completion(stream=True)`` consumed to the end, ~2 and ~130 chunks (their difference
gives the cost per chunk); async: ``acompletion``."""


def call_kwargs(variant: str) -> dict[str, Any]:
    if variant == "plain" or variant == "async":
        return {"model": MODEL, "messages": MESSAGES, "mock_response": REPLY}
    if variant == "plain_large":
        return {"model": MODEL, "messages": LARGE_MESSAGES, "mock_response": REPLY}
    if variant == "stream_short":
        return {
            "model": MODEL,
            "messages": MESSAGES,
            "mock_response": STREAM_SHORT_REPLY,
            "stream": True,
        }
    if variant == "stream_long":
        return {
            "model": MODEL,
            "messages": MESSAGES,
            "mock_response": STREAM_LONG_REPLY,
            "stream": True,
        }
    raise ValueError(variant)
