"""``LiteLLMInstrumentor``: patches LiteLLM's call surface, and puts it back.

What is patched (each with one ``wrapt.FunctionWrapper``; ``uninstrument()`` puts the very same
original objects back):

* ``litellm.<fn>`` for completion, acompletion, text_completion, atext_completion, embedding,
  aembedding, responses, aresponses, image_generation, aimage_generation: every call written
  ``litellm.completion(...)`` and every call LiteLLM's Router makes (it looks them up on the
  ``litellm`` module at call time);
* the same name in the module that defines it (``litellm.main``, ``litellm.images.main``,
  ``litellm.chat_completions.dispatch``...), and in ``litellm.main``: calls through those modules;
* where LiteLLM routes a public entry through a module-level hook (``_PYTHON_COMPLETION`` and
  kin in ``litellm.<route>.dispatch``), that hook too: this is what makes a
  ``from litellm import completion`` done *before* ``instrument()`` traced as well (chat
  completions, embeddings and responses; not text_completion or image_generation, whose early
  imported function objects cannot be reached: instrument before importing them);
* ``litellm.Router`` methods of the same names: one span per Router call.

A call made while another instrumented call is in progress in the same context (LiteLLM calling
itself, the Router calling ``litellm.acompletion``) opens no second span (a ContextVar guard); for
a Router call it records the deployment tried instead.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.trace import TracerProvider, get_tracer

from otel_bridge import attributes as keys
from otel_bridge.content_policy import content_policy_from_env
from otel_bridge.instrumentation import runtime
from otel_bridge.instrumentation.calls import Settings
from otel_bridge.instrumentation.content import DEFAULT_MAX_CONTENT_LENGTH
from otel_bridge.instrumentation.errors import record_error
from otel_bridge.instrumentation.metrics import GenAIMetrics, MetricsHandoff, MetricsRecorder
from otel_bridge.instrumentation.operations import OPERATIONS, Operation
from otel_bridge.instrumentation.wrappers import make_wrapper
from otel_bridge.redaction import install_log_scrubbing
from otel_bridge.version import __version__

_INSTRUMENTS = ("litellm >= 1.74",)
SCOPE_NAME = keys.INSTRUMENTATION_SCOPE


_MISSING = object()


class _Patch:
    """One replaced attribute: ``home.attribute`` held ``original`` (``_MISSING``: nothing of its
    own) and now holds ``proxy``; ``owner`` is the object the replacement was made through."""

    __slots__ = ("attribute", "home", "original", "owner", "proxy")

    def __init__(self, owner: Any, home: Any, attribute: str, original: Any, proxy: Any):
        self.owner = owner
        self.home = home
        self.attribute = attribute
        self.original = original
        self.proxy = proxy

    def restore(self) -> None:
        home, attribute = self.home, self.attribute
        if isinstance(home, type):
            if vars(home).get(attribute) is not self.proxy:
                return  # replaced again by someone else since: leave theirs in place
            if self.original is _MISSING:
                delattr(self.owner, attribute)
            else:
                setattr(home, attribute, self.original)
        elif getattr(home, attribute, None) is self.proxy:
            setattr(home, attribute, self.original)


def _static_home(classes: list[type], attribute: str) -> type | None:
    for cls in classes:
        for klass in cls.__mro__:
            if attribute in vars(klass):
                return klass
    return None


def _function_targets(name: str) -> list[tuple[Any, str]]:
    import litellm

    targets: list[tuple[Any, str]] = [(litellm, name)]
    public = getattr(litellm, name, None)
    home = sys.modules.get(getattr(public, "__module__", "") or "")
    if home is not None and home is not litellm:
        targets.append((home, name))
        hook = f"_PYTHON_{name.upper()}"
        if callable(getattr(home, hook, None)):
            targets.append((home, hook))
    main = sys.modules.get("litellm.main")
    if main is not None and main is not home and callable(getattr(main, name, None)):
        targets.append((main, name))
    return targets


def _router_operation(op: Operation, method: Any) -> Operation:
    """The op with the Router method's own positional parameter order, when it declares one."""
    try:
        params = [
            p.name
            for p in inspect.signature(method).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
        ]
    except (TypeError, ValueError):
        return op
    return dataclasses.replace(op, positional=tuple(params)) if params else op


