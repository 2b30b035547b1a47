"""One LiteLLM proxy callback event, read into what the span needs (no OpenTelemetry here).

LiteLLM calls ``async_log_success_event`` / ``async_log_failure_event`` with
``(kwargs, response_obj, start_time, end_time)`` after the call is over: ``kwargs`` is the call's
logging record (``model``, ``messages``, ``optional_params``, ``litellm_params``, ``stream``,
``call_type``, ``completion_start_time``, ``exception`` on failure, ``standard_logging_object``),
``response_obj`` the response (for a stream: the response LiteLLM assembled from its chunks; on
failure: None), the times naive local ``datetime``s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otel_bridge.instrumentation.operations import CHAT, IMAGE, OPERATIONS, Operation
from otel_bridge.proxy import metadata as md

_BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}
_CHAT_OP = _BY_NAME["acompletion"]
_IMAGE_OP = _BY_NAME["aimage_generation"]
# LiteLLM call types that are model calls of a kind the instrumentation knows, beyond its own
# function names: the Anthropic /v1/messages and Google generateContent routes, image edits.
_EXTRA_OPERATIONS: dict[str, Operation] = {
    name: dataclasses.replace(base, name=name)
    for names, base in (
        (
            (
                "anthropic_messages",
                "aanthropic_messages",
                "generate_content",
                "agenerate_content",
                "generate_content_stream",
                "agenerate_content_stream",
            ),
            _CHAT_OP,
        ),
        (("image_edit", "aimage_edit"), _IMAGE_OP),
    )
    for name in names
}
assert _CHAT_OP.kind == CHAT and _IMAGE_OP.kind == IMAGE

# Request parameters the instrumentation's start attributes read (GenAI request attributes,
# output type, tool definitions, instructions). Read from the call's own kwargs first, then from
# the provider-ready ``optional_params``. Nothing else (api keys, headers, ...) is passed on.
REQUEST_PARAMETERS = (
    "temperature",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "seed",
    "stop",
    "n",
    "encoding_format",
    "response_format",
    "text",
    "tools",
    "instructions",
    "conversation",
)


# The tag LiteLLM puts on its own health-check calls (``litellm.constants``).
HEALTH_CHECK_TAG = "litellm-internal-health-check"


def operation_for(call_type: Any) -> Operation | None:
    """The operation of a LiteLLM ``call_type``; None for calls that are not model calls the
    instrumentation traces (file, batch, vector store, rerank, speech... management or
    non-GenAI routes)."""
    if not isinstance(call_type, str):
        return None
    name = call_type.split(".")[-1]  # CallTypes.acompletion when given as an enum's str
    return _BY_NAME.get(name) or _EXTRA_OPERATIONS.get(name)


def epoch_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch of a LiteLLM time: a ``datetime`` (naive ones are local
    time, as LiteLLM takes them with ``datetime.now()``) or seconds as a number."""
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1_000_000) * 1000
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return int(value * 1_000_000) * 1000
    return None


@dataclass
class ProxyEvent:
    op: Operation
    failed: bool
    request: dict[str, Any]  # kwargs in the shape of the LiteLLM call, for start_attributes
    response: Any  # the response object; None on failure
    exception: BaseException | None
    error_class: str | None  # LiteLLM's error class name, when there is no exception object
    error_code: int | None
    error_message: str | None
    stream: bool
    start_ns: int
    end_ns: int
    first_chunk_ns: int | None
    headers: dict[str, str]
    identity: md.Identity
    deployment: md.Deployment
    metadata: md.RequestMetadata
    secrets: frozenset[str]
    call_id: str | None
    response_cost: float | None


def _first(kwargs: Mapping[str, Any], optional: Mapping[str, Any], name: str) -> Any:
    value = kwargs.get(name)
    if value is None:
        value = optional.get(name)
    return value


