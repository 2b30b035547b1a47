"""otel-bridge: LiteLLM calls as OpenTelemetry GenAI spans, in an OTLP backend and in MLflow."""
