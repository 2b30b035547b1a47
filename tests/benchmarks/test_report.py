"""The report's ratio table keeps a row whose figures are noise, and says so with "-"."""

from __future__ import annotations

from benchmarks.report import ratio_rows
from benchmarks.stats import Spread

FLOOR = "bare OTel SDK span, same attribute count (floor)"


def _timed(median: float) -> dict[str, Spread | None]:
    columns: dict[str, Spread | None] = {
        c: Spread(median, median - 1, median + 1, 1)
        for c in ("plain", "plain_large", "stream_short", "async")
    }
    return {**columns, "chunk": None}


def test_a_floor_lost_in_the_noise_keeps_its_row_with_dashes() -> None:
    # a loaded machine: the floor's added cost came out negative (a CI run met this)
    rows = ratio_rows({("bridge", False): _timed(3.0), ("floor", False): _timed(-0.5)})
    assert rows == [f"| instrumentor | {FLOOR} | off | - | - | - | - |"]


def test_a_timed_floor_gives_ratios_and_a_callgrind_only_mode_no_row() -> None:
    untimed = {c: None for c in ("plain", "plain_large", "stream_short", "async", "chunk")}
    rows = ratio_rows(
        {
            ("bridge", False): _timed(3.0),
            ("floor", False): _timed(2.0),
            ("pipeline", False): untimed,  # counted under callgrind only
        }
    )
    assert rows == [f"| instrumentor | {FLOOR} | off | 1.50x | 1.50x | 1.50x | 1.50x |"]
