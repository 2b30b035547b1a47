"""Span attribute names: the contract between the rooms that write spans (the instrumentation,
the proxy callback) and the destinations that read them.

The GenAI semantic conventions first; where they are silent, ``litellm.*`` names. Nothing here is
a destination's dialect: MLflow's own keys are derived from these by the MLflow destination
(:mod:`otel_bridge.exporters.mlflow.dialect`), so an OTLP backend receives the conventions only.
``tests/conventions/`` checks every name and type emitted against the conventions' registry.
"""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import server_attributes as _server

SCHEMA_URL = "https://opentelemetry.io/schemas/1.45.0"
"""The schema of every scope the bridge emits with (LiteLLM calls, ``trace`` steps, the proxy):
semconv 1.45, the base of the GenAI conventions' first release (semantic-conventions-genai
v0.1.0), which defines the names below (``gen_ai.usage.cache_write.input_tokens``, int
``gen_ai.request.top_k``)."""

OPERATION_NAME = _gen_ai.GEN_AI_OPERATION_NAME
PROVIDER_NAME = _gen_ai.GEN_AI_PROVIDER_NAME
REQUEST_MODEL = _gen_ai.GEN_AI_REQUEST_MODEL
REQUEST_TEMPERATURE = _gen_ai.GEN_AI_REQUEST_TEMPERATURE
REQUEST_MAX_TOKENS = _gen_ai.GEN_AI_REQUEST_MAX_TOKENS
REQUEST_TOP_P = _gen_ai.GEN_AI_REQUEST_TOP_P
REQUEST_TOP_K = _gen_ai.GEN_AI_REQUEST_TOP_K
REQUEST_FREQUENCY_PENALTY = _gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY
REQUEST_PRESENCE_PENALTY = _gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY
REQUEST_STOP_SEQUENCES = _gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES
REQUEST_SEED = _gen_ai.GEN_AI_REQUEST_SEED
REQUEST_CHOICE_COUNT = _gen_ai.GEN_AI_REQUEST_CHOICE_COUNT
REQUEST_ENCODING_FORMATS = _gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS
REQUEST_STREAM = _gen_ai.GEN_AI_REQUEST_STREAM
OUTPUT_TYPE = _gen_ai.GEN_AI_OUTPUT_TYPE
RESPONSE_ID = _gen_ai.GEN_AI_RESPONSE_ID
RESPONSE_MODEL = _gen_ai.GEN_AI_RESPONSE_MODEL
RESPONSE_FINISH_REASONS = _gen_ai.GEN_AI_RESPONSE_FINISH_REASONS
RESPONSE_TIME_TO_FIRST_CHUNK = _gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
USAGE_INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_INPUT_TOKENS
USAGE_OUTPUT_TOKENS = _gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS
USAGE_CACHE_READ_INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
# renamed from gen_ai.usage.cache_creation.input_tokens (semantic-conventions-genai #440);
# opentelemetry-semantic-conventions 0.66b2 does not have the new name yet
USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = _gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
EMBEDDINGS_DIMENSION_COUNT = _gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT
CONVERSATION_ID = _gen_ai.GEN_AI_CONVERSATION_ID
AGENT_NAME = _gen_ai.GEN_AI_AGENT_NAME
TOOL_NAME = _gen_ai.GEN_AI_TOOL_NAME
TOOL_TYPE = _gen_ai.GEN_AI_TOOL_TYPE
TOOL_CALL_ID = _gen_ai.GEN_AI_TOOL_CALL_ID
TOOL_DESCRIPTION = _gen_ai.GEN_AI_TOOL_DESCRIPTION
TOKEN_TYPE = _gen_ai.GEN_AI_TOKEN_TYPE  # metrics only

