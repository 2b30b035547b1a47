"""What semantic-conventions-genai says today, row by row (issue 15): top_k an int, cache writes
renamed, the tool's description, the agent's provider, a Router span's sampling-relevant
attributes at start, one true schema_url on every scope."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

import litellm
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler, SamplingResult

import otel_bridge
from otel_bridge.attributes import SCHEMA_URL
from otel_bridge.instrumentation import LiteLLMInstrumentor, trace
from otel_bridge.instrumentation.operations import CHAT, OPERATIONS
from otel_bridge.instrumentation.request import start_attributes
from otel_bridge.instrumentation.response import usage_attributes

from .helpers import USER, attrs, one_span, server_kwargs


def test_top_k_is_an_int(instrumented, exporter):
    litellm.completion(model="openai/gpt-4o-mini", messages=USER, top_k=40.0, mock_response="x")
    value = attrs(one_span(exporter))["gen_ai.request.top_k"]
    assert value == 40 and type(value) is int


def test_cache_writes_under_their_current_name():
    attrs: dict[str, Any] = {}
    usage = {"prompt_tokens": 30, "completion_tokens": 2, "cache_creation_input_tokens": 25}
    usage_attributes(attrs, usage, CHAT)
    assert attrs["gen_ai.usage.cache_write.input_tokens"] == 25
    assert "gen_ai.usage.cache_creation.input_tokens" not in attrs


def test_ints_an_otlp_attribute_cannot_hold_are_left_out_by_request_and_response_alike():
    op = next(o for o in OPERATIONS if o.name == "completion")
    for seed, kept in ((2**63 - 1, True), (2**63, False), (-(2**63), True), (-(2**63) - 1, False)):
        request, _ = start_attributes(op, (), {"model": "gpt-4o-mini", "seed": seed}, False, 100)
        attrs: dict[str, Any] = {}
        usage_attributes(attrs, {"prompt_tokens": seed, "completion_tokens": True}, CHAT)
        assert ("gen_ai.request.seed" in request) is kept, seed
        assert ("gen_ai.usage.input_tokens" in attrs) is kept, seed
        assert "gen_ai.usage.output_tokens" not in attrs  # a bool is no count


def test_tool_description_is_the_docstrings_first_line(instrumented, exporter):
    @trace(span_type="TOOL")
    def lookup(city: str) -> str:
        """Look up the weather of a city.

        Long explanation that is not the description.
        """
        return "sunny"

    @trace(span_type="TOOL")
    def undocumented() -> None:
        return None

    lookup("Oslo")
    undocumented()
    spans = {s.name: attrs(s) for s in exporter.get_finished_spans()}
    assert spans["execute_tool lookup"]["gen_ai.tool.description"] == (
        "Look up the weather of a city."
    )
    assert "gen_ai.tool.description" not in spans["execute_tool undocumented"]


def test_agent_takes_the_provider_of_its_model_calls(instrumented, exporter):
    @trace(span_type="TOOL")
    def think() -> None:  # the model call is a grandchild of the agent
        litellm.completion(
            model="anthropic/claude-3-5-haiku-latest", messages=USER, mock_response="x"
        )

    @trace(span_type="AGENT", name="helper")
    def agent() -> None:
        think()
        litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="y")

    @trace(span_type="AGENT", name="declared", attributes={"gen_ai.provider.name": "mistral_ai"})
    def declared() -> None:
        litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="y")

    @trace(span_type="AGENT", name="idle")
    def idle() -> None:
        return None

    agent()
    declared()
    idle()
    spans = {s.name: attrs(s) for s in exporter.get_finished_spans()}
    assert spans["invoke_agent helper"]["gen_ai.provider.name"] == "anthropic"  # the first call
    assert spans["invoke_agent declared"]["gen_ai.provider.name"] == "mistral_ai"
    assert "gen_ai.provider.name" not in spans["invoke_agent idle"]


def _deployment(group: str, model: str, **params: Any) -> dict[str, Any]:
    return {"model_name": group, "litellm_params": {"model": model, **params}}


class _Recorder(Sampler):
    """Keeps the attributes each span had when it started (what a sampler decides on)."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, Any]] = {}

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Sequence[Any] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        self.seen[name] = dict(attributes or {})
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

    def get_description(self) -> str:
        return "recorder"


@pytest.fixture
def recorded():
    sampler = _Recorder()
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=False)
    yield sampler, exporter
    instrumentor.uninstrument()
    provider.shutdown()


def test_router_span_has_sampling_attributes_at_start(recorded, openai_server):
    sampler, exporter = recorded
    router = litellm.Router(
        model_list=[
            _deployment("gpt", "openai/gpt-4o-mini", **server_kwargs(openai_server)),
            _deployment("gpt", "openai/gpt-4o", **server_kwargs(openai_server)),
        ],
        num_retries=0,
    )
    router.completion(model="gpt", messages=USER)
    start = sampler.seen["chat gpt"]
    assert start["gen_ai.operation.name"] == "chat"
    assert start["gen_ai.request.model"] == "gpt"
    assert start["gen_ai.provider.name"] == "openai"
    assert start["server.address"] == "127.0.0.1"
    assert start["server.port"] == openai_server.port
    assert attrs(one_span(exporter))["gen_ai.request.model"] in ("gpt-4o-mini", "gpt-4o")


def test_router_deployments_that_disagree_name_no_provider_at_start(recorded, openai_server):
    sampler, _ = recorded
    router = litellm.Router(
        model_list=[
            _deployment("mixed", "openai/gpt-4o-mini", **server_kwargs(openai_server)),
            _deployment("mixed", "anthropic/claude-3-5-haiku-latest", api_key="k"),
        ],
        num_retries=0,
    )
    router.completion(model="mixed", messages=USER, mock_response="x")
    assert "gen_ai.provider.name" not in sampler.seen["chat mixed"]


def test_every_scope_names_one_schema(instrumented, exporter):
    @trace(span_type="AGENT")
    def agent() -> None:
        litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="x")

    agent()
    scopes = {
        s.instrumentation_scope.name: s.instrumentation_scope for s in exporter.get_finished_spans()
    }
    assert set(scopes) == {"otel_bridge.trace", "otel_bridge.instrumentation.litellm"}
    assert {scope.schema_url for scope in scopes.values()} == {SCHEMA_URL}
    assert SCHEMA_URL == "https://opentelemetry.io/schemas/1.45.0"
    # the package's one version, as installed (pyproject.toml reads it from otel_bridge/version.py)
    assert {scope.version for scope in scopes.values()} == {otel_bridge.__version__}
    assert otel_bridge.__version__ == importlib.metadata.version("otel-bridge")
