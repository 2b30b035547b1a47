"""The MLflow transport, connected on first use by the destination's own thread.

Connecting is what costs: for the embedded store MLflow is imported (~2 s) and its SQL store
opened (minutes of MLflow's own retries when the database does not answer); for a server the
experiment is resolved and the OTLP route probed. None of it may run on the application's
thread, so building the destination does nothing but check what is cheap to check.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from otel_bridge.config import ConfigError, MlflowSettings
from otel_bridge.exporters.retry import RejectedError, RetryableError, RetryPolicy
from otel_bridge.redaction import mask_url

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from .transports import Transport

_logger = logging.getLogger(__name__)

# A failed connection is not tried again for this long: the batch that was waiting behind it
# fails at once (kept), and the destination's backoff decides the next attempt.
_FAILURE_KEPT = 1.0


class MlflowConnection:
    """A :class:`~otel_bridge.exporters.delivery.Transport` that connects on first use."""

    def __init__(self, settings: MlflowSettings, policy: RetryPolicy) -> None:
        self._settings = settings
        self._policy = policy
        self._lock = threading.Lock()
        self._inner: Transport | None = None
        self._failure: tuple[float, ConfigError] | None = None
        self.experiment_id: str | None = None

    def connect(self) -> Transport:
        """Open the store or probe the server, once; raises :class:`ConfigError` (an
        :class:`Unreachable` one when the server did not answer)."""
        with self._lock:
            if self._inner is not None:
                return self._inner
            failure = self._failure
            if failure is not None and time.monotonic() - failure[0] < _FAILURE_KEPT:
                raise failure[1]
            try:
                self._inner = self._open()
            except ConfigError as error:
                self._failure = (time.monotonic(), error)
                raise
            self._failure = None
            return self._inner

    def ready(self) -> None:
        """:meth:`connect`, failing as a send fails: :class:`RetryableError` while the server
        cannot be reached, :class:`RejectedError` when it (or the store) refuses."""
        try:
            self.connect()
        except ConfigError as error:
            from .server_check import Unreachable

            if isinstance(error, Unreachable):
                raise RetryableError(str(error)) from None
            raise RejectedError(str(error), "configuration") from None

    def _open(self) -> Transport:
        # Imported here: the embedded store needs neither requests nor the server's checks.
        from .experiments import probe_server, resolve_experiment_id
        from .transports import ServerTransport, StoreTransport

        settings = self._settings
        if settings.embedded:
            experiment_id = resolve_experiment_id(settings)
            inner: Transport = StoreTransport(settings, experiment_id)
            where = f"store {mask_url(settings.tracking_uri)}"
        else:
            traits = probe_server(settings)
            experiment_id = traits.experiment_id
            inner = ServerTransport(
                settings,
                experiment_id,
                self._policy,
                compress=traits.gzip,
                one_trace_per_request=traits.one_trace_per_request,
            )
            where = f"server {mask_url(settings.tracking_uri)}"
        self.experiment_id = experiment_id
        _logger.info("otel-bridge: MLflow %s ready, experiment %s", where, experiment_id)
        return inner

    def send(self, request: ExportTraceServiceRequest, deadline: float, **options: str) -> object:
        self.ready()
        assert self._inner is not None
        return self._inner.send(request, deadline, **options)

    def after_fork(self) -> None:
        self._lock = threading.Lock()  # the parent's may have been held by its thread
        if self._inner is not None:
            self._inner.after_fork()

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
