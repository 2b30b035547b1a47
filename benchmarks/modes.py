"""What each benchmarked mode turns on, in the worker process, before the measured calls.

Every instrumentor exports into the same kind of provider: one ``BatchSpanProcessor`` (default
settings) in front of an exporter that drops what it is given, so the rows compare the work done
on the application's side, not a backend. The exceptions say so: the bridge's whole pipeline
exports to live destinations, and ``mlflow.litellm.autolog()`` exports through MLflow's own
processors into a local SQLite store (MLflow's provider cannot take another exporter).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Finish = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Mode:
    name: str
    label: str
    peer: bool = False  # needs benchmarks/.venv-peers
    content: bool = True  # has a content capture switch
    destinations: bool = False  # needs the OTLP sink and an MLflow destination
    # False: the mode calls functools.reduce itself while a call runs, and functools.reduce is
    # the harness's callgrind collection toggle, so its instruction counts would be wrong
    callgrind: bool = True
    default: bool = True  # False: runs only when named in --modes


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("baseline", "bare litellm.completion (mock_response)", content=False),
        Mode("floor", "bare OTel SDK span, same attribute count (floor)"),
        Mode("bridge", "otel-bridge LiteLLMInstrumentor"),
        Mode("pipeline", "otel-bridge configure(): OTLP + MLflow live", destinations=True),
        Mode(
            "pipeline_metrics",
            "otel-bridge configure(): OTLP + MLflow live, GenAI metrics on",
            destinations=True,
        ),
        Mode(
            "pipeline_metrics_inline",
            "otel-bridge configure(), GenAI metrics recorded on the app's thread",
            destinations=True,
            default=False,  # the cost the hand-off removes: measured on request
        ),
        Mode("openinference", "openinference-instrumentation-litellm", peer=True),
        Mode("openllmetry", "opentelemetry-instrumentation-litellm (OpenLLMetry)", peer=True),
        Mode("util_genai", "opentelemetry-util-genai TelemetryHandler (as builder)", peer=True),
        Mode("litellm_otel", 'LiteLLM callbacks=["otel"]', peer=True, callgrind=False),
        Mode(
            "mlflow_autolog",
            "mlflow.litellm.autolog()",
            peer=True,
            content=False,
            callgrind=False,
        ),
    )
}
PEERS = tuple(name for name, m in MODES.items() if m.peer and m.default)
NO_PEERS = tuple(name for name, m in MODES.items() if not m.peer and m.default)
FLUSH_TIMEOUT_S = 120  # configure()'s flush at a mode's end, once its calls are measured


def dropping_provider() -> Any:
    """A TracerProvider with one default BatchSpanProcessor whose exporter drops everything."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class DroppingExporter(SpanExporter):
        def __init__(self) -> None:
            self.spans = 0

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            self.spans += len(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    exporter = DroppingExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    provider._bench_exporter = exporter  # type: ignore[attr-defined]
    return provider


def _flushed(provider: Any) -> Finish:
    def finish() -> dict[str, Any]:
        provider.force_flush()
        return {"exported_spans": provider._bench_exporter.spans}

    return finish


def setup(name: str, content: bool, env: dict[str, Any]) -> tuple[Finish, Any]:
    """Turn mode ``name`` on. Returns (finish, floor): ``finish()`` flushes and reports; ``floor``
    is the floor's per-variant span recipe, None for every other mode."""
    if name == "baseline":
        return (dict, None)
    if name == "floor":
        return _floor(content)
    if name == "bridge":
        from otel_bridge.instrumentation import LiteLLMInstrumentor

        provider = dropping_provider()
        LiteLLMInstrumentor().instrument(tracer_provider=provider, capture_content=content)
        return (_flushed(provider), None)
    if name in ("pipeline", "pipeline_metrics", "pipeline_metrics_inline"):
        finish = _pipeline(content, env, metrics=name != "pipeline")
        if name == "pipeline_metrics_inline":
            _record_on_the_app_thread()
        return (finish, None)
    if name == "openinference":
        from openinference.instrumentation import TraceConfig
        from openinference.instrumentation.litellm import LiteLLMInstrumentor as OILiteLLM

        provider = dropping_provider()
        config = TraceConfig(hide_inputs=not content, hide_outputs=not content)
        OILiteLLM().instrument(tracer_provider=provider, config=config)
        return (_flushed(provider), None)
    if name == "util_genai":
        from benchmarks import util_genai

        provider = dropping_provider()
        recipes = _recipes(content=False)
        util_genai.instrument(content, provider, {v: r.attributes for v, r in recipes.items()})
        return (_flushed(provider), None)
    if name == "openllmetry":
        # read when its instrumentor runs; "false" keeps prompts and completions out
        os.environ["TRACELOOP_TRACE_CONTENT"] = "true" if content else "false"
        from opentelemetry.instrumentation.litellm import LiteLLMInstrumentor as TLLiteLLM

        provider = dropping_provider()
        TLLiteLLM().instrument(tracer_provider=provider)
        return (_flushed(provider), None)
    if name == "litellm_otel":
        import litellm
        from opentelemetry import trace

        # LiteLLM's callback uses the global SDK provider when there is one
        provider = dropping_provider()
        trace.set_tracer_provider(provider)
        litellm.turn_off_message_logging = not content
        litellm.callbacks = ["otel"]
        return (_flushed(provider), None)
    if name == "mlflow_autolog":
        return (_mlflow_autolog(env), None)
    raise ValueError(f"unknown mode {name!r}")


def _pipeline(content: bool, env: dict[str, Any], metrics: bool = False) -> Finish:
    os.environ["OTEL_SERVICE_NAME"] = "otel-bridge-benchmark"
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = env["otlp_endpoint"]
    os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "grpc"
    if metrics:  # the GenAI histograms to the same receiver: what one OTLP endpoint turns on
        os.environ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = env["otlp_endpoint"]
        os.environ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] = "grpc"
    os.environ["MLFLOW_TRACKING_URI"] = env["mlflow_uri"]
    os.environ["MLFLOW_EXPERIMENT_NAME"] = "otel-bridge-benchmark"
    # content on: the default policy (content to MLflow only); off: to no destination
    os.environ["OTEL_BRIDGE_CONTENT_DESTINATIONS"] = "mlflow" if content else "none"
    import otel_bridge

    bridge = otel_bridge.configure()

    def finish() -> dict[str, Any]:
        # returns once delivered; the bound is for a machine busy with other work, where the
        # MLflow server took over 10 s to take a batch (a smoke run then saw nothing exported)
        bridge.force_flush(timeout=FLUSH_TIMEOUT_S)
        stats = bridge.stats()
        metrics = bridge.metrics
        flushed = metrics.force_flush(FLUSH_TIMEOUT_S) if metrics is not None else None
        bridge.shutdown(timeout=5)
        return {"destinations": stats, "metrics_flushed": flushed}

    return finish


