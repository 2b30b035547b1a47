"""One destination's span processor: its own queue, batching worker, sender and spool.

Two threads per destination, none of them the application's:

* the **worker** takes finished spans off the in-memory queue in batches, encodes them and hands
  each batch to the sender; when the sender is busy (a slow backend) it waits while the queue
  has room, and writes the batch to the spool once the queue passes half full; when the
  destination is known to be down it spools at once;
* the **sender** first connects (``connect``: MLflow's store is opened, or its server probed,
  here and not on the application's thread), then sends one batch at a time (retries by
  :mod:`otel_bridge.exporters.retry`, invalid batches split by
  :mod:`otel_bridge.exporters.delivery`, and kept whole when the destination took no span yet
  and refuses every one of them); after a failure it marks the
  destination down for a backoff (or the server's Retry-After), then probes with the oldest
  spooled batch; whenever the destination takes data, it replays the spool, oldest first,
  between live batches. At start it replays what earlier processes left.

``shutdown(timeout)`` is bounded: live batches are sent while there is time, the rest (and a
batch still in flight at the deadline) go to the spool, or are counted as lost without one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_bridge.config import BatchSettings
from otel_bridge.exporters.delivery import Outcome, Transport, deliver, merge_payloads
from otel_bridge.exporters.drain import settle
from otel_bridge.exporters.retry import Backoff, RejectedError, RetryableError
from otel_bridge.exporters.stats import (
    EXPORT_ERROR,
    QUEUE_FULL,
    REJECTED_INVALID,
    SHUTDOWN_DEADLINE,
    UNAVAILABLE,
    DestinationStats,
)
from otel_bridge.sigterm import start_thread
from otel_bridge.spool import Spool, SpoolEntry
from otel_bridge.spool.payload import Payload

_logger = logging.getLogger("otel_bridge")

AFTER_SHUTDOWN = "after_shutdown"  # ended after the destination was shut down
_POLL = 0.05
_MIN_PACE, _MAX_PACE = 0.005, 1.0  # pause after each replayed batch: its CPU time
# Small spool files merged into one replayed request: at most this many files and spans (a
# file larger than that goes alone). Small enough for a slow MLflow server (130 LLM spans/s)
# to answer within a short export timeout; a request it cannot answer in time is resent.
_MAX_FILES_PER_REPLAY = 64
_MAX_SPANS_PER_REPLAY = 64
_SPOOL_GRACE = 0.5  # after the shutdown deadline: writing the leftovers to the spool


class DestinationProcessor(SpanProcessor):
    def __init__(
        self,
        name: str,
        payloads: Callable[[Sequence[ReadableSpan]], list[Payload]],
        transport: Transport,
        stats: DestinationStats,
        batch: BatchSettings,
        *,
        spool: Spool | None = None,
        shutdown_timeout: float = 5.0,
        after_fork: Callable[[], None] | None = None,
        backoff: Backoff | None = None,
        connect: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._payloads = payloads
        self._transport = transport
        self._stats = stats
        self._spool = spool
        self._max_queue = batch.max_queue_size
        self._max_batch = batch.max_export_batch_size
        self._delay = batch.schedule_delay_millis / 1000
        self._export_timeout = batch.export_timeout_millis / 1000
        self._shutdown_timeout = shutdown_timeout
        self._after_fork_hook = after_fork
        self._connect = connect
        self._backoff = backoff or Backoff()
        self._init_state()
        self._unavailable_since: float | None = None
        self._last_error: str | None = None
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._reinit_in_child)

            def in_child() -> None:
                method = ref()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=in_child)
        self._start_threads()

    def _init_state(self) -> None:
        # enqueue() takes the lock itself: Condition.__enter__ is a Python-level call
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[ReadableSpan] = deque()
        self._slot: Payload | None = None  # handed to the sender, not taken yet
        self._in_flight: Payload | None = None  # being sent now (a live batch)
        self._sending = False
        self._abandoned = False
        self._down_until = 0.0
        self._spool_pending = self._spool is not None and not self._spool.is_empty()
        self._replay_after = 0.0  # the next spooled batch is replayed from then on
        self._closing = False
        self._closed = False
        self._shutdown_done = threading.Event()
        self._shutdown_deadline = 0.0
        self._close_deadline = float("inf")
        self._flush_wanted = 0
        self._flush_served = 0
        self._pid = os.getpid()
        # The destination took spans since it last refused a whole batch: spans it refuses now
        # are bad ones (dropped); before that, a batch it refuses entirely is kept.
        self._accepting = False

    def _start_threads(self) -> None:
        self._worker = start_thread(self._work, f"otel-bridge-{self.name}-worker")
        self._sender = start_thread(self._send_loop, f"otel-bridge-{self.name}-sender")

    def _reinit_in_child(self) -> None:
        """After ``os.fork()``: the parent's spans and threads stay with the parent."""
        self._init_state()
        self._stats.reset_after_fork()
        if self._spool is not None:
            self._spool.after_fork()
        if self._after_fork_hook is not None:
            try:
                self._after_fork_hook()
            except Exception:
                _logger.debug("otel-bridge: %s after-fork hook failed", self.name, exc_info=True)
        self._start_threads()

    # -- the application's side: cheap, never blocks on I/O -------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is None or not span.context.trace_flags.sampled:
            return
        self.enqueue(span)

    def enqueue(self, span: ReadableSpan) -> None:
        """Queue a sampled span (the bridge's pipeline processor checked it)."""
        with self._lock:
            if self._closing:
                self._stats.add_dropped(1, AFTER_SHUTDOWN)
                return
            self._stats.add_received(1)
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self._stats.add_dropped(1, QUEUE_FULL)
            self._queue.append(span)
            if len(self._queue) == self._max_batch:
                self._cond.notify_all()

    # -- flush and shutdown ---------------------------------------------------------------
    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Send what is queued now; True when it was all handled (delivered, spooled or
        counted) within the timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            if self._closing:
                return False
            self._flush_wanted += 1
            target = self._flush_wanted
            self._cond.notify_all()
            while self._flush_served < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, _POLL * 4))
        return True

    def shutdown(self, timeout_millis: float | None = None) -> None:
        """Deliver what is queued within ``timeout_millis`` (default: the shutdown timeout),
        spool the rest; never longer than the timeout, whatever the backend does."""
        timeout = self._shutdown_timeout if timeout_millis is None else timeout_millis / 1000
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            if self._closing:  # another thread (SIGTERM during the atexit flush) shuts it down
                first = self._shutdown_done, self._shutdown_deadline
            else:
                first = None
                self._closing = True
                self._shutdown_deadline = deadline
        if first is not None:
            done, until = first
            done.wait(max(0.0, until - time.monotonic()) + _SPOOL_GRACE)
            return
        try:
            self._shut_down(timeout, deadline)
        finally:
            self._shutdown_done.set()

    def _shut_down(self, timeout: float, deadline: float) -> None:
        with self._cond:
            # leave time to write what is left to the spool
            self._close_deadline = deadline - min(1.0, max(0.05, timeout * 0.15))
            self._cond.notify_all()
        self._worker.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            while (self._slot is not None or self._sending) and time.monotonic() < deadline:
                self._cond.wait(min(_POLL, max(0.0, deadline - time.monotonic())))
            leftovers = [p for p in (self._slot, self._in_flight) if p is not None]
            unanswered = bool(leftovers)  # sent (or about to be) and no answer yet
            self._slot = None
            self._abandoned = self._sending  # a late outcome of that batch is not counted
            spans = list(self._queue)
            self._queue.clear()
            self._closed = True
            self._cond.notify_all()
        if spans:
            leftovers += self._encode(spans)
        for payload in leftovers:
            self._keep(payload, SHUTDOWN_DEADLINE)
        self._say_what_waits(unanswered)
        try:
            self._transport.close()
        except Exception:
            _logger.debug("otel-bridge: closing %s failed", self.name, exc_info=True)
        self._stats.warn_about_drops(force=True)

    def _say_what_waits(self, unanswered: bool) -> None:
        """At the end: spans this process left in the spool are safe, not lost; say so."""
        if self._spool is None or not (self._stats.snapshot()["spooled"] or unanswered):
            return
        self._spool.refresh()
        waiting = self._stats.snapshot()["spool"]["spans"]
        if not waiting:
            return
        if self._unavailable_since is not None:
            state = f"cannot take spans now ({self._last_error})"
        elif unanswered:
            state = "has not answered yet"
        else:
            state = "took spans again"
        _logger.warning(
            "otel-bridge: %s %s; %d spans wait in the spool at %s and are resent by the next "
            "process, or now with `otel-bridge flush`",
            self.name,
            state,
            waiting,
            self._spool.directory,
        )

    # -- worker: batching -----------------------------------------------------------------
    def _work(self) -> None:
        next_tick = time.monotonic() + self._delay
        while True:
            with self._cond:
                while not (
                    self._closing
                    or len(self._queue) >= self._max_batch
                    or self._flush_wanted > self._flush_served
                ):
                    remaining = next_tick - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                closing = self._closing
                flush_target = self._flush_wanted
            next_tick = time.monotonic() + self._delay
            try:
                self._drain()
                if flush_target > self._flush_served:
                    self._wait_sender_idle()
            except Exception:  # the worker must survive anything
                _logger.exception("otel-bridge: %s worker error", self.name)
            with self._cond:
                self._flush_served = max(self._flush_served, flush_target)
                self._cond.notify_all()
            self._stats.warn_about_drops()
            if closing:
                return

    def _drain(self) -> None:
        while True:
            with self._cond:
                if self._closed or not self._queue:
                    return
                batch = [
                    self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))
                ]
            for payload in self._encode(batch):
                self._dispatch(payload)

    def _encode(self, spans: Sequence[ReadableSpan]) -> list[Payload]:
        try:
            return self._payloads(spans)
        except Exception:
            _logger.exception("otel-bridge: %s could not encode %d spans", self.name, len(spans))
            self._stats.add_dropped(len(spans), EXPORT_ERROR)
            return []

    def _dispatch(self, payload: Payload) -> None:
        """Hand a batch to the sender, or keep it (spool) when the sender cannot take it soon."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._closed:
                    break
                down = now < self._down_until
                idle = self._slot is None and not self._sending
                if idle and not down:
                    self._slot = payload
                    self._cond.notify_all()
                    return
                if self._spool is not None and (
                    down
                    or len(self._queue) >= self._max_queue // 2
                    or (self._closing and now >= self._close_deadline)
                ):
                    break
                if self._closing and now >= self._close_deadline:
                    break  # no spool: counted below
                self._cond.wait(_POLL)
        self._keep(payload, SHUTDOWN_DEADLINE if self._closing else UNAVAILABLE)

    def _wait_sender_idle(self) -> None:
        with self._cond:
            while (self._slot is not None or self._sending) and not self._closed:
                self._cond.wait(_POLL)

    def _keep(self, payload: Payload, reason: str) -> None:
        """Not deliverable now: into the spool, or counted as dropped for ``reason``."""
        if self._spool is not None and self._spool.put(payload):
            with self._cond:
                self._spool_pending = True
                self._cond.notify_all()
            return
        if self._spool is None:
            self._stats.add_dropped(payload.spans, reason)

    # -- sender: the network ----------------------------------------------------------------
    def _send_loop(self) -> None:
        self._connect_first()
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    if self._slot is not None:
                        payload, self._slot = self._slot, None
                        self._in_flight, self._sending = payload, True
                        replay = False
                        break
                    now = time.monotonic()
                    ready = max(self._down_until, self._replay_after)
                    if self._spool_pending and not self._closing and now >= ready:
                        self._sending, replay = True, True
                        break
                    wait = _POLL * 4
                    if self._spool_pending and not self._closing:
                        wait = min(wait, max(0.0, ready - now))
                    self._cond.wait(wait)
            try:
                if replay:
                    self._replay_one()
                else:
                    self._send(payload, None)
            except Exception:
                _logger.exception("otel-bridge: %s sender error", self.name)
            finally:
                with self._cond:
                    self._in_flight, self._sending = None, False
                    self._cond.notify_all()

    def _connect_first(self) -> None:
        """Before any batch: a failure marks the destination down (its batches are kept)."""
        if self._connect is None:
            return
        try:
            self._connect()
        except RetryableError as error:
            self._mark_down(Outcome(error=str(error), retry_after=error.retry_after))
        except RejectedError as error:
            self._mark_down(Outcome(error=str(error), refused=True))
        except Exception as error:
            _logger.exception("otel-bridge: %s could not connect", self.name)
            self._mark_down(Outcome(error=f"{type(error).__name__}: {error}", refused=True))

    def _replay_one(self) -> None:
        """One spooled batch (read, decoded, sent), then a pause as long as the CPU time it
        took: replay computes at most half the time, so the app's threads get the
        interpreter's lock at least as often as replay does (a backlog replayed at full speed
        after an outage stalled the app's calls by 200-500 ms). Waiting for the network holds
        no lock and costs no pause."""
        started = time.thread_time()
        try:
            self._replay_batch()
        finally:
            took = time.thread_time() - started
            with self._cond:
                self._replay_after = time.monotonic() + min(max(took, _MIN_PACE), _MAX_PACE)

    def _replay_batch(self) -> None:
        """The oldest spooled batches, as one request of at most 64 spans (small files, each the
        few spans of one schedule delay, would each cost a request)."""
        assert self._spool is not None
        entries: list[SpoolEntry] = []
        payloads: list[Payload] = []
        spans = 0
        limit = min(self._max_batch, _MAX_SPANS_PER_REPLAY)
        while len(entries) < _MAX_FILES_PER_REPLAY and spans < limit:
            entry = self._spool.claim_oldest()
            if entry is None:
                break
            payload = self._spool.read(entry)
            if payload is None:  # corrupt: set aside and counted by the spool
                continue
            if entries and (
                payload.options != payloads[0].options or spans + payload.spans > limit
            ):
                self._spool.release(entry)  # the next step's
                break
            entries.append(entry)
            payloads.append(payload)
            spans += payload.spans
        if not entries:
            with self._cond:
                self._spool_pending = False
            return
        self._send(merge_payloads(payloads)[0], entries)

    def _send(self, payload: Payload, entries: list[SpoolEntry] | None) -> None:
        """``entries``: the spool files ``payload`` was read from (None: a live batch)."""
        deadline = time.monotonic() + self._export_timeout
        with self._cond:
            deadline = min(deadline, self._close_deadline)
        try:
            outcome = deliver(
                self._transport, payload, deadline, keep_if_none_taken=not self._accepting
            )
        except Exception as error:  # a transport bug or an unexpected store error
            _logger.debug("otel-bridge: %s send failed", self.name, exc_info=True)
            outcome = Outcome(kept=[payload], error=f"{type(error).__name__}: {error}")
        with self._cond:
            abandoned = self._abandoned and entries is None
        if abandoned:
            return  # the shutdown deadline passed: this batch was spooled (or counted) then
        self._stats.add_exported(outcome.delivered, replayed=entries is not None)
        self._stats.add_dropped(outcome.invalid, REJECTED_INVALID)
        if outcome.delivered or outcome.invalid or outcome.refused:
            self._accepting = outcome.delivered > 0
        if outcome.refused and entries is None:
            self._stats.add_refused(outcome.kept_spans)
        if outcome.kept:
            self._mark_down(outcome)
        else:
            self._mark_up()
        if entries is not None:
            assert self._spool is not None
            settle(self._spool, entries, outcome)
            return
        # cut short by the shutdown deadline, or the destination cannot take it now
        late = self._closing and time.monotonic() >= self._close_deadline - 0.05
        reason = SHUTDOWN_DEADLINE if late else UNAVAILABLE
        for kept in outcome.kept:
            self._keep(kept, reason)

    def _mark_down(self, outcome: Outcome) -> None:
        delay = self._backoff.next_delay(outcome.retry_after)
        with self._cond:
            self._down_until = time.monotonic() + delay
            self._last_error = outcome.error
            first = self._unavailable_since is None
            if first:
                self._unavailable_since = time.monotonic()
            closing = self._closing  # then shutdown() says what became of the spans
        if not first or (closing and not outcome.refused):
            return
        if outcome.refused:  # someone must act: said once, loudly
            if self._spool is not None:
                kept = (
                    f"its spans wait in the spool at {self._spool.directory} until this is "
                    "fixed, then go out by themselves (or with `otel-bridge flush`)"
                )
            else:
                kept = "its spans are dropped and counted (the spool is off)"
            _logger.error(
                "otel-bridge: %s refused the spans: %s; %s", self.name, outcome.error, kept
            )
            return
        _logger.warning(
            "otel-bridge: %s cannot take spans now (%s); %s, retrying in %.1fs",
            self.name,
            outcome.error,
            f"spooling them in {self._spool.directory}"
            if self._spool is not None
            else "keeping them in memory",
            delay,
        )

    def _mark_up(self) -> None:
        with self._cond:
            self._down_until = 0.0
            was_down = self._unavailable_since is not None
            self._unavailable_since = None
            if self._spool is not None and was_down:
                self._spool_pending = True
        if was_down:
            self._backoff.reset()
            _logger.warning("otel-bridge: %s takes spans again", self.name)
