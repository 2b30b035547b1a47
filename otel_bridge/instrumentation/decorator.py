"""``trace``: spans for the application's own steps (agents, tools, chains), in the same trace.

    @trace
    def get_action(response): ...

    @trace(span_type="AGENT")
    def run(self, query): ...

    with trace(name="lookup", span_type="TOOL") as span:
        ...

Span types: ``AGENT`` -> ``invoke_agent {name}`` (``gen_ai.operation.name=invoke_agent``,
``gen_ai.agent.name``); ``TOOL`` -> ``execute_tool {name}`` (``gen_ai.tool.name``,
``gen_ai.tool.call.id`` from a ``tool_call_id`` keyword argument, and as content
``gen_ai.tool.call.arguments`` / ``gen_ai.tool.call.result``); any other type (CHAIN, RETRIEVER,
LLM, PARSER, EMBEDDING, RERANKER, UNKNOWN, ...) -> ``litellm.span.type`` and, as content,
``litellm.span.input`` / ``litellm.span.output`` (JSON); AGENT spans carry those two as well. The
MLflow destination turns them into MLflow's span type and the span's inputs and outputs.

AGENT and TOOL steps record the conventions' ``gen_ai.invoke_agent.duration`` /
``gen_ai.execute_tool.duration`` (the span's own duration; ``error.type`` when it raised) through
the instrumentor's metrics recorder (the global MeterProvider when not instrumented). A TOOL
step run under an AGENT step carries the agent's ``gen_ai.agent.name``.

Content is written only when capture is on (``capture_content``; None follows the instrumentor,
else ``content_policy_from_env().any``). Exceptions are recorded (status ERROR, ``error.type``)
and re-raised unchanged. Sync, async, generator and async-generator functions are supported; a
generator's span lasts until it is exhausted or closed, and the function's span is the current
span only while its own code runs.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.metrics import get_meter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from otel_bridge import attributes as keys
from otel_bridge.content_policy import content_policy_from_env
from otel_bridge.instrumentation import agents, runtime
from otel_bridge.instrumentation.content import DEFAULT_MAX_CONTENT_LENGTH, to_json
from otel_bridge.instrumentation.errors import record_error
from otel_bridge.instrumentation.exceptions import record_exception
from otel_bridge.instrumentation.metrics import GenAIMetrics, MetricsRecorder
from otel_bridge.redaction import MASK, call_secrets, is_secret_name
from otel_bridge.version import __version__

F = TypeVar("F", bound=Callable[..., Any])

AGENT = "AGENT"
TOOL = "TOOL"
_MAX_ITEMS = 1000  # generator items kept for the span's outputs
_cached: tuple[object, Tracer | None] = (object(), None)  # a provider and its tracer
_global_metrics: GenAIMetrics | None = None


def _tracer() -> Tracer:
    """The tracer of the provider ``instrument()`` was given (the global one otherwise)."""
    global _cached
    provider = runtime.tracer_provider
    cached_provider, tracer = _cached
    if cached_provider is not provider or tracer is None:
        tracer = otel_trace.get_tracer(
            "otel_bridge.trace", __version__, provider, schema_url=keys.SCHEMA_URL
        )
        _cached = (provider, tracer)
    return tracer


def _metrics() -> MetricsRecorder:
    """The instrumentor's recorder (under ``configure()`` its handoff), else the histograms on
    the global MeterProvider (a proxy until the application sets one)."""
    global _global_metrics
    recorder = runtime.metrics
    if recorder is not None:
        return recorder
    if _global_metrics is None:
        meter = get_meter(keys.INSTRUMENTATION_SCOPE, __version__, schema_url=keys.SCHEMA_URL)
        _global_metrics = GenAIMetrics(meter)
    return _global_metrics


def _capture(explicit: bool | None) -> bool:
    if explicit is not None:
        return explicit
    if runtime.capture_content is not None:
        return runtime.capture_content
    try:
        return content_policy_from_env().any
    except Exception:
        record_error("content_policy")
        return False


def _masked(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments named like credentials (``api_key``, ``password``...) never recorded."""
    if any(is_secret_name(name) for name in arguments):
        return {k: MASK if is_secret_name(k) else v for k, v in arguments.items()}
    return arguments


def _max_length() -> int:
    return runtime.max_content_length or DEFAULT_MAX_CONTENT_LENGTH


class _Run:
    """A step in progress: its span, start attributes and start time (for its duration)."""

    __slots__ = ("attrs", "span", "start_ns")

    def __init__(self, span: Span, attrs: dict[str, Any], start_ns: int) -> None:
        self.span = span
        self.attrs = attrs
        self.start_ns = start_ns


