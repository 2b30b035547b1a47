"""``otel-bridge flush``: send the spans waiting in the spool, without running the app again.

The spool of a service is ``<OTEL_BRIDGE_SPOOL_DIR>/<OTEL_SERVICE_NAME>/<destination>``: run it
with the application's environment (same variables, same working directory). Exit code 0 when
nothing waits any more, 1 when some spans still wait, 2 on a configuration error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from otel_bridge.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from otel_bridge.exporters.delivery import Transport

EXIT_CONFIG_ERROR = 2
EXIT_LEFT_BEHIND = 1
PROGRESS_EVERY = 1.0  # seconds between two progress lines


def flush_command(timeout: float) -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        _say(f"otel-bridge: {error}")
        return EXIT_CONFIG_ERROR
    if settings.disabled or not settings.spool.enabled:
        why = "OTEL_SDK_DISABLED is set" if settings.disabled else "OTEL_BRIDGE_SPOOL is off"
        _say(f"otel-bridge flush: {why}: nothing is spooled")
        return 0
    from otel_bridge.pipeline import build_destinations

    try:
        destinations = build_destinations(settings)
    except ConfigError as error:
        _say(f"otel-bridge: {error}")
        return EXIT_CONFIG_ERROR
    deadline = time.monotonic() + timeout
    left = 0
    for name, built, description in destinations:
        if isinstance(built, tuple):  # not the console, which has no spool
            left += _flush_one(settings, name, built[1], description, deadline)
    if left == 0:
        _hint_other_services(settings)
    return EXIT_LEFT_BEHIND if left else 0


def _flush_one(
    settings: Settings, name: str, transport: Transport, description: str, deadline: float
) -> int:
    """Spans still waiting for this destination."""
    from otel_bridge.exporters.drain import Drained, drain
    from otel_bridge.exporters.stats import DestinationStats
    from otel_bridge.spool import Spool, destination_directory

    directory = destination_directory(settings.spool.directory, settings.service_name, name)
    label = f"otel-bridge flush: {name} ({description})"
    if not any(directory.glob("*.span")):
        _say(f"{label}: nothing waits in {directory}")
        return 0
    stats = DestinationStats(name)
    spool = Spool(directory, settings.spool.max_bytes, stats)
    shown = time.monotonic()

    def progress(drained: Drained) -> None:
        nonlocal shown
        if time.monotonic() - shown >= PROGRESS_EVERY:
            shown = time.monotonic()
            _say(f"{label}: {drained.sent}/{drained.waiting} spans sent")

    _say(f"{label}: sending what waits in {directory}")
    try:
        drained = drain(spool, stats, transport, deadline, progress)
    finally:
        transport.close()
    dropped = f", {drained.dropped} dropped (refused as invalid)" if drained.dropped else ""
    if drained.left:
        _say(
            f"{label}: {drained.sent} spans sent{dropped}; {drained.left} still wait in "
            f"{directory}: {drained.error}"
        )
    else:
        _say(f"{label}: {drained.sent} spans sent{dropped}; nothing waits any more")
    return drained.left


def _hint_other_services(settings: Settings) -> None:
    """Spans of other services wait in the same spool directory: say how to send them."""
    root = Path(settings.spool.directory)
    others = sorted(
        {p.parent.parent.name for p in root.glob("*/*/*.span")} - {_service_directory(settings)}
    )
    if others:
        _say(
            f"otel-bridge flush: spans of other services wait in {root}: {', '.join(others)} "
            "(run `otel-bridge flush` with OTEL_SERVICE_NAME set to each)"
        )


def _service_directory(settings: Settings) -> str:
    from otel_bridge.spool import destination_directory

    return destination_directory(Path("."), settings.service_name, "x").parent.name


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
