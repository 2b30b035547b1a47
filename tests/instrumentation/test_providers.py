"""LiteLLM provider names to gen_ai.provider.name, and server.address defaults."""

from __future__ import annotations

import litellm
import pytest

from otel_bridge.instrumentation.providers import provider_name, resolve_model, server_of

from .helpers import USER, attrs, one_span


@pytest.mark.parametrize(
    ("litellm_provider", "expected"),
    [
        ("openai", "openai"),
        ("text-completion-openai", "openai"),
        ("azure", "azure.ai.openai"),
        ("azure_ai", "azure.ai.inference"),
        ("anthropic", "anthropic"),
        ("bedrock", "aws.bedrock"),
        ("vertex_ai", "gcp.vertex_ai"),
        ("gemini", "gcp.gemini"),
        ("cohere_chat", "cohere"),
        ("mistral", "mistral_ai"),
        ("groq", "groq"),
        ("deepseek", "deepseek"),
        ("xai", "x_ai"),
        ("perplexity", "perplexity"),
        ("watsonx", "ibm.watsonx.ai"),
        ("hosted_vllm", "hosted_vllm"),  # unknown to the conventions: passed through
        (None, None),
    ],
)
def test_provider_names(litellm_provider, expected):
    assert provider_name(litellm_provider) == expected


def test_resolve_model():
    assert resolve_model("openai/gpt-4o-mini", None) == ("gpt-4o-mini", "openai")
    assert resolve_model("gpt-4o-mini", None) == ("gpt-4o-mini", "openai")
    assert resolve_model("claude-x", "anthropic") == ("claude-x", "anthropic")
    assert resolve_model("bedrock/anthropic.claude-3", None) == ("anthropic.claude-3", "bedrock")


def test_server_of():
    assert server_of("http://127.0.0.1:8080/v1") == ("127.0.0.1", 8080)
    assert server_of("https://example.openai.azure.com") == ("example.openai.azure.com", 443)
    assert server_of("example.com:9000") == ("example.com", 9000)
    assert server_of("") is None


def test_provider_and_default_server_on_span(instrumented, exporter):
    litellm.completion(model="anthropic/claude-3-5-sonnet-latest", messages=USER, mock_response="x")
    a = attrs(one_span(exporter))
    assert a["gen_ai.provider.name"] == "anthropic"
    assert "litellm.provider" not in a  # same as the conventions' name
    assert a["gen_ai.request.model"] == "claude-3-5-sonnet-latest"
    assert a["server.address"] == "api.anthropic.com"
    assert a["server.port"] == 443


def test_litellm_name_kept_when_it_differs(instrumented, exporter):
    litellm.completion(
        model="azure/my-deployment",
        messages=USER,
        mock_response="x",
        api_base="https://example.openai.azure.com",
        api_version="2024-06-01",
        api_key="k",
    )
    a = attrs(one_span(exporter))
    assert a["gen_ai.provider.name"] == "azure.ai.openai"
    assert a["litellm.provider"] == "azure"
    assert a["server.address"] == "example.openai.azure.com"
    assert "openai.api.type" in a
