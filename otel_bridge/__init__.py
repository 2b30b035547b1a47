"""otel-bridge: LiteLLM calls as OpenTelemetry GenAI spans, in an OTLP backend and in MLflow.

import otel_bridge
bridge = otel_bridge.configure()   # reads the standard OTEL_* and MLFLOW_* variables
"""

from otel_bridge.config import ConfigError
from otel_bridge.instrumentation.decorator import trace
from otel_bridge.pipeline import Bridge, configure

__all__ = ["Bridge", "ConfigError", "configure", "trace"]
__version__ = "0.1.0"
