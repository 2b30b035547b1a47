"""Which destinations receive message content: part of the configuration, kept apart from
:mod:`otel_bridge.config` so the instrumentation can follow the same switch when no pipeline
is configured (``opentelemetry-instrument``) without importing the settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otel_bridge.errors import ConfigError

CAPTURE_CONTENT_VAR = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CONTENT_DESTINATIONS_VAR = "OTEL_BRIDGE_CONTENT_DESTINATIONS"
DESTINATIONS = ("otlp", "mlflow")

_TRUE = {"true", "1", "yes", "on", "span_only", "span_and_event"}
_FALSE = {"false", "0", "no", "off", "no_content", "event_only"}


@dataclass(frozen=True)
class ContentPolicy:
    """Which destinations receive message content (prompts, completions, tool arguments)."""

    otlp: bool = False
    mlflow: bool = True

    @property
    def any(self) -> bool:
        return self.otlp or self.mlflow

    def allows(self, destination: str) -> bool:
        return bool(getattr(self, destination))


def comma_list(raw: str) -> set[str]:
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


def names_of(option: str, value: Any) -> set[str]:
    """The names a ``configure()`` option lists: a list of names, or their comma list."""
    if isinstance(value, str):
        return comma_list(value)
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return {v.strip().lower() for v in value if v.strip()}
    raise ConfigError(option, value, "expected a list of names")


def content_policy_from_env(environ: Mapping[str, str] | None = None) -> ContentPolicy:
    """Content goes to MLflow only by default.

    ``OTEL_BRIDGE_CONTENT_DESTINATIONS`` (comma list of ``otlp``, ``mlflow``, or
    ``none``) chooses per destination and wins; otherwise the GenAI conventions'
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` sends content to both
    (true) or to neither (false).
    """
    env = os.environ if environ is None else environ
    chosen = env.get(CONTENT_DESTINATIONS_VAR, "").strip()
    if chosen:
        return content_policy_of(comma_list(chosen), CONTENT_DESTINATIONS_VAR, chosen)
    switch = env.get(CAPTURE_CONTENT_VAR, "").strip()
    if not switch:
        return ContentPolicy()
    if switch.lower() in _TRUE:
        return ContentPolicy(otlp=True, mlflow=True)
    if switch.lower() in _FALSE:
        return ContentPolicy(otlp=False, mlflow=False)
    raise ConfigError(CAPTURE_CONTENT_VAR, switch, "expected true or false")


def content_policy_of(names: set[str], variable: str, shown: object) -> ContentPolicy:
    """The policy a list of destinations names (``otlp``, ``mlflow``, or ``none``)."""
    if names == {"none"}:
        return ContentPolicy(otlp=False, mlflow=False)
    unknown = names - set(DESTINATIONS)
    if unknown:
        raise ConfigError(
            variable,
            shown,
            f"unknown destination {sorted(unknown)[0]!r}; use a comma list of "
            "'otlp', 'mlflow', or 'none'",
        )
    return ContentPolicy(otlp="otlp" in names, mlflow="mlflow" in names)
