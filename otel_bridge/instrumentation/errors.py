"""Failures of the instrumentation itself: counted, logged once per kind, never raised."""

from __future__ import annotations

import logging
import threading

# Its records are scrubbed (otel_bridge.redaction): a traceback may quote what the failure was
# about.
_LOG = logging.getLogger("otel_bridge.instrumentation")
_lock = threading.Lock()
_counts: dict[str, int] = {}


def record_error(kind: str) -> None:
    """Count an internal failure of ``kind``; call from an ``except`` block.

    The first failure of a kind is logged at WARNING with its traceback, later ones at DEBUG,
    so a systematic problem is visible once without flooding the application's log.
    """
    with _lock:
        seen = _counts.get(kind, 0)
        _counts[kind] = seen + 1
    try:
        if seen == 0:
            _LOG.warning(
                "otel-bridge instrumentation error (%s); the call itself is unaffected",
                kind,
                exc_info=True,
            )
        else:
            _LOG.debug("otel-bridge instrumentation error (%s)", kind, exc_info=True)
    except Exception:  # logging must never break the app either
        return


def instrumentation_errors() -> int:
    """Total number of internal instrumentation failures since start (for the bridge's stats)."""
    with _lock:
        return sum(_counts.values())


def instrumentation_error_counts() -> dict[str, int]:
    """Internal instrumentation failures per kind (a copy)."""
    with _lock:
        return dict(_counts)
