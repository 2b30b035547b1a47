"""Per-destination loss accounting: every span is exported, spooled, or dropped with a reason.

For the spans this process made, at any moment after a flush or shutdown::

    received == exported_live + spooled + dropped(queue_full, rejected_invalid, unavailable,
                                                  shutdown_deadline, export_error, spool_error)

``replayed`` spans (sent from the spool, perhaps written by an earlier process) are counted in
``exported`` too; ``spool_full`` and ``spool_corrupt`` drops are of spans spooled before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import TypedDict

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_logger = logging.getLogger("otel_bridge")

# Why a span was dropped.
QUEUE_FULL = "queue_full"  # the destination's in-memory queue was full: the oldest span went
REJECTED_INVALID = "rejected_invalid"  # the destination refused these very spans (400/422)
# and the spool's own: spool_full, spool_corrupt, spool_error (otel_bridge.spool)
SHUTDOWN_DEADLINE = "shutdown_deadline"  # still queued or in flight when the deadline passed
UNAVAILABLE = "unavailable"  # the destination could not take them and the spool is off
EXPORT_ERROR = "export_error"  # an unexpected error while preparing or sending them

WARNING_INTERVAL = 30.0  # seconds between two drop warnings of one destination


class SpoolLevel(TypedDict):
    files: int
    spans: int
    bytes: int
    corrupt_files: int


class StatsSnapshot(TypedDict):
    """A destination's counts (:meth:`otel_bridge.Bridge.stats`)."""

    received: int
    exported: int
    replayed: int
    spooled: int
    refused: int
    dropped: int
    dropped_by_reason: dict[str, int]
    spool: SpoolLevel


class DestinationStats:
    def __init__(self, name: str = "", warning_interval: float = WARNING_INTERVAL) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._received = 0
        self._exported = 0
        self._replayed = 0
        self._spooled = 0
        self._refused = 0
        self._dropped: Counter[str] = Counter()
        self._unreported: Counter[str] = Counter()
        self._spool_files = 0
        self._spool_spans = 0
        self._spool_bytes = 0
        self._corrupt_files = 0
        self._warning_interval = warning_interval
        self._last_warning = -warning_interval

    def reset_after_fork(self) -> None:
        """In a forked child: its own counts, from zero."""
        self.__init__(self.name, self._warning_interval)  # type: ignore[misc]

    def add_received(self, count: int = 1) -> None:
        with self._lock:
            self._received += count

    def add_exported(self, count: int, *, replayed: bool = False) -> None:
        with self._lock:
            self._exported += count
            if replayed:
                self._replayed += count

    def add_spooled(self, count: int) -> None:
        with self._lock:
            self._spooled += count

    def add_refused(self, count: int) -> None:
        """Spans of batches the destination refused whole (kept, in the spool when on)."""
        with self._lock:
            self._refused += count

    def add_dropped(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        with self._lock:
            self._dropped[reason] += count
            self._unreported[reason] += count

    def add_corrupt_file(self) -> None:
        with self._lock:
            self._corrupt_files += 1

    def set_spool_level(self, files: int, spans: int, size: int) -> None:
        with self._lock:
            self._spool_files, self._spool_spans, self._spool_bytes = files, spans, size

    def warn_about_drops(self, *, force: bool = False) -> None:
        """Log one WARNING for the drops since the last one, at most every ``warning_interval``
        seconds (``force``: now, e.g. at shutdown). Called from the destination's worker, never
        from the application's thread."""
        now = time.monotonic()
        with self._lock:
            if not self._unreported or (
                not force and now - self._last_warning < self._warning_interval
            ):
                return
            unreported, self._unreported = self._unreported, Counter()
            self._last_warning = now
            total = sum(self._dropped.values())
        reasons = ", ".join(f"{reason}={count}" for reason, count in sorted(unreported.items()))
        _logger.warning(
            "otel-bridge: %s dropped %d spans (%s); %d dropped in all, see Bridge.stats()",
            self.name or "destination",
            sum(unreported.values()),
            reasons,
            total,
        )

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return {
                "received": self._received,
                "exported": self._exported,
                "replayed": self._replayed,
                "spooled": self._spooled,
                "refused": self._refused,
                "dropped": sum(self._dropped.values()),
                "dropped_by_reason": dict(self._dropped),
                "spool": {
                    "files": self._spool_files,
                    "spans": self._spool_spans,
                    "bytes": self._spool_bytes,
                    "corrupt_files": self._corrupt_files,
                },
            }


class CountingExporter(SpanExporter):
    """Counts what a plain SDK exporter (the console) delivered and what it gave up on."""

    def __init__(self, inner: SpanExporter, stats: DestinationStats) -> None:
        self._inner = inner
        self._stats = stats
        self._lock = threading.Lock()
        self._in_flight = 0
        self._abandoned = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self._in_flight += len(spans)
        outcome = EXPORT_ERROR
        try:
            result = self._inner.export(spans)
            outcome = "exported" if result is SpanExportResult.SUCCESS else UNAVAILABLE
            return result
        finally:
            with self._lock:
                self._in_flight -= len(spans)
                counted = not self._abandoned
            if counted and outcome == "exported":
                self._stats.add_exported(len(spans))
            elif counted:
                self._stats.add_dropped(len(spans), outcome)

    def abandon(self) -> int:
        """Give up on the batch being exported (a shutdown deadline passed): its spans are
        counted by the caller as lost, and a late outcome is no longer counted here."""
        with self._lock:
            self._abandoned = True
            return self._in_flight

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
