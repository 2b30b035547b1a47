"""Per-round differences against the same round's baseline, and their medians."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass
class Spread:
    median: float
    low: float
    high: float
    n: int

    def fmt(self, digits: int = 1) -> str:
        if self.n == 1:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}..{self.high:.{digits}f})"


def spread(values: list[float]) -> Spread | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return Spread(statistics.median(values), min(values), max(values), len(values))


def added(run: dict[str, Any], base: dict[str, Any], variant: str, metric: str) -> float | None:
    try:
        return run["variants"][variant][metric] - base["variants"][variant][metric]
    except KeyError:
        return None


def per_chunk(run: dict[str, Any], base: dict[str, Any], metric: str) -> float | None:
    """Added cost of one chunk: the long stream's added cost less the short one's, per extra
    chunk."""
    long_added = added(run, base, "stream_long", metric)
    short_added = added(run, base, "stream_short", metric)
    if long_added is None or short_added is None:
        return None
    try:
        extra = run["variants"]["stream_long"]["chunks"] - run["variants"]["stream_short"]["chunks"]
    except KeyError:
        return None
    return (long_added - short_added) / extra if extra > 0 else None


def ratio(a: Spread | None, b: Spread | None) -> float | None:
    if a is None or b is None or b.median <= 0:
        return None
    return a.median / b.median
