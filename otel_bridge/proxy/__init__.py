"""otel-bridge for the LiteLLM proxy: one OpenTelemetry GenAI span per proxied model call.

In the proxy's ``config.yaml``::

    litellm_settings:
      callbacks: otel_bridge.proxy.handler

``handler`` is created on first access (the proxy reads it right after importing this module):
it calls ``otel_bridge.configure()``, so the destinations come from the same environment as
everywhere else (``OTEL_EXPORTER_OTLP_*``, ``MLFLOW_*``, ``OTEL_SERVICE_NAME``), and it takes the
LiteLLM instrumentor out of the proxy process. Importing this package alone changes nothing.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from otel_bridge.proxy.callback import OtelBridgeHandler

if TYPE_CHECKING:
    handler: OtelBridgeHandler

__all__ = ["OtelBridgeHandler", "handler"]

_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    if name != "handler":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lock:
        created = globals().get("handler")
        if created is None:
            created = OtelBridgeHandler()
            globals()["handler"] = created
    return created
