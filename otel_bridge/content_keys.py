"""Span attributes that carry message content.

The instrumentation writes them; the pipeline strips them from the spans sent to
a destination whose content policy says no. Kept apart from both so that neither
imports the other.
"""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

# MLflow's own span inputs/outputs: set only by code that writes content.
MLFLOW_SPAN_INPUTS = "mlflow.spanInputs"
MLFLOW_SPAN_OUTPUTS = "mlflow.spanOutputs"

CONTENT_ATTRIBUTES: frozenset[str] = frozenset(
    {
        gen_ai.GEN_AI_INPUT_MESSAGES,
        gen_ai.GEN_AI_OUTPUT_MESSAGES,
        gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS,
        gen_ai.GEN_AI_TOOL_DEFINITIONS,
        gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS,
        gen_ai.GEN_AI_TOOL_CALL_RESULT,
        gen_ai.GEN_AI_RETRIEVAL_QUERY_TEXT,
        gen_ai.GEN_AI_RETRIEVAL_DOCUMENTS,
        MLFLOW_SPAN_INPUTS,
        MLFLOW_SPAN_OUTPUTS,
    }
)
