"""The demo agent and its offline model, shared by ``otel-bridge demo`` and ``examples/``.

Importing this package imports LiteLLM (seconds): only the demo and the examples do.
"""

from otel_bridge.demo.agent import AgentRun, ModelChoice, WeatherAgent, choose_model
from otel_bridge.demo.scripted import ScriptedModel
from otel_bridge.demo.weather import WEATHER_TOOL, get_weather

__all__ = [
    "WEATHER_TOOL",
    "AgentRun",
    "ModelChoice",
    "ScriptedModel",
    "WeatherAgent",
    "choose_model",
    "get_weather",
]
