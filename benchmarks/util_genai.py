"""The ``util_genai`` mode: what a LiteLLM instrumentation built on ``opentelemetry-util-genai``'s
``TelemetryHandler`` does per call, to price util-genai as the bridge's span/metric builder.

Issue 15 asked whether the bridge should build its spans and metrics with util-genai (1.3b0)
instead of by hand. This patches ``litellm.completion`` / ``litellm.acompletion`` with plain
wrappers that, per call, open ``handler.inference(...)`` (1.3b0's form of the older
``start_llm(LLMInvocation)``), give the invocation the values the bridge's span carries for the
same call (operation, provider, request and response model, server, response id, finish
reasons, usage, ``openai.api.type`` and ``litellm.response_cost``; the messages as util-genai's
``InputMessage`` / ``OutputMessage`` when content is captured), and ``stop()`` it: util-genai
then sets the attributes, serialises the content on the calling thread, and records its
duration and token histograms through the metrics API. Streams go through util-genai's own
``SyncStreamWrapper`` (chunk timings per chunk, as its instrumentations do).

What it leaves out is the LiteLLM-specific reading every instrumentation needs whatever builds
the span (the provider and server from LiteLLM's model resolution, Router deployments, the
request's parameters and metadata): those values are taken once, like the floor's, from the
bridge's own span for the same call. So this mode is a lower bound of an instrumentation on
util-genai; the bridge's own mode pays for all of that reading.
"""

from __future__ import annotations

from typing import Any


def instrument(content: bool, provider: Any, recipes: dict[str, Any]) -> None:
    """Patch LiteLLM. ``recipes``: variant -> the bridge's start attributes for that call."""
    import functools
    import os

    # read when the handler is built: SPAN_ONLY is util-genai's "content on the span"
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = (
        "SPAN_ONLY" if content else "NO_CONTENT"
    )
    import litellm
    from opentelemetry.util.genai.handler import TelemetryHandler
    from opentelemetry.util.genai.stream import SyncStreamWrapper
    from opentelemetry.util.genai.types import InputMessage, OutputMessage, Text

    handler = TelemetryHandler(
        tracer_provider=provider, instrumentation_scope_name="benchmarks.util_genai"
    )
    capture = handler.should_capture_content()
    start = recipes["plain"]
    provider_name = start["gen_ai.provider.name"]
    address, port = start.get("server.address"), start.get("server.port")
    api_type = start.get("openai.api.type")

    def begin(kwargs: dict[str, Any]) -> Any:
        invocation = handler.inference(
            provider_name,
            request_model=kwargs["model"],
            server_address=address,
            server_port=port,
        )
        if api_type:
            invocation.attributes["openai.api.type"] = api_type
        if capture:
            invocation.input_messages = [
                InputMessage(role=m["role"], parts=[Text(content=m["content"])])
                for m in kwargs["messages"]
            ]
        return invocation

    def finish(invocation: Any, response: Any) -> Any:
        invocation.response_id = response.id
        invocation.response_model_name = response.model
        reasons = [choice.finish_reason for choice in response.choices]
        invocation.finish_reasons = reasons
        usage = getattr(response, "usage", None)
        if usage is not None:
            invocation.input_tokens = usage.prompt_tokens
            invocation.output_tokens = usage.completion_tokens
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
        if isinstance(cost, float):
            invocation.attributes["litellm.response_cost"] = cost
        if capture:
            invocation.output_messages = [
                OutputMessage(
                    role="assistant",
                    parts=[Text(content=choice.message.content or "")],
                    finish_reason=choice.finish_reason,
                )
                for choice in response.choices
            ]
        invocation.stop()
        return response

    class Stream(SyncStreamWrapper):  # type: ignore[misc]
        def __init__(self, stream: Any, invocation: Any) -> None:
            super().__init__(stream, invocation)
            self._self_parts: list[str] = []
            self._self_reasons: list[str] = []

        def _process_chunk(self, chunk: Any) -> None:
            invocation = self._self_invocation
            if invocation.response_id is None:
                invocation.response_id = chunk.id
                invocation.response_model_name = chunk.model
            for choice in chunk.choices:
                if choice.finish_reason:
                    self._self_reasons.append(choice.finish_reason)
                if capture and choice.delta.content:
                    self._self_parts.append(choice.delta.content)

        def _on_stream_end(self) -> None:
            invocation = self._self_invocation
            invocation.finish_reasons = self._self_reasons
            if capture:
                invocation.output_messages = [
                    OutputMessage(
                        role="assistant",
                        parts=[Text(content="".join(self._self_parts))],
                        finish_reason=(self._self_reasons or ["stop"])[-1],
                    )
                ]
            invocation.stop()

        def _on_stream_error(self, error: BaseException) -> None:
            self._self_invocation.fail(error)

    completion, acompletion = litellm.completion, litellm.acompletion

    @functools.wraps(completion)
    def traced_completion(*args: Any, **kwargs: Any) -> Any:
        invocation = begin(kwargs)
        try:
            result = completion(*args, **kwargs)
        except BaseException as error:
            invocation.fail(error)
            raise
        if kwargs.get("stream"):
            invocation.suspend()  # the caller's own work is not parented under the call's span
            return Stream(result, invocation)
        return finish(invocation, result)

    @functools.wraps(acompletion)
    async def traced_acompletion(*args: Any, **kwargs: Any) -> Any:
        invocation = begin(kwargs)
        try:
            result = await acompletion(*args, **kwargs)
        except BaseException as error:
            invocation.fail(error)
            raise
        return finish(invocation, result)

    litellm.completion = traced_completion
    litellm.acompletion = traced_acompletion
