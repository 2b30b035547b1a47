"""Span attribute names: the GenAI semantic conventions, plus the few extras this bridge adds.

Extras (where the conventions are silent) are namespaced ``litellm.*`` or are MLflow's own keys.
"""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import server_attributes as _server

from otel_bridge.content_keys import MLFLOW_SPAN_INPUTS, MLFLOW_SPAN_OUTPUTS

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
USAGE_CACHE_CREATION_INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
USAGE_REASONING_OUTPUT_TOKENS = _gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
EMBEDDINGS_DIMENSION_COUNT = _gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT
CONVERSATION_ID = _gen_ai.GEN_AI_CONVERSATION_ID
AGENT_NAME = _gen_ai.GEN_AI_AGENT_NAME
TOOL_NAME = _gen_ai.GEN_AI_TOOL_NAME
TOOL_TYPE = _gen_ai.GEN_AI_TOOL_TYPE
TOOL_CALL_ID = _gen_ai.GEN_AI_TOOL_CALL_ID

# Content: written only when content capture is on (see otel_bridge.content_keys).
INPUT_MESSAGES = _gen_ai.GEN_AI_INPUT_MESSAGES
OUTPUT_MESSAGES = _gen_ai.GEN_AI_OUTPUT_MESSAGES
SYSTEM_INSTRUCTIONS = _gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS
TOOL_DEFINITIONS = _gen_ai.GEN_AI_TOOL_DEFINITIONS
TOOL_CALL_ARGUMENTS = _gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS
TOOL_CALL_RESULT = _gen_ai.GEN_AI_TOOL_CALL_RESULT
SPAN_INPUTS = MLFLOW_SPAN_INPUTS
SPAN_OUTPUTS = MLFLOW_SPAN_OUTPUTS

SERVER_ADDRESS = _server.SERVER_ADDRESS
SERVER_PORT = _server.SERVER_PORT
ERROR_TYPE = _error.ERROR_TYPE
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"

# Where the conventions are silent.
LITELLM_RESPONSE_COST = "litellm.response_cost"  # USD, as LiteLLM computed it
LITELLM_REQUEST_TAGS = "litellm.request.tags"  # metadata / litellm_metadata "tags"
LITELLM_REQUEST_TAGS_DROPPED = "litellm.request.tags_dropped"  # tags left out (request.py)
LITELLM_PROVIDER = "litellm.provider"  # LiteLLM's own custom_llm_provider name
LITELLM_MODEL_GROUP = "litellm.router.model_group"  # the model name asked of a Router
LITELLM_MODEL_ID = "litellm.router.model_id"  # the Router deployment's id
LITELLM_API_BASE = "litellm.api_base"  # the deployment's api_base (Router calls)
OPENAI_API_TYPE = "openai.api.type"  # chat_completions | responses (OpenAI conventions)

# Identity and grouping, read by MLflow (see the package README).
USER_ID = "user.id"
SESSION_ID = "session.id"
MLFLOW_TRACE_USER = "mlflow.trace.user"
MLFLOW_TRACE_SESSION = "mlflow.trace.session"
MLFLOW_TRACE_TAG_PREFIX = "mlflow.traceTag."
MLFLOW_SPAN_TYPE = "mlflow.spanType"
