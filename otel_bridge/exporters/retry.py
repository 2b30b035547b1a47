"""The one retry policy of the bridge: which failures to retry and how long to wait.

The rules are the OTLP exporter specification's, for both destinations (MLflow's server door
is OTLP/HTTP too):

* HTTP 429, 502, 503, 504 and connection errors (refused, reset, timed out) are transient:
  retried with exponential backoff and jitter, a ``Retry-After`` header (seconds or an HTTP
  date) replacing the computed delay;
* gRPC ``CANCELLED``, ``DEADLINE_EXCEEDED``, ``ABORTED``, ``OUT_OF_RANGE``, ``UNAVAILABLE``,
  ``DATA_LOSS`` are transient, and ``RESOURCE_EXHAUSTED`` only when the server sends
  ``RetryInfo`` (whose delay is then honoured);
* HTTP 400, 413, 422 and gRPC ``INVALID_ARGUMENT`` mean the batch itself is refused: it is
  split to find the spans at fault (see :mod:`otel_bridge.exporters.delivery`);
* anything else (401, 403, 404, 500, ...) is not retried: the batch is kept (spooled) for a
  later attempt, when the destination takes data again.

Retries are bounded by a deadline, a number of attempts, and a stop event (shutdown).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

T = TypeVar("T")

# HTTP statuses retried by the OTLP specification ("Retryable Response Codes").
RETRYABLE_HTTP_STATUS = frozenset({429, 502, 503, 504})
# The batch is refused as invalid (or too large): split it, never resend it whole.
INVALID_HTTP_STATUS = frozenset({400, 413, 422})

# gRPC codes retried by the OTLP specification; RESOURCE_EXHAUSTED only with RetryInfo.
RETRYABLE_GRPC_CODES = frozenset(
    {"CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"}
)
INVALID_GRPC_CODES = frozenset({"INVALID_ARGUMENT"})


class RetryableError(Exception):
    """A failure worth another try; ``retry_after`` is the server's own hint, in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedError(Exception):
    """The destination refused the batch; not retried.

    ``invalid``: the batch itself is at fault (HTTP 400/413/422, gRPC INVALID_ARGUMENT, or no
    status at all: a batch that cannot even be converted): it is split to find the bad spans.
    Otherwise (401, 404, 500, ...) the destination is at fault and the batch is kept."""

    def __init__(self, message: str, status: int | str | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def invalid(self) -> bool:
        return (
            self.status is None
            or self.status in INVALID_HTTP_STATUS
            or self.status in INVALID_GRPC_CODES
        )


def http_error(status: int, detail: str, retry_after_header: str | None) -> Exception:
    """The exception for a non-2xx HTTP answer, by the rules above."""
    if status in RETRYABLE_HTTP_STATUS:
        return RetryableError(detail, parse_retry_after(retry_after_header))
    return RejectedError(detail, status)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After``: delay-seconds or an HTTP-date (RFC 9110); None when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(when.timestamp() - time.time(), 0.0)


def grpc_error(code_name: str, detail: str, retry_delay: float | None) -> Exception:
    """The exception for a failed gRPC call, by the rules above."""
    if code_name in RETRYABLE_GRPC_CODES or (
        code_name == "RESOURCE_EXHAUSTED" and retry_delay is not None
    ):
        return RetryableError(detail, retry_delay)
    return RejectedError(detail, code_name)


@dataclass(frozen=True)
class RetryPolicy:
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    multiplier: float = 2.0
    jitter: float = 0.2  # +/- fraction of each delay
    max_attempts: int = 6

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
    monotonic ``deadline`` passes, ``policy.max_attempts`` are spent, or ``stop`` is set
    (shutdown); the last :class:`RetryableError` is raised when it gives up."""
    attempt = 0
    while True:
        try:
            return attempt_once()
        except RetryableError as error:
            attempt += 1
            wait = policy.delay(attempt - 1, error.retry_after)
            if (
                attempt >= policy.max_attempts
                or time.monotonic() + wait > deadline
                or stop.is_set()
                or stop.wait(wait)
            ):
                raise


class Backoff:
    """When to try a destination again after it failed: the same exponential policy, without
    the attempt limit, capped at ``max_delay``; a server's Retry-After wins."""

    def __init__(self, initial: float = 1.0, max_delay: float = 10.0, jitter: float = 0.2):
        self._policy = RetryPolicy(
            initial_backoff=initial, max_backoff=max_delay, jitter=jitter, max_attempts=1
        )
        self.failures = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        self.failures += 1
        delay = self._policy.delay(self.failures - 1)
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), 300.0)
        return delay

    def reset(self) -> None:
        self.failures = 0
