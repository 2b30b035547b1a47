"""Send what waits in one destination's spool now, oldest first, until it is empty or the
destination stops taking it: ``otel-bridge flush``, without running the application again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from otel_bridge.exporters.delivery import Outcome, Transport, deliver
from otel_bridge.exporters.stats import DestinationStats
from otel_bridge.spool import Spool, SpoolEntry


@dataclass
class Drained:
    waiting: int  # spans in the spool when it started
    sent: int = 0
    dropped: int = 0  # refused as invalid (bad spans), or in unreadable files
    left: int = 0  # spans still in the spool
    error: str | None = None  # why it stopped early


def drain(
    spool: Spool,
    stats: DestinationStats,
    transport: Transport,
    deadline: float,
    progress: Callable[[Drained], None] = lambda drained: None,
) -> Drained:
    """``stats``: the spool's own (it keeps the spool's level there)."""

    def waiting() -> int:
        spool.refresh()
        return stats.snapshot()["spool"]["spans"]

    drained = Drained(waiting=waiting())
    accepting = False  # as the destination's processor: drop refused spans once it takes some
    while time.monotonic() < deadline:
        entry = spool.claim_oldest()
        if entry is None:
            break
        payload = spool.read(entry)
        if payload is None:  # unreadable: set aside and counted by the spool
            drained.dropped += entry.spans
            continue
        try:
            outcome = deliver(transport, payload, deadline, keep_if_none_taken=not accepting)
        except Exception as error:
            outcome = Outcome(kept=[payload], error=f"{type(error).__name__}: {error}")
        except BaseException:  # Ctrl-C: the batch stays for the next try
            spool.release(entry)
            raise
        settle(spool, [entry], outcome)
        drained.sent += outcome.delivered
        drained.dropped += outcome.invalid
        accepting = outcome.delivered > 0 or (accepting and not outcome.kept)
        progress(drained)
        if outcome.kept:
            drained.error = outcome.error
            break
    else:
        drained.error = "the time given ran out"
    drained.left = waiting()
    return drained


def settle(spool: Spool, entries: list[SpoolEntry], outcome: Outcome) -> None:
    """The files of a replayed batch after sending it: gone when all of it was handled; else
    what is left is written as a new file, or the files put back (they stay the oldest)."""
    if outcome.kept and (outcome.delivered or outcome.invalid):
        for kept in outcome.kept:  # the part still undelivered
            spool.put(kept, count=False)
    for entry in entries:
        if outcome.kept and not (outcome.delivered or outcome.invalid):
            spool.release(entry)
        else:
            spool.done(entry)
