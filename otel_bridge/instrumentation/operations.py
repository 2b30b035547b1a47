"""The LiteLLM calls the instrumentation wraps, and what each one is in the GenAI conventions."""

from __future__ import annotations

from dataclasses import dataclass

CHAT = "chat"
TEXT_COMPLETION = "text_completion"
EMBEDDINGS = "embeddings"
RESPONSES = "responses"
IMAGE = "image"

# gen_ai.operation.name per kind. Image generation has no value of its own in the conventions:
# it is recorded as "generate_content" with gen_ai.output.type="image" (MLflow types it LLM).
OPERATION_NAMES = {
    CHAT: "chat",
    TEXT_COMPLETION: "text_completion",
    EMBEDDINGS: "embeddings",
    RESPONSES: "chat",
    IMAGE: "generate_content",
}


@dataclass(frozen=True)
class Operation:
    """One wrapped LiteLLM function."""

    name: str  # the litellm function name, e.g. "acompletion"
    kind: str  # CHAT, TEXT_COMPLETION, EMBEDDINGS, RESPONSES or IMAGE
    is_async: bool
    positional: tuple[str, ...]  # parameter names of the sync signature, for positional args

    @property
    def operation_name(self) -> str:
        return OPERATION_NAMES[self.kind]


_CHAT_ARGS = ("model", "messages")
_TEXT_ARGS = ("prompt", "model")
_EMBED_ARGS = ("model", "input")
_RESPONSES_ARGS = ("input", "model")
_IMAGE_ARGS = ("prompt", "model")

OPERATIONS: tuple[Operation, ...] = (
    Operation("completion", CHAT, False, _CHAT_ARGS),
    Operation("acompletion", CHAT, True, _CHAT_ARGS),
    Operation("text_completion", TEXT_COMPLETION, False, _TEXT_ARGS),
    Operation("atext_completion", TEXT_COMPLETION, True, _TEXT_ARGS),
    Operation("embedding", EMBEDDINGS, False, _EMBED_ARGS),
    Operation("aembedding", EMBEDDINGS, True, _EMBED_ARGS),
    Operation("responses", RESPONSES, False, _RESPONSES_ARGS),
    Operation("aresponses", RESPONSES, True, _RESPONSES_ARGS),
    Operation("image_generation", IMAGE, False, _IMAGE_ARGS),
    Operation("aimage_generation", IMAGE, True, _IMAGE_ARGS),
)