def _request(
    op: Operation, kwargs: Mapping[str, Any], deployment: md.Deployment, meta: md.RequestMetadata
) -> dict[str, Any]:
    optional = kwargs.get("optional_params")
    optional = optional if isinstance(optional, Mapping) else {}
    params = kwargs.get("litellm_params")
    params = params if isinstance(params, Mapping) else {}
    request: dict[str, Any] = {}
    for name in REQUEST_PARAMETERS:
        value = _first(kwargs, optional, name)
        if value is not None:
            request[name] = value
    model = kwargs.get("model")
    if not isinstance(model, str) or not model:
        model = deployment.model
    if isinstance(model, str) and model:
        request["model"] = model
    provider = kwargs.get("custom_llm_provider") or params.get("custom_llm_provider")
    if isinstance(provider, str) and provider:
        request["custom_llm_provider"] = provider
    if deployment.api_base:
        request["api_base"] = deployment.api_base
    if kwargs.get("stream") or optional.get("stream"):
        request["stream"] = True
    for name in ("messages", "input", "prompt"):
        value = kwargs.get(name)
        if value is not None:
            request[name] = value
    if "prompt" not in request and op.name.endswith(("text_completion", "image_generation")):
        request["prompt"] = kwargs.get("input")
    user = _first(kwargs, optional, "user")
    if isinstance(user, str) and user:
        request["user"] = user
    # The client's metadata, reduced to what the instrumentation reads from it.
    client_md: dict[str, Any] = {"tags": list(meta.tags)}
    if meta.session_id:
        client_md["session_id"] = meta.session_id
    if meta.conversation_id:
        client_md["conversation_id"] = meta.conversation_id
    if meta.user_id:
        client_md["user_id"] = meta.user_id
    request["metadata"] = client_md
    return request


def _status_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def read_event(
    kwargs: Any, response_obj: Any, start_time: Any, end_time: Any, *, failed: bool
) -> ProxyEvent | None:
    """The event of one callback, or None when it is not a model call to trace."""
    if not isinstance(kwargs, Mapping):
        return None
    op = operation_for(kwargs.get("call_type"))
    if op is None:
        return None
    headers = md.request_headers(kwargs)
    if failed and not headers:
        # Refused before it was routed (authentication): LiteLLM hands the callback neither the
        # request's headers nor its tags, so no trace of the caller's can be continued, and no
        # model was called.
        return None
    meta = md.request_metadata(kwargs)
    if HEALTH_CHECK_TAG in meta.tags:
        return None  # the proxy's own health probe of a deployment, not a client's call
    slo = md.standard_logging_object(kwargs)
    deployment = md.deployment(kwargs)

    now = time.time_ns()
    start_ns = epoch_ns(start_time) or epoch_ns(slo.get("startTime")) or now
    end_ns = epoch_ns(end_time) or epoch_ns(slo.get("endTime")) or now
    end_ns = max(end_ns, start_ns)
    stream = bool(kwargs.get("stream"))
    first_chunk_ns = None
    if stream and not failed:
        first_chunk_ns = epoch_ns(kwargs.get("completion_start_time")) or epoch_ns(
            slo.get("completionStartTime")
        )

    exception = kwargs.get("exception") if failed else None
    if not isinstance(exception, BaseException):
        exception = None
    error_class = error_message = None
    error_code = None
    if failed:
        info = slo.get("error_information")
        info = info if isinstance(info, Mapping) else {}
        error_class = md.text_value(info.get("error_class"))
        error_message = md.text_value(slo.get("error_str")) or md.text_value(
            info.get("error_message")
        )
        error_code = _status_code(getattr(exception, "status_code", None)) or _status_code(
            info.get("error_code")
        )

    cost = slo.get("response_cost")
    if cost is None:
        cost = kwargs.get("response_cost")
    return ProxyEvent(
        op=op,
        failed=failed,
        request=_request(op, kwargs, deployment, meta),
        response=None if failed else response_obj,
        exception=exception,
        error_class=error_class,
        error_code=error_code,
        error_message=error_message,
        stream=stream,
        start_ns=start_ns,
        end_ns=end_ns,
        first_chunk_ns=first_chunk_ns,
        headers=headers,
        identity=md.identity(kwargs),
        deployment=deployment,
        metadata=meta,
        secrets=md.known_secrets(kwargs),
        call_id=md.text_value(kwargs.get("litellm_call_id"))
        or md.text_value(slo.get("litellm_call_id")),
        response_cost=float(cost)
        if isinstance(cost, (int, float)) and not isinstance(cost, bool)
        else None,
    )
