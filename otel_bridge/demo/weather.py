"""Scenario 3's tool: ``get_weather(location)`` and the JSON-schema spec offered to the model."""

from __future__ import annotations

from typing import Any

_WEATHER = {"tokyo": "sunny", "paris": "rainy"}

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get today's weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city, e.g. Paris"},
            },
            "required": ["location"],
        },
    },
}


def get_weather(location: str) -> str:
    """``Tokyo`` -> sunny, ``Paris`` -> rainy, anywhere else -> unknown."""
    return _WEATHER.get(location.strip().split(",")[0].strip().lower(), "unknown")
