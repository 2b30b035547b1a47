"""The one retry policy (the OTLP specification's rules) and the split of a refused batch."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from otel_bridge.exporters.delivery import deliver, split_request
from otel_bridge.exporters.retry import (
    Backoff,
    RejectedError,
    RetryableError,
    RetryPolicy,
    call_with_retry,
    grpc_error,
    http_error,
    parse_retry_after,
)
from otel_bridge.spool.payload import Payload, count_spans

from .test_spool import names, payload


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, "retry"),
        (502, "retry"),
        (503, "retry"),
        (504, "retry"),
        (400, "invalid"),
        (413, "invalid"),
        (422, "invalid"),
        (401, "keep"),
        (403, "keep"),
        (404, "keep"),
        (408, "keep"),
        (500, "keep"),
        (501, "keep"),
    ],
)
def test_http_statuses(status, kind):
    error = http_error(status, "detail", None)
    if kind == "retry":
        assert isinstance(error, RetryableError)
    else:
        assert isinstance(error, RejectedError)
        assert error.invalid is (kind == "invalid")


@pytest.mark.parametrize(
    ("code", "retry_delay", "kind"),
    [
        ("UNAVAILABLE", None, "retry"),
        ("DEADLINE_EXCEEDED", None, "retry"),
        ("CANCELLED", None, "retry"),
        ("ABORTED", None, "retry"),
        ("OUT_OF_RANGE", None, "retry"),
        ("DATA_LOSS", None, "retry"),
        ("RESOURCE_EXHAUSTED", 1.5, "retry"),
        ("RESOURCE_EXHAUSTED", None, "keep"),
        ("INVALID_ARGUMENT", None, "invalid"),
        ("UNAUTHENTICATED", None, "keep"),
        ("PERMISSION_DENIED", None, "keep"),
        ("INTERNAL", None, "keep"),
        ("UNIMPLEMENTED", None, "keep"),
    ],
)
def test_grpc_codes(code, retry_delay, kind):
    error = grpc_error(code, "detail", retry_delay)
    if kind == "retry":
        assert isinstance(error, RetryableError) and error.retry_after == retry_delay
    else:
        assert isinstance(error, RejectedError) and error.invalid is (kind == "invalid")


def test_retry_after_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)
    assert 17 < parse_retry_after(later) <= 20


def test_backoff_is_exponential_jittered_and_bounded():
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=4, jitter=0.2)
    delays = [policy.delay(attempt) for attempt in range(8)]
    assert 0.4 <= delays[0] <= 0.6 and 0.8 <= delays[1] <= 1.2
    assert all(d <= 4 * 1.2 for d in delays)
    assert policy.delay(0, retry_after=7) == 7  # the server's hint wins
    backoff = Backoff(initial=1, max_delay=3, jitter=0)
    assert [backoff.next_delay() for _ in range(4)] == [1, 2, 3, 3]
    assert backoff.next_delay(retry_after=12) == 12


def test_retries_stop_at_the_attempt_limit_the_deadline_or_shutdown():
    calls = []

    def always_transient():
        calls.append(time.monotonic())
        raise RetryableError("503")

    fast = RetryPolicy(initial_backoff=0.01, max_backoff=0.01, jitter=0, max_attempts=4)
    with pytest.raises(RetryableError):
        call_with_retry(
            always_transient, deadline=time.monotonic() + 5, policy=fast, stop=threading.Event()
        )
    assert len(calls) == 4
    calls.clear()
    with pytest.raises(RetryableError):  # a Retry-After past the deadline: give up now
        call_with_retry(
            lambda: (_ for _ in ()).throw(RetryableError("429", 10)),
            deadline=time.monotonic() + 1,
            policy=fast,
            stop=threading.Event(),
        )
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    with pytest.raises(RetryableError):
        call_with_retry(
            always_transient,
            deadline=time.monotonic() + 60,
            policy=RetryPolicy(initial_backoff=5),
            stop=stop,
        )
    assert time.monotonic() - started < 0.5


class PickyTransport:
    """Refuses (422) any request holding a span whose name starts with "bad"."""

    def __init__(self, refuse_with: int = 422) -> None:
        self.requests = 0
        self.accepted: list[str] = []
        self.refuse_with = refuse_with

    def send(self, request, deadline, **options):
        self.requests += 1
        spans = [s.name for r in request.resource_spans for sc in r.scope_spans for s in sc.spans]
        if any(name.startswith("bad") for name in spans):
            raise RejectedError(f"HTTP {self.refuse_with}", self.refuse_with)
        self.accepted += spans
        return 0

    def close(self):
        pass


def mixed(total: int, bad: set[int]) -> Payload:
    p = payload(total, "ok")
    for i, span in enumerate(p.request.resource_spans[0].scope_spans[0].spans):
        if i in bad:
            span.name = f"bad-{i}"
    return p


def test_a_refused_batch_is_split_to_drop_only_the_bad_spans():
    transport = PickyTransport()
    outcome = deliver(transport, mixed(64, {5, 40}), time.monotonic() + 5)
    assert outcome.invalid == 2 and outcome.delivered == 62 and not outcome.kept
    assert sorted(transport.accepted) == sorted(f"ok-{i}" for i in range(64) if i not in (5, 40))
    assert transport.requests <= 1 + 2 * 2 * 6  # two binary searches down a 64-span batch


def test_the_split_is_bounded():
    transport = PickyTransport()
    everything_bad = mixed(512, set(range(512)))
    outcome = deliver(transport, everything_bad, time.monotonic() + 5, split_budget=32)
    assert outcome.delivered == 0 and outcome.invalid == 512
    assert transport.requests <= 1 + 2 * 32


def test_a_destination_that_took_nothing_yet_and_refuses_every_span_keeps_the_batch():
    transport = PickyTransport()
    everything_bad = mixed(8, set(range(8)))
    outcome = deliver(transport, everything_bad, time.monotonic() + 5, keep_if_none_taken=True)
    assert outcome.invalid == 0 and outcome.delivered == 0 and outcome.refused
    assert outcome.kept == [everything_bad]
    assert "every span refused, by a destination that took none yet" in outcome.error

    partly_bad = mixed(8, {3})  # some spans taken: the refused one is bad, dropped
    outcome = deliver(transport, partly_bad, time.monotonic() + 5, keep_if_none_taken=True)
    assert outcome.invalid == 1 and outcome.delivered == 7 and not outcome.kept


def test_a_refusal_that_is_not_the_batchs_fault_keeps_it_whole():
    transport = PickyTransport(refuse_with=500)
    outcome = deliver(transport, mixed(8, {1}), time.monotonic() + 5)
    assert outcome.invalid == 0 and outcome.kept_spans == 8 and transport.requests == 1


def test_split_keeps_resources_scopes_and_every_span_once():
    p = payload(7, "x")
    attribute = p.request.resource_spans[0].resource.attributes.add(key="service.name")
    attribute.value.string_value = "svc"
    first, second = split_request(p.request)
    assert count_spans(first) == 3 and count_spans(second) == 4
    for half in (first, second):
        assert half.resource_spans[0].resource.attributes[0].value.string_value == "svc"
    assert names(Payload(first)) + names(Payload(second)) == [f"x-{i}" for i in range(7)]
