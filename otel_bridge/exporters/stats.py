"""Per-destination counts: spans exported and spans dropped, with the reason."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class DestinationStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exported = 0
        self._dropped: Counter[str] = Counter()

    def add_exported(self, count: int) -> None:
        with self._lock:
            self._exported += count

    def add_dropped(self, count: int, reason: str) -> None:
        with self._lock:
            self._dropped[reason] += count

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "exported": self._exported,
                "dropped": sum(self._dropped.values()),
                "dropped_by_reason": dict(self._dropped),
            }


class CountingExporter(SpanExporter):
    """Counts what the wrapped exporter delivered and what it gave up on."""

    def __init__(self, inner: SpanExporter, stats: DestinationStats) -> None:
        self._inner = inner
        self._stats = stats
        self._lock = threading.Lock()
        self._in_flight = 0
        self._abandoned = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self._in_flight += len(spans)
        outcome = "export_error"
        try:
            result = self._inner.export(spans)
            outcome = "exported" if result is SpanExportResult.SUCCESS else "export_failed"
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
