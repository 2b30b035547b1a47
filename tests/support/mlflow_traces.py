"""Traces read back from MLflow (a tracking server or the embedded store), waited for: a server
may store a trace well after the app's export gave up on it (see tests/support/polling.py)."""

from __future__ import annotations

from collections.abc import Iterable

from mlflow import MlflowClient
from mlflow.entities import Trace
from mlflow.exceptions import MlflowException

from .polling import DEADLINE, wait_for


def mlflow_trace_id(trace_id: str) -> str:
    """MLflow's id of an OpenTelemetry trace: ``tr-`` and the 32 hex digits."""
    return trace_id if trace_id.startswith("tr-") else f"tr-{trace_id}"


def wait_for_experiment(client: MlflowClient, name: str, timeout: float = DEADLINE) -> str:
    """The id of the experiment called ``name``, once it exists."""
    experiment = wait_for(
        f"experiment {name!r} in MLflow",
        lambda: client.get_experiment_by_name(name),
        lambda found: found is not None,
        timeout=timeout,
        retry_on=(MlflowException,),
    )
    return experiment.experiment_id


def wait_for_traces(
    client: MlflowClient,
    experiment_id: str,
    *,
    spans: int = 1,
    trace_ids: Iterable[str] = (),
    filter_string: str | None = None,
    timeout: float = DEADLINE,
) -> list[Trace]:
    """The experiment's traces (those ``filter_string`` selects) once they hold at least
    ``spans`` spans in all and every trace of ``trace_ids`` (OpenTelemetry's hex or MLflow's
    ``tr-`` ids) is among them."""
    wanted = {mlflow_trace_id(t) for t in trace_ids}

    def landed(traces: list[Trace]) -> bool:
        found = {t.info.trace_id for t in traces}
        return wanted <= found and sum(len(t.data.spans) for t in traces) >= spans

    return wait_for(
        f"{spans} span(s) in experiment {experiment_id}"
        + (f" including traces {sorted(wanted)}" if wanted else "")
        + (f" matching {filter_string!r}" if filter_string else ""),
        lambda: list(
            client.search_traces(
                locations=[experiment_id], filter_string=filter_string, max_results=500
            )
        ),
        landed,
        timeout=timeout,
        retry_on=(MlflowException,),
        describe=lambda traces: repr({t.info.trace_id: len(t.data.spans) for t in traces}),
    )


def wait_for_trace(
    client: MlflowClient, trace_id: str, spans: int, timeout: float = DEADLINE
) -> Trace:
    """The trace ``trace_id`` (OpenTelemetry's hex or MLflow's ``tr-`` id) once ``spans`` of its
    spans landed."""
    wanted = mlflow_trace_id(trace_id)
    return wait_for(
        f"trace {wanted} with {spans} span(s) in MLflow",
        lambda: client.get_trace(wanted),
        lambda trace: len(trace.data.spans) >= spans,
        timeout=timeout,
        retry_on=(MlflowException,),
        describe=lambda trace: f"spans {[s.name for s in trace.data.spans]}",
    )
