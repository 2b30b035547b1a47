"""Wait for something observable: ask again until it holds or a deadline passes.

    trace = wait_for("trace tr-1234 in MLflow", lambda: client.get_trace("tr-1234"),
                     retry_on=(MlflowException,))
    wait_for("30 spans spooled", lambda: stats.snapshot()["spooled"], lambda n: n == 30)

Returns as soon as the condition holds; on timeout the AssertionError says what was awaited and
what the last attempt saw (its value, or the error it raised).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Generous on purpose: a loaded 2-core machine (a fresh MLflow server imports LiteLLM to price
# its first LLM span: 10-50 s there). A condition that holds returns at once.
DEADLINE = 120.0


def wait_for(
    what: str,
    probe: Callable[[], T],
    ready: Callable[[T], bool] = bool,
    *,
    timeout: float = DEADLINE,
    interval: float = 0.2,
    retry_on: tuple[type[BaseException], ...] = (),
    describe: Callable[[T], str] = repr,
) -> T:
    """``probe()``'s value once ``ready(value)`` holds. ``probe`` raising one of ``retry_on``
    counts as not yet. After ``timeout`` seconds: AssertionError naming ``what`` and the last
    value (shown by ``describe``) or error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except retry_on as error:
            last = f"{type(error).__name__}: {error}"
        else:
            if ready(value):
                return value
            last = describe(value)
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {what}; last saw: {last}"
            )
        time.sleep(interval)