class _Step:
    """One traced step: how to name it, what to put on its span at start and at end."""

    __slots__ = ("attributes", "capture", "description", "name", "signature", "span_type")

    def __init__(
        self,
        name: str | None,
        span_type: str,
        attributes: Mapping[str, Any] | None,
        capture: bool | None,
    ) -> None:
        self.name = name
        self.span_type = (span_type or "UNKNOWN").upper()
        self.attributes = dict(attributes) if attributes else None
        self.capture = capture
        self.signature: inspect.Signature | None = None
        self.description: str | None = None  # a TOOL function's docstring, first line

    def context(self, run: _Run) -> otel_context.Context:
        agent = run.attrs.get(keys.AGENT_NAME) if self.span_type == AGENT else None
        return agents.context_for(run.span, agent)

    def span_name(self, name: str) -> str:
        if self.span_type == AGENT:
            return f"invoke_agent {name}"
        if self.span_type == TOOL:
            return f"execute_tool {name}"
        return name

    def start(self, name: str, inputs: Callable[[], Any] | None, kwargs: Mapping[str, Any]) -> _Run:
        attrs: dict[str, Any] = {}
        capture = _capture(self.capture)
        kind = SpanKind.INTERNAL
        try:
            if self.span_type == AGENT:
                attrs[keys.OPERATION_NAME] = "invoke_agent"
                attrs[keys.AGENT_NAME] = name
            elif self.span_type == TOOL:
                attrs[keys.OPERATION_NAME] = "execute_tool"
                attrs[keys.TOOL_NAME] = name
                attrs[keys.TOOL_TYPE] = "function"
                agent = agents.current_agent_name()
                if agent is not None:
                    attrs[keys.AGENT_NAME] = agent
                if self.description:
                    attrs[keys.TOOL_DESCRIPTION] = self.description
                call_id = kwargs.get("tool_call_id")
                if call_id is not None:
                    attrs[keys.TOOL_CALL_ID] = str(call_id)
            else:
                attrs[keys.SPAN_TYPE] = self.span_type
            if self.attributes:
                attrs.update(self.attributes)
            if capture and inputs is not None:
                key = keys.TOOL_CALL_ARGUMENTS if self.span_type == TOOL else keys.SPAN_INPUT
                attrs[key] = to_json(inputs(), _max_length())
        except Exception:
            record_error("trace_start")
        start_ns = time.time_ns()
        span = _tracer().start_span(
            self.span_name(name), kind=kind, attributes=attrs, start_time=start_ns
        )
        return _Run(span, attrs, start_ns)

    def _end(self, run: _Run, error_type: str | None = None) -> None:
        """End the span; an AGENT or TOOL step records its duration (the span's own)."""
        end_ns = time.time_ns()
        if self.span_type == AGENT or self.span_type == TOOL:
            try:
                _metrics().record(run.attrs, {}, (end_ns - run.start_ns) / 1e9, error_type)
            except Exception:
                record_error("trace_metrics")
        run.span.end(end_time=end_ns)

    def finish(self, run: _Run, result: Any, has_result: bool) -> None:
        span = run.span
        try:
            if has_result and _capture(self.capture):
                key = keys.TOOL_CALL_RESULT if self.span_type == TOOL else keys.SPAN_OUTPUT
                span.set_attribute(key, to_json(result, _max_length()))
        except Exception:
            record_error("trace_end")
        self._end(run)

    def fail(
        self,
        run: _Run,
        exc: BaseException,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        span = run.span
        try:
            span.set_attribute(keys.ERROR_TYPE, type(exc).__qualname__)
            record_exception(span, exc, self.secrets_of(args, kwargs or {}))
        except Exception:
            record_error("trace_error")
            with contextlib.suppress(Exception):
                span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
        self._end(run, type(exc).__qualname__)

    # -- decorating ------------------------------------------------------------------------

    def default_name(self, func: Callable[..., Any]) -> str:
        if self.name:
            return self.name
        qualname = getattr(func, "__qualname__", "") or ""
        qualname = qualname.rsplit(".<locals>.", 1)[-1]
        if self.span_type == AGENT and "." in qualname:
            return qualname.rsplit(".", 1)[0]  # a method: the agent is its class
        return getattr(func, "__name__", None) or "step"

    def secrets_of(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> set[str]:
        """Values of the credential-named arguments (``api_key=...``): masked in the exception."""
        named: dict[str, Any] = dict(kwargs)
        if args and self.signature is not None:
            with contextlib.suppress(TypeError):
                named.update(self.signature.bind_partial(*args, **kwargs).arguments)
        return call_secrets(named)

    def inputs_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], Any]:
        def inputs() -> Any:
            signature = self.signature
            if signature is None:
                return {"args": list(args), "kwargs": _masked(kwargs)}
            try:
                bound = signature.bind_partial(*args, **kwargs)
            except TypeError:
                return {"args": list(args), "kwargs": _masked(kwargs)}
            values = dict(bound.arguments)
            for name in ("self", "cls"):
                values.pop(name, None)
            for name, param in signature.parameters.items():
                if param.kind is param.VAR_KEYWORD and name in values:
                    values.update(values.pop(name))
            if self.span_type == TOOL:
                values.pop("tool_call_id", None)  # recorded as gen_ai.tool.call.id
            return _masked(values)

        return inputs

    def decorate(self, func: F) -> F:
        try:
            self.signature = inspect.signature(func)
        except (TypeError, ValueError):
            self.signature = None
        name = self.default_name(func)
        doc = inspect.getdoc(func)
        if doc and doc.strip():
            self.description = doc.strip().splitlines()[0].strip()
        step = self

        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                run = step.start(name, step.inputs_of(args, kwargs), kwargs)
                items: list[Any] = []
                agen = func(*args, **kwargs)
                sent: Any = None
                thrown: BaseException | None = None
                while True:
                    token = otel_context.attach(step.context(run))
                    try:
                        if thrown is not None:
                            item = await agen.athrow(thrown)
                        else:
                            item = await agen.asend(sent)
                    except StopAsyncIteration:
                        step.finish(run, items, True)
                        return
                    except BaseException as exc:
                        step.fail(run, exc, args, kwargs)
                        raise
                    finally:
                        otel_context.detach(token)
                    if len(items) < _MAX_ITEMS:
                        items.append(item)
                    try:
                        sent, thrown = (yield item), None
                    except GeneratorExit:
                        await agen.aclose()
                        step.finish(run, items, True)
                        raise
                    except BaseException as exc:
                        sent, thrown = None, exc

            return agen_wrapper  # type: ignore[return-value]

        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                run = step.start(name, step.inputs_of(args, kwargs), kwargs)
                items: list[Any] = []
                gen = func(*args, **kwargs)
                sent: Any = None
                thrown: BaseException | None = None
                while True:
                    token = otel_context.attach(step.context(run))
                    try:
                        item = gen.throw(thrown) if thrown is not None else gen.send(sent)
                    except StopIteration as stop:
                        step.finish(run, items, True)
                        return stop.value
                    except BaseException as exc:
                        step.fail(run, exc, args, kwargs)
                        raise
                    finally:
                        otel_context.detach(token)
                    if len(items) < _MAX_ITEMS:
                        items.append(item)
                    try:
                        sent, thrown = (yield item), None
                    except GeneratorExit:
                        gen.close()
                        step.finish(run, items, True)
                        raise
                    except BaseException as exc:
                        sent, thrown = None, exc

            return gen_wrapper  # type: ignore[return-value]

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                run = step.start(name, step.inputs_of(args, kwargs), kwargs)
                token = otel_context.attach(step.context(run))
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    step.fail(run, exc, args, kwargs)
                    raise
                finally:
                    otel_context.detach(token)
                step.finish(run, result, True)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            run = step.start(name, step.inputs_of(args, kwargs), kwargs)
            token = otel_context.attach(step.context(run))
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                step.fail(run, exc, args, kwargs)
                raise
            finally:
                otel_context.detach(token)
            step.finish(run, result, True)
            return result

        return wrapper  # type: ignore[return-value]


