"""The MLflow transport, connected on first use by the destination's own thread.

Connecting is what costs: for the embedded store MLflow is imported (~2 s) and its SQL store
opened (minutes of MLflow's own retries when the database does not answer); for a server the
experiment is resolved and the OTLP route probed. None of it may run on the application's
thread, so building the destination does nothing but check what is cheap to check.

Three hazards of importing on a thread of one's own, all met here: MLflow imported by two
threads at once breaks in its circular imports (the top-level package is imported first: it
waits for the application's import under way); a thread stopped by the interpreter's exit in
the middle of an import holds locks that an import at exit (a ``__del__``) then waits for
forever; and a process forked then holds them in the child forever. So the exit and a fork
wait for the imports under way: ``atexit`` (after the bridge's own shutdown, registered later),
or ``close()`` when ``close_waits`` (a plain SDK pipeline shuts its exporter down at exit after
this connection's ``atexit`` ran).
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import threading
import time
import weakref
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

# What connecting to the embedded store imports, the top-level package first (see above).
_STORE_MODULES = (
    "mlflow",
    "mlflow.tracking",
    "mlflow.tracing.client",
    "mlflow.store.tracking.sqlalchemy_store",
    "alembic.command",  # the store's schema migrations
    "alembic.config",
)


class MlflowConnection:
    """A :class:`~otel_bridge.exporters.delivery.Transport` that connects on first use."""

    def __init__(
        self,
        settings: MlflowSettings,
        policy: RetryPolicy,
        *,
        exit_wait: float = 5.0,
        close_waits: bool = True,
    ) -> None:
        self._settings = settings
        self._policy = policy
        self._exit_wait = exit_wait
        self._close_waits = close_waits
        self._lock = threading.Lock()
        self._inner: Transport | None = None
        self._failure: tuple[float, ConfigError] | None = None
        self.experiment_id: str | None = None
        self._init_phase()
        ref = weakref.ref(self)
        atexit.register(_wait_for_connecting, ref, True)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=lambda: _wait_for_connecting(ref, False))

    def _init_phase(self) -> None:
        self._phase_changed = threading.Condition()
        self._phase: str | None = None  # "importing", then "opening", while connecting
        self._exiting = False

    def _set_phase(self, phase: str | None) -> None:
        with self._phase_changed:
            if phase == "importing" and self._exiting:
                raise RetryableError("the process is ending: MLflow is not loaded any more")
            self._phase = phase
            self._phase_changed.notify_all()

    def wait_for_connecting(self, *, opening_too: bool) -> None:
        """Until a connection under way has finished importing, and (``opening_too``) opening
        the embedded store, for at most ``exit_wait`` seconds (a new store left half made would
        stay broken; a store that does not answer must not hold the exit for minutes)."""
        opening_too = opening_too and self._settings.embedded
        with self._phase_changed:
            while self._phase == "importing":
                self._phase_changed.wait()
            deadline = time.monotonic() + self._exit_wait
            while opening_too and self._phase == "opening" and time.monotonic() < deadline:
                self._phase_changed.wait(max(0.0, deadline - time.monotonic()))

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
        self._set_phase("importing")
        try:
            self._import_what_it_needs()
            self._set_phase("opening")
            return self._open_imported()
        finally:
            self._set_phase(None)

    def _import_what_it_needs(self) -> None:
        # The embedded store needs neither requests nor the server's checks, and a server no
        # MLflow: each imports its own, here.
        settings = self._settings
        names = list(_STORE_MODULES) if settings.embedded else []
        if settings.embedded and settings.tracking_uri.startswith("sqlite"):
            names.append("sqlalchemy.dialects.sqlite")
        try:
            for name in names:
                importlib.import_module(name)
            from . import experiments, transports  # noqa: F401
        except ImportError as error:
            raise ConfigError(
                "MLFLOW_TRACKING_URI",
                self._settings.tracking_uri,
                f"MLflow cannot be loaded ({error}); pip install 'otel-bridge[mlflow]'",
            ) from None

    def _open_imported(self) -> Transport:
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

    def send(self, request: ExportTraceServiceRequest, deadline: float, **options: str) -> None:
        self.ready()
        assert self._inner is not None
        self._inner.send(request, deadline, **options)  # MLflow reports no partial success

    def after_fork(self) -> None:
        self._lock = threading.Lock()  # the parent's may have been held by its thread
        self._init_phase()
        if self._inner is not None:
            self._inner.after_fork()

    def close(self) -> None:
        """No connecting from now on; with ``close_waits``, the one under way is waited for."""
        with self._phase_changed:
            self._exiting = True
        if self._close_waits:
            self.wait_for_connecting(opening_too=True)
        if self._inner is not None:
            self._inner.close()


def _wait_for_connecting(connection: weakref.ref[MlflowConnection], opening_too: bool) -> None:
    alive = connection()
    if alive is not None:
        alive.wait_for_connecting(opening_too=opening_too)
