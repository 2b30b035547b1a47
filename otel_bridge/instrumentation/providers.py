"""LiteLLM provider names to the conventions' ``gen_ai.provider.name``; server endpoints."""

from __future__ import annotations

from urllib.parse import urlsplit

from otel_bridge.instrumentation.content import utf8_safe

# LiteLLM custom_llm_provider -> gen_ai.provider.name. Unknown providers pass through unchanged.
PROVIDER_NAMES: dict[str, str] = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "chatgpt": "openai",
    "azure": "azure.ai.openai",
    "azure_text": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "anthropic": "anthropic",
    "anthropic_text": "anthropic",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "mistral": "mistral_ai",
    "codestral": "mistral_ai",
    "text-completion-codestral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "watsonx": "ibm.watsonx.ai",
    "watsonx_text": "ibm.watsonx.ai",
}

# Default public endpoints, used for server.address/port when no api_base is known.
DEFAULT_SERVERS: dict[str, tuple[str, int]] = {
    "openai": ("api.openai.com", 443),
    "text-completion-openai": ("api.openai.com", 443),
    "anthropic": ("api.anthropic.com", 443),
    "gemini": ("generativelanguage.googleapis.com", 443),
    "cohere": ("api.cohere.ai", 443),
    "cohere_chat": ("api.cohere.ai", 443),
    "mistral": ("api.mistral.ai", 443),
    "groq": ("api.groq.com", 443),
    "deepseek": ("api.deepseek.com", 443),
    "xai": ("api.x.ai", 443),
    "perplexity": ("api.perplexity.ai", 443),
}

_CACHE_LIMIT = 1024
_model_cache: dict[tuple[str, str | None], tuple[str, str | None]] = {}
_server_cache: dict[str, tuple[str, int | None] | None] = {}


def provider_name(litellm_provider: str | None) -> str | None:
    if not litellm_provider:
        return None
    return PROVIDER_NAMES.get(litellm_provider, litellm_provider)


def resolve_model(model: str, custom_llm_provider: str | None) -> tuple[str, str | None]:
    """(model name as sent to the provider, LiteLLM provider) for a LiteLLM model string.

    ``openai/gpt-4o`` -> (``gpt-4o``, ``openai``); ``gpt-4o`` -> (``gpt-4o``, ``openai``) through
    LiteLLM's own resolution. Cached: the hot path pays one dict lookup.
    """
    key = (model, custom_llm_provider)
    hit = _model_cache.get(key)
    if hit is not None:
        return hit
    result = _resolve_model(model, custom_llm_provider)
    if len(_model_cache) >= _CACHE_LIMIT:
        _model_cache.clear()
    _model_cache[key] = result
    return result


def _resolve_model(model: str, custom_llm_provider: str | None) -> tuple[str, str | None]:
    try:
        import litellm

        prefix, sep, rest = model.partition("/")
        if sep and custom_llm_provider is None and prefix in litellm.provider_list:
            return rest, prefix
        resolved_model, provider, _key, _base = litellm.get_llm_provider(
            model=model, custom_llm_provider=custom_llm_provider
        )
        return str(resolved_model), str(provider) if provider else custom_llm_provider
    except Exception:
        prefix, sep, rest = model.partition("/")
        if sep and custom_llm_provider in (None, prefix):
            return rest, prefix
        return model, custom_llm_provider


def server_of(api_base: str) -> tuple[str, int | None] | None:
    """(host, port) of an api_base URL; None if it has no host. Cached."""
    if api_base in _server_cache:
        return _server_cache[api_base]
    try:
        parts = urlsplit(api_base if "//" in api_base else "//" + api_base)
        host = parts.hostname
        port = parts.port
        if port is None and parts.scheme in ("http", "https"):
            port = 443 if parts.scheme == "https" else 80
        result = (host if host.isascii() else utf8_safe(host), port) if host else None
    except Exception:
        result = None
    if len(_server_cache) >= _CACHE_LIMIT:
        _server_cache.clear()
    _server_cache[api_base] = result
    return result


def default_server(litellm_provider: str | None) -> tuple[str, int] | None:
    if not litellm_provider:
        return None
    return DEFAULT_SERVERS.get(litellm_provider)