class _Trace:
    """What ``trace(...)`` returns without a function: a decorator and a context manager."""

    def __init__(self, step: _Step) -> None:
        self._step = step
        self._active: list[tuple[_Run, object]] = []

    def __call__(self, func: F) -> F:
        return self._step.decorate(func)

    def __enter__(self) -> Span:
        step = self._step
        run = step.start(step.name or step.span_type.lower(), None, {})
        token = otel_context.attach(step.context(run))
        self._active.append((run, token))
        return run.span

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        run, token = self._active.pop()
        otel_context.detach(token)  # type: ignore[arg-type]
        if exc is not None:
            self._step.fail(run, exc)
        else:
            self._step.finish(run, None, False)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)


@overload
def trace(func: F) -> F: ...


@overload
def trace(
    func: None = None,
    *,
    name: str | None = None,
    span_type: str = "CHAIN",
    attributes: Mapping[str, Any] | None = None,
    capture_content: bool | None = None,
) -> _Trace: ...


def trace(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    span_type: str = "CHAIN",
    attributes: Mapping[str, Any] | None = None,
    capture_content: bool | None = None,
) -> Any:
    """Trace a function (``@trace``, ``@trace(span_type="AGENT")``) or a block
    (``with trace(name="step", span_type="TOOL") as span:``). See the module docstring."""
    step = _Step(name, span_type, attributes, capture_content)
    if func is not None:
        return step.decorate(func)
    return _Trace(step)