def _record_on_the_app_thread() -> None:
    """Undo configure()'s metrics hand-off: each call records its histograms itself, through the
    SDK, as the instrumentor alone does (what configure() did before the hand-off)."""
    from otel_bridge.instrumentation import LiteLLMInstrumentor
    from otel_bridge.instrumentation.metrics import MetricsHandoff

    settings = LiteLLMInstrumentor()._settings  # a BaseInstrumentor is a singleton
    assert settings is not None and isinstance(settings.metrics, MetricsHandoff)
    settings.metrics = settings.metrics.metrics


def _mlflow_autolog(env: dict[str, Any]) -> Finish:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{env['workdir']}/autolog.db")
    mlflow.set_experiment("otel-bridge-benchmark-autolog")
    mlflow.litellm.autolog()

    def finish() -> dict[str, Any]:
        with contextlib.suppress(Exception):
            mlflow.flush_trace_async_logging()
        return {}

    return finish


@dataclass
class FloorSpan:
    name: str
    attributes: dict[str, Any]


def _floor(content: bool) -> tuple[Finish, dict[str, FloorSpan]]:
    """The bridge's span for each variant, recorded once; then bare spans with those attributes."""
    recipes = _recipes(content)
    provider = dropping_provider()
    floor = {
        variant: FloorSpan(recipe.name, recipe.attributes) for variant, recipe in recipes.items()
    }
    floor["_tracer"] = provider.get_tracer("benchmarks.floor")  # type: ignore[assignment]
    return (_flushed(provider), floor)


def _recipes(content: bool) -> dict[str, FloorSpan]:
    """The bridge's span for each variant: one call each, recorded in memory."""
    import asyncio

    import litellm
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from benchmarks.workload import VARIANTS, call_kwargs
    from otel_bridge.instrumentation import LiteLLMInstrumentor

    memory = InMemorySpanExporter()
    recorder = TracerProvider()
    recorder.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument(tracer_provider=recorder, capture_content=content)
    recipes: dict[str, FloorSpan] = {}
    try:
        for variant in VARIANTS:
            memory.clear()
            kwargs = call_kwargs(variant)
            if variant == "async":
                asyncio.run(litellm.acompletion(**kwargs))
            else:
                result = litellm.completion(**kwargs)
                if kwargs.get("stream"):
                    for _ in result:
                        pass
            [span] = memory.get_finished_spans()
            recipes[variant] = FloorSpan(span.name, dict(span.attributes or {}))
    finally:
        instrumentor.uninstrument()
    return recipes
