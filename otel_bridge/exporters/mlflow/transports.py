"""How encoded spans reach MLflow: a tracking server over OTLP/HTTP, or the local store."""

from __future__ import annotations

import functools
import gzip
import logging
import threading
import time
from typing import Protocol

import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_bridge.config import MLFLOW_EXPERIMENT_HEADER, OTLP_TRACES_PATH, MlflowSettings
from otel_bridge.exporters.retry import (
    RejectedError,
    RetryableError,
    RetryPolicy,
    call_with_retry,
    http_error,
)

from .http_client import mlflow_session

_logger = logging.getLogger(__name__)

MLFLOW_RUN_HEADER = "x-mlflow-run-id"  # the server links the request's traces to this run


__all__ = ["RejectedError", "ServerTransport", "StoreTransport", "Transport"]


class Transport(Protocol):
    def send(
        self, request: ExportTraceServiceRequest, deadline: float, run_id: str | None = None
    ) -> None:
        """Deliver the spans; with ``run_id``, link the traces whose root is among them."""

    def after_fork(self) -> None: ...

    def close(self) -> None: ...


class ServerTransport:
    """OTLP/HTTP protobuf to ``<tracking-uri>/v1/traces``, the MLflow server's OTLP door;
    gzip-compressed unless the server cannot decode it (MLflow 3.5 and 3.6), one request per
    trace for a server that stores no more (``one_trace_per_request``: MLflow 3.5)."""

    def __init__(
        self,
        settings: MlflowSettings,
        experiment_id: str,
        policy: RetryPolicy,
        *,
        compress: bool = True,
        one_trace_per_request: bool = False,
    ) -> None:
        self.url = settings.tracking_uri + OTLP_TRACES_PATH
        self.compress = compress
        self.one_trace_per_request = one_trace_per_request
        self._settings = settings
        self._headers = {
            "Content-Type": "application/x-protobuf",
            MLFLOW_EXPERIMENT_HEADER: experiment_id,
        }
        if compress:
            self._headers["Content-Encoding"] = "gzip"
        self._session = self._new_session()
        self._policy = policy
        self._stop = threading.Event()

    def _new_session(self) -> requests.Session:
        session = mlflow_session(self._settings)
        session.headers.update(self._headers)
        return session

    def after_fork(self) -> None:
        """In a forked child: its own connections, not the parent's."""
        self._session = self._new_session()

    def send(
        self, request: ExportTraceServiceRequest, deadline: float, run_id: str | None = None
    ) -> None:
        headers = {MLFLOW_RUN_HEADER: run_id} if run_id else None
        # A trace sent again after a later one failed is stored once: the server ignores it.
        for part in by_trace(request) if self.one_trace_per_request else [request]:
            body = part.SerializeToString()
            if self.compress:
                body = gzip.compress(body, compresslevel=5)
            call_with_retry(
                functools.partial(self._post, body, deadline, headers),
                deadline=deadline,
                policy=self._policy,
                stop=self._stop,
            )

    def _post(self, body: bytes, deadline: float, headers: dict[str, str] | None = None) -> None:
        timeout = max(0.5, deadline - time.monotonic())
        try:
            response = self._session.post(self.url, data=body, headers=headers, timeout=timeout)
        except requests.RequestException as error:
            raise RetryableError(f"{type(error).__name__} posting to {self.url}") from None
        if response.status_code < 300:
            return
        detail = f"HTTP {response.status_code} from {self.url}: {response.text[:300]}"
        raise http_error(response.status_code, detail, response.headers.get("Retry-After"))

    def close(self) -> None:
        self._stop.set()
        self._session.close()


def by_trace(request: ExportTraceServiceRequest) -> list[ExportTraceServiceRequest]:
    """One request per trace, each span under its own resource and scope."""
    parts: dict[bytes, ExportTraceServiceRequest] = {}
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            scopes: dict[bytes, object] = {}
            for span in scope_spans.spans:
                part = parts.get(span.trace_id)
                if part is None:
                    part = parts[span.trace_id] = ExportTraceServiceRequest()
                if span.trace_id not in scopes:
                    resource = part.resource_spans.add()
                    resource.resource.CopyFrom(resource_spans.resource)
                    resource.schema_url = resource_spans.schema_url
                    scope = resource.scope_spans.add()
                    scope.scope.CopyFrom(scope_spans.scope)
                    scope.schema_url = scope_spans.schema_url
                    scopes[span.trace_id] = scope
                scopes[span.trace_id].spans.add().CopyFrom(span)  # type: ignore[attr-defined]
    return list(parts.values())


_MAX_LINKS_PER_CALL = 100  # MLflow's limit per link_traces_to_run call


class StoreTransport:
    """No server: MLflow's own OTLP conversion, run in-process, into the local store."""

    def __init__(self, settings: MlflowSettings, experiment_id: str) -> None:
        from mlflow.tracing.client import TracingClient

        self._client = TracingClient(settings.tracking_uri)
        self._experiment_id = experiment_id

    def send(
        self, request: ExportTraceServiceRequest, deadline: float, run_id: str | None = None
    ) -> None:
        from mlflow.entities import Span

        spans: list[Span] = []
        try:
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    spans.extend(
                        Span.from_otel_proto(span, resource=resource_spans.resource)
                        for span in scope_spans.spans
                    )
        except Exception as error:
            raise RejectedError(f"MLflow cannot convert the spans: {error}") from None
        self._client.log_spans(self._experiment_id, spans)
        if run_id:
            self._link(run_id, [span.trace_id for span in spans if span.parent_id is None])

    def _link(self, run_id: str, trace_ids: list[str]) -> None:
        """As the server does for ``x-mlflow-run-id``: a failed link loses no span, so warn."""
        try:
            for start in range(0, len(trace_ids), _MAX_LINKS_PER_CALL):
                chunk = trace_ids[start : start + _MAX_LINKS_PER_CALL]
                self._client.store.link_traces_to_run(chunk, run_id)
        except Exception as error:
            _logger.warning("MLflow: traces not linked to run %s: %s", run_id, error)

    def after_fork(self) -> None:
        """In a forked child: an SQLite connection must not be used on both sides of a fork
        (sqlite.org/howtocorrupt.html). The pooled ones are the parent's: dropped here without
        being closed, and the child opens its own."""
        engine = getattr(self._client.store, "engine", None)
        if engine is not None:
            engine.dispose(close=False)

    def close(self) -> None:
        pass
