"""Another instrumentation active at the same time never makes us emit two spans per call."""

from __future__ import annotations

import asyncio
import logging

import litellm
import pytest

from tests.support.versions import needs_litellm

from .helpers import USER, llm_spans


@pytest.fixture
def litellm_otel_callback(exporter):
    """LiteLLM's own OpenTelemetry callback ("otel"), exporting to the same in-memory exporter."""
    from litellm.integrations.opentelemetry import OpenTelemetry, OpenTelemetryConfig

    logging.getLogger("opentelemetry.sdk.trace").setLevel(logging.ERROR)
    callback = OpenTelemetry(config=OpenTelemetryConfig(exporter=exporter))
    names = [
        "callbacks",
        "success_callback",
        "failure_callback",
        "_async_success_callback",
        "_async_failure_callback",
        "input_callback",
        "service_callback",
    ]
    saved = {name: list(getattr(litellm, name, []) or []) for name in names}
    litellm.callbacks = [callback]
    yield callback
    for name, value in saved.items():  # LiteLLM copies a callback into the other lists
        setattr(litellm, name, value)


@needs_litellm(
    "1.80.6",
    "before it LiteLLM's own callback starts its litellm_request span of a sync call as a root, "
    "outside the caller's trace",
)
def test_with_litellm_otel_callback(instrumented, exporter, litellm_otel_callback):
    litellm.completion(model="openai/gpt-4o-mini", messages=USER, mock_response="x")
    asyncio.run(litellm.acompletion(model="openai/gpt-4o-mini", messages=USER, mock_response="y"))
    ours = llm_spans(exporter)
    assert [s.name for s in ours] == ["chat gpt-4o-mini", "chat gpt-4o-mini"]
    ours_ids = {s.context.span_id for s in ours}
    # LiteLLM's callback finds our span current and hangs its own spans under it, in our trace
    theirs = [s for s in exporter.get_finished_spans() if s not in ours]
    for span in theirs:
        assert span.parent is not None and span.parent.span_id in ours_ids