# opentelemetry-instrumentation's instrumentor module opts out of type checking (a top-level
# "# type: ignore"): mypy sees no BaseInstrumentor in it, and the base class is Any.
class LiteLLMInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """OpenTelemetry GenAI spans for every LiteLLM call.

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None,
    max_content_length=None)``: the providers default to the global ones (the GenAI client
    metrics go through the metrics API: without a MeterProvider they cost next to nothing);
    ``capture_content=None`` captures only when the content policy lets content reach the
    OTLP destination (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` or
    ``OTEL_BRIDGE_CONTENT_DESTINATIONS`` naming ``otlp``): without the bridge's pipeline no
    exporter strips content per destination. ``otel_bridge.configure()`` passes its own choice;
    ``max_content_length`` bounds each content attribute (default 64 KiB).
    """

    _patches: list[_Patch]
    _settings: Settings | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def instrument(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool | None = None,
        max_content_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Patch LiteLLM; a second call while instrumented does nothing."""
        super().instrument(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            capture_content=capture_content,
            max_content_length=max_content_length,
            **kwargs,
        )

    def uninstrument(self, **kwargs: Any) -> None:
        """Put every patched attribute back (the very same original objects)."""
        super().uninstrument(**kwargs)

    def _instrument(self, **kwargs: Any) -> None:
        install_log_scrubbing()  # the instrumentation's own log lines may quote a failed call
        tracer_provider = kwargs.get("tracer_provider")
        capture = kwargs.get("capture_content")
        if capture is None:
            # Not under otel-bridge's pipeline (e.g. opentelemetry-instrument): nothing strips
            # content per destination, so capture only when the OTLP side may receive it.
            capture = content_policy_from_env().otlp
        max_length = kwargs.get("max_content_length") or DEFAULT_MAX_CONTENT_LENGTH
        tracer = get_tracer(SCOPE_NAME, __version__, tracer_provider, schema_url=keys.SCHEMA_URL)
        meter = get_meter(
            SCOPE_NAME, __version__, kwargs.get("meter_provider"), schema_url=keys.SCHEMA_URL
        )
        # otel_bridge.configure(): its destinations' workers serialise the content, and its
        # metrics pipeline records the histograms from the values a call queues in the handoff
        registry = kwargs.get("_content_registry")
        recorder = GenAIMetrics(meter)
        metrics: MetricsRecorder | None = recorder
        handoff: MetricsHandoff | None = kwargs.get("_metrics_handoff")
        if handoff is not None:
            handoff.metrics, metrics = recorder, handoff
        elif kwargs.get("_record_metrics") is False:  # configure(): no MeterProvider to record to
            metrics = None
        settings = Settings(tracer, bool(capture), int(max_length), registry, metrics)
        self._settings = settings
        self._patches = []
        runtime.tracer_provider = tracer_provider
        runtime.capture_content = bool(capture)
        runtime.max_content_length = int(max_length)
        runtime.metrics = metrics

        for op in OPERATIONS:
            wrapper = make_wrapper(op, settings)
            for owner, attribute in _function_targets(op.name):
                self._patch(owner, attribute, wrapper)
        self._patch_router(settings)

    def _patch(self, owner: Any, attribute: str, wrapper: Any) -> None:
        """Replace ``owner.attribute`` (a module function) by a wrapt proxy of it."""
        try:
            original = getattr(owner, attribute, None)
            if original is None or not callable(original) or _is_ours(original):
                return
            proxy = _proxy(original, wrapper)
            setattr(owner, attribute, proxy)
            self._patches.append(_Patch(owner, owner, attribute, original, proxy))
        except Exception:
            record_error("patch")

    def _patch_method(self, owner: type, cores: list[type], attribute: str, wrapper: Any) -> None:
        """Replace a method where it is defined: on ``owner``'s classes or, for a facade class
        that serves its methods from a core class (LiteLLM's Router), on the core's."""
        try:
            home = _static_home([owner, *cores], attribute)
            if home is not None:
                original = vars(home)[attribute]
                if _is_ours(original) or not callable(original):
                    return
                proxy = _proxy(original, wrapper)
                setattr(home, attribute, proxy)
                self._patches.append(_Patch(owner, home, attribute, original, proxy))
                return
            served = getattr(owner, attribute, None)  # an endpoint served by name
            if served is None or not callable(served) or _is_ours(served):
                return
            proxy = _proxy(served, wrapper)
            setattr(owner, attribute, proxy)
            landed = next(
                (k for c in [owner, *cores] for k in c.__mro__ if vars(k).get(attribute) is proxy),
                None,
            )
            if landed is None:  # cannot tell where it went, so could not undo it: undo now
                delattr(owner, attribute)
                return
            self._patches.append(_Patch(owner, landed, attribute, _MISSING, proxy))
        except Exception:
            record_error("patch")

    def _patch_router(self, settings: Settings) -> None:
        try:
            import litellm

            router = litellm.Router
        except Exception:
            return
        for op in OPERATIONS:
            try:
                method = getattr(router, op.name, None)  # may import the Router's core module
            except Exception:
                method = None
            if method is None:
                continue
            wrapper = make_wrapper(_router_operation(op, method), settings, router=True)
            self._patch_method(router, _router_cores(), op.name, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._settings is not None:
            self._settings.enabled = False
        for patch in reversed(getattr(self, "_patches", [])):
            try:
                patch.restore()
            except Exception:
                record_error("unpatch")
        self._patches = []
        runtime.tracer_provider = None
        runtime.capture_content = None
        runtime.max_content_length = None
        runtime.metrics = None


def _router_cores() -> list[type]:
    """Classes that LiteLLM's Router facade (1.110+) serves its methods from."""
    core = getattr(sys.modules.get("litellm.router_rust.core"), "RustCore", None)
    return [core] if isinstance(core, type) else []


def _proxy(original: Any, wrapper: Any) -> wrapt.FunctionWrapper[..., Any]:
    proxy = wrapt.FunctionWrapper(original, wrapper)
    # wrapt keeps _self_* attributes on the proxy itself; its stubs declare no __setattr__.
    proxy._self_otel_bridge = True  # type: ignore[attr-defined]
    return proxy


def _is_ours(obj: Any) -> bool:
    return isinstance(obj, wrapt.FunctionWrapper) and bool(getattr(obj, "_self_otel_bridge", False))
