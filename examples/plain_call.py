"""Scenario 2: a plain LiteLLM call inside an app span, traced into MLflow (and OTLP if set).

    otel-bridge run -- python examples/plain_call.py

Offline (no OPENAI_API_KEY) the model's answer is LiteLLM's ``mock_response``;
the span, its attributes and the export are the real thing.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-map download

import litellm
from opentelemetry import trace

tracer = trace.get_tracer("examples.plain_call")


def main() -> None:
    offline = not os.environ.get("OPENAI_API_KEY")
    with tracer.start_as_current_span("answer-user") as span:
        response = litellm.completion(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Hi - i'm openai"}],
            mock_response="Hello! I'm a scripted stand-in for gpt-4o-mini." if offline else None,
        )
    print(response.choices[0].message.content)
    print(f"trace id: {span.get_span_context().trace_id:032x}")


if __name__ == "__main__":
    main()
