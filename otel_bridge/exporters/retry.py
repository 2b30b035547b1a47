"""The one retry policy of the bridge: which failures to retry and how long to wait."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Retried: the request timed out, the server is throttling, or it failed on its side.
# Any other 4xx will never succeed and is dropped at once.
RETRYABLE_HTTP_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_HTTP_STATUS


class RetryableError(Exception):
    """A failure worth another try; ``retry_after`` is the server's own hint, in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    multiplier: float = 2.0
    jitter: float = 0.2  # +/- fraction of each delay

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None and retry_after >= 0:
            return retry_after  # the server knows best; the caller's deadline bounds it
        base = min(self.initial_backoff * self.multiplier**attempt, self.max_backoff)
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


def call_with_retry(
    attempt_once: Callable[[], T],
    *,
    deadline: float,
    policy: RetryPolicy,
    stop: threading.Event,
) -> T:
    """Call ``attempt_once`` until it returns, raises a non-retryable error, the
    monotonic ``deadline`` passes, or ``stop`` is set (shutdown); the last
    :class:`RetryableError` is raised when time runs out."""
    attempt = 0
    while True:
        try:
            return attempt_once()
        except RetryableError as error:
            wait = policy.delay(attempt, error.retry_after)
            if time.monotonic() + wait > deadline or stop.wait(wait):
                raise
            attempt += 1