# Content: written only when content capture is on.
INPUT_MESSAGES = _gen_ai.GEN_AI_INPUT_MESSAGES
OUTPUT_MESSAGES = _gen_ai.GEN_AI_OUTPUT_MESSAGES
SYSTEM_INSTRUCTIONS = _gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS
TOOL_DEFINITIONS = _gen_ai.GEN_AI_TOOL_DEFINITIONS
TOOL_CALL_ARGUMENTS = _gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS
TOOL_CALL_RESULT = _gen_ai.GEN_AI_TOOL_CALL_RESULT
# A span's inputs / outputs as JSON where the conventions have no content attribute (an
# embeddings request, an application step traced with ``otel_bridge.trace``).
SPAN_INPUT = "litellm.span.input"
SPAN_OUTPUT = "litellm.span.output"

SERVER_ADDRESS = _server.SERVER_ADDRESS
SERVER_PORT = _server.SERVER_PORT
ERROR_TYPE = _error.ERROR_TYPE
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"

# Where the conventions are silent.
LITELLM_RESPONSE_COST = "litellm.response_cost"  # USD, as LiteLLM computed it
# true: the usage was counted with LiteLLM's tokenizer (a stream whose provider sent none)
LITELLM_USAGE_ESTIMATED = "litellm.usage.estimated"
LITELLM_REQUEST_TAGS = "litellm.request.tags"  # metadata / litellm_metadata "tags"
LITELLM_REQUEST_TAGS_DROPPED = "litellm.request.tags_dropped"  # tags left out (request.py)
LITELLM_PROVIDER = "litellm.provider"  # LiteLLM's own custom_llm_provider name
LITELLM_MODEL_GROUP = "litellm.router.model_group"  # the model name asked of a Router
LITELLM_MODEL_ID = "litellm.router.model_id"  # the Router deployment's id
LITELLM_API_BASE = "litellm.api_base"  # the deployment's api_base (Router calls)
OPENAI_API_TYPE = "openai.api.type"  # chat_completions | responses (OpenAI conventions)
# The kind of an application step the conventions have no operation for (CHAIN, RETRIEVER...).
SPAN_TYPE = "litellm.span.type"

# Identity and grouping (OpenTelemetry's user and session conventions).
USER_ID = "user.id"
SESSION_ID = "session.id"

# What only the LiteLLM proxy knows: the key the request authenticated with (its hash, never
# the key), its team, user and organisation, and the end user it named.
PROXY_KEY_HASH = "litellm.proxy.key.hash"
PROXY_KEY_ALIAS = "litellm.proxy.key.alias"
PROXY_TEAM_ID = "litellm.proxy.team.id"
PROXY_TEAM_ALIAS = "litellm.proxy.team.alias"
PROXY_USER_ID = "litellm.proxy.user.id"
PROXY_ORG_ID = "litellm.proxy.org.id"
PROXY_ORG_ALIAS = "litellm.proxy.org.alias"
PROXY_END_USER = "litellm.proxy.end_user"
LITELLM_CALL_ID = "litellm.call_id"
# The instrumentation scope of the proxy callback's spans (whose request tags come from clients).
PROXY_SCOPE = "otel_bridge.proxy"
# The instrumentor's scope (its spans and every GenAI metric of the process's own calls and steps).
INSTRUMENTATION_SCOPE = "otel_bridge.instrumentation.litellm"

# The attributes that carry message content: stripped from the spans bound for a destination
# whose content policy says no.
CONTENT_ATTRIBUTES: frozenset[str] = frozenset(
    {
        INPUT_MESSAGES,
        OUTPUT_MESSAGES,
        SYSTEM_INSTRUCTIONS,
        TOOL_DEFINITIONS,
        TOOL_CALL_ARGUMENTS,
        TOOL_CALL_RESULT,
        _gen_ai.GEN_AI_RETRIEVAL_QUERY_TEXT,
        _gen_ai.GEN_AI_RETRIEVAL_DOCUMENTS,
        SPAN_INPUT,
        SPAN_OUTPUT,
    }
)
