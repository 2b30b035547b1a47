"""The wrapt wrappers put around LiteLLM's functions (sync and async) and Router methods."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_bridge.instrumentation.calls import ACTIVE_CALL, LLMCall, Settings, start_call
from otel_bridge.instrumentation.errors import record_error
from otel_bridge.instrumentation.operations import Operation
from otel_bridge.instrumentation.streaming import is_stream, wrap_stream

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]

_attach = otel_context.attach
_detach = otel_context.detach
_set_span_in_context = trace.set_span_in_context


def _succeed(call: LLMCall, result: Any, kwargs: dict[str, Any]) -> Any:
    """Hand the result back: a stream wrapped so the span lives on, anything else ends the span."""
    streamed = False
    try:
        streamed = bool(kwargs.get("stream")) and is_stream(result)
        if streamed and call.recording:
            return wrap_stream(call, result)
    except Exception:
        record_error("stream_wrap")
    # a stream left unproxied (its span is not recorded) has no end to measure: no metrics
    call.end_with_response(result, record_metrics=not streamed)
    return result


async def _await_result(call: LLMCall, awaitable: Any, kwargs: dict[str, Any]) -> Any:
    """A sync entry point that returned a coroutine (``completion(..., acompletion=True)``)."""
    token = ACTIVE_CALL.set(call)
    ctx_token = _attach(_set_span_in_context(call.span))
    try:
        result = await awaitable
    except BaseException as exc:
        call.end_with_error(exc)
        raise
    finally:
        _detach(ctx_token)
        ACTIVE_CALL.reset(token)
    return _succeed(call, result, kwargs)


def sync_wrapper(op: Operation, settings: Settings, router: bool = False) -> Wrapper:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        active = ACTIVE_CALL.get()
        if active is not None:
            active.nested(op, args, kwargs)
            return wrapped(*args, **kwargs)
        if not settings.enabled or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        call = start_call(op, settings, args, kwargs, router, instance)
        if call is None:
            return wrapped(*args, **kwargs)
        token = ACTIVE_CALL.set(call)
        ctx_token = _attach(_set_span_in_context(call.span))
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.end_with_error(exc)
            raise
        finally:
            _detach(ctx_token)
            ACTIVE_CALL.reset(token)
        if inspect.iscoroutine(result):
            return _await_result(call, result, kwargs)
        return _succeed(call, result, kwargs)

    return wrapper


def async_wrapper(op: Operation, settings: Settings, router: bool = False) -> Wrapper:
    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        active = ACTIVE_CALL.get()
        if active is not None:
            active.nested(op, args, kwargs)
            return await wrapped(*args, **kwargs)
        if not settings.enabled or not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        call = start_call(op, settings, args, kwargs, router, instance)
        if call is None:
            return await wrapped(*args, **kwargs)
        token = ACTIVE_CALL.set(call)
        ctx_token = _attach(_set_span_in_context(call.span))
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.end_with_error(exc)
            raise
        finally:
            _detach(ctx_token)
            ACTIVE_CALL.reset(token)
        return _succeed(call, result, kwargs)

    return wrapper


def make_wrapper(op: Operation, settings: Settings, router: bool = False) -> Wrapper:
    return (async_wrapper if op.is_async else sync_wrapper)(op, settings, router)
