"""The one error bad configuration raises, apart from the settings so any room may raise it."""

from __future__ import annotations

from otel_bridge.redaction import mask_url


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the variable and the value."""

    def __init__(self, variable: str, value: object, problem: str) -> None:
        self.variable = variable
        self.value = value
        shown = mask_url(value) if isinstance(value, str) else value
        super().__init__(f"{variable}={shown!r}: {problem}")
