"""Traces started while the app has an active MLflow run are linked to that run.

MLflow's active run is per thread (``mlflow.active_run()``), and spans are exported on a
worker thread: so the run is read on the app's thread when a trace's root span starts, and kept
beside the span (:data:`RUN_LINKS`, never on it: no other destination receives it) until the
MLflow destination writes it on its copy of the root as :data:`RUN_ID_ATTRIBUTE`
(:mod:`.dialect`). At export the spans are grouped by the run of their trace's root, and each
group is sent with the run id: the server links the traces whose root is in a request carrying
``x-mlflow-run-id``; the local store links them itself.

Cheap by construction: one dictionary look-up per root span, and nothing at all (MLflow is
never imported here) unless the app itself imported MLflow's fluent API.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_bridge.exporters.spans import is_root

RUN_ID_ATTRIBUTE = "otel_bridge.mlflow.run_id"
_FLUENT = "mlflow.tracking.fluent"  # where mlflow.active_run lives


class RunLinks:
    """The run of each root span started under one, from its start until the MLflow destination
    takes it. Bounded: a root that never reaches that destination (dropped, or sampled out) is
    forgotten, the oldest first. Each operation is one call on an ``OrderedDict`` (atomic under
    the GIL): no lock for a fork to leave held."""

    def __init__(self, limit: int = 16384) -> None:
        self._links: OrderedDict[tuple[int, int], str] = OrderedDict()
        self._limit = limit

    def put(self, span: ReadableSpan, run_id: str) -> None:
        context = span.context
        if context is None:
            return
        self._links[(context.trace_id, context.span_id)] = run_id
        while len(self._links) > self._limit:
            try:
                self._links.popitem(last=False)
            except KeyError:
                break

    def pop(self, span: ReadableSpan) -> str | None:
        context = span.context
        if context is None:
            return None
        return self._links.pop((context.trace_id, context.span_id), None)


RUN_LINKS = RunLinks()


class ActiveRunProcessor(SpanProcessor):
    """Notes, for each root span, the id of the MLflow run active on the starting thread."""

    def __init__(self, links: RunLinks = RUN_LINKS) -> None:
        self._links = links

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if not is_root(span):
            return  # not a root: its trace's root carries the run
        fluent = sys.modules.get(_FLUENT)
        if fluent is None:
            return
        try:
            run = fluent.active_run()
            run_id = run.info.run_id if run is not None else None
        except Exception:  # a half-imported or unexpected MLflow: never break the app
            return
        if run_id:
            self._links.put(span, str(run_id))

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def run_of(span: ReadableSpan) -> str | None:
    """The run a root span was started under, as the MLflow destination wrote it on the root
    (None for other spans)."""
    if not is_root(span):
        return None
    value = (span.attributes or {}).get(RUN_ID_ATTRIBUTE)
    return str(value) if value else None


def split_by_run(spans: Sequence[ReadableSpan]) -> list[tuple[str | None, list[ReadableSpan]]]:
    """The spans in one group per run of the roots among them (one group when no root has a run).

    Only root spans decide: a request with ``x-mlflow-run-id`` links exactly the traces whose
    root it carries, so a root without a run never travels with a run's roots, and spans that
    are not roots ride along with the first group.
    """
    roots: dict[str | None, list[ReadableSpan]] = {}
    others: list[ReadableSpan] = []
    for span in spans:
        if is_root(span):
            roots.setdefault(run_of(span), []).append(span)
        else:
            others.append(span)
    if not roots or list(roots) == [None]:
        return [(None, list(spans))]
    groups = list(roots.items())
    groups[0][1].extend(others)
    return groups
