"""One destination's processor against a real loopback OTLP receiver failing on cue: spans are
delivered, spooled or counted, the application's thread never waits, and recovery replays."""

from __future__ import annotations

import logging
import threading
import time

import grpc
import pytest

from otel_bridge.exporters.stats import DestinationStats
from tests.support.polling import wait_for
from tests.support.ports import free_port

from .helpers import accounted, make_spans, otlp_destination


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_transient_failures_are_spooled_then_replayed_on_recovery(
    protocol, otlp_receiver, tmp_path
):
    endpoint = otlp_receiver.http_endpoint if protocol != "grpc" else otlp_receiver.grpc_endpoint
    provider, processor, stats, _ = otlp_destination(endpoint, tmp_path, protocol=protocol)
    otlp_receiver.fail_with(http_status=503)
    make_spans(provider, 30)
    wait_for("30 spooled", lambda: stats.snapshot()["spooled"], lambda n: n == 30)
    assert otlp_receiver.spans() == []

    otlp_receiver.reset_faults()  # the backend is back: the next probe replays the spool
    otlp_receiver.wait_for_spans(30, timeout=10)
    wait_for("spool emptied", lambda: stats.snapshot()["spool"]["files"], lambda n: n == 0)
    processor.shutdown(2000)
    snap = stats.snapshot()
    assert snap["exported"] == snap["replayed"] == 30
    assert snap["dropped"] == 0
    assert accounted(stats) == snap["received"] == 30
    assert len(otlp_receiver.spans()) == 30  # each span once


def test_a_hanging_destination_never_holds_the_application_thread(otlp_receiver, tmp_path):
    """The structural form of "the app's per-call time is unchanged": no send ever runs on the
    application's thread, and 300 spans end while the backend has not yet answered one request
    (it hangs 5 s on each). Timings are scripts/fault_matrix.py's, not a unit test's."""
    otlp_receiver.delay(5)
    provider, processor, stats, transport = otlp_destination(
        otlp_receiver.http_endpoint, tmp_path, timeout=10
    )
    tracer = provider.get_tracer("app")
    for i in range(300):
        with tracer.start_as_current_span(f"call-{i}"):
            pass
        if i % 50 == 0:
            time.sleep(0.06)  # let the worker hand batches to the (hanging) sender
    wait_for("a send under way", lambda: transport.threads, bool)
    assert stats.snapshot()["exported"] == 0  # every span ended before any answer came
    assert threading.current_thread().name not in transport.threads
    assert all(name.startswith("otel-bridge-otlp-") for name in transport.threads)

    started = time.monotonic()
    processor.shutdown(1000)
    assert time.monotonic() - started < 4  # the shutdown budget, not the backend's 5 s hang
    snap = stats.snapshot()
    assert snap["received"] == 300
    assert snap["spooled"] + snap["exported"] == 300  # nothing lost: the rest is on disk
    otlp_receiver.reset_faults()


def test_an_unreachable_destination_spools_at_once_and_the_next_process_replays(
    otlp_receiver, tmp_path
):
    dead = f"http://127.0.0.1:{free_port()}/v1/traces"
    provider, processor, stats, _ = otlp_destination(dead, tmp_path)
    make_spans(provider, 10, "first-process")
    processor.shutdown(1000)
    assert stats.snapshot()["spooled"] == 10

    # the "next process": same spool directory, a backend that answers
    provider, processor, stats, _ = otlp_destination(otlp_receiver.http_endpoint, tmp_path)
    spans = otlp_receiver.wait_for_spans(10, timeout=10)
    assert {s.name for s in spans} == {f"first-process-{i}" for i in range(10)}
    wait_for("10 replayed", lambda: stats.snapshot()["replayed"], lambda n: n == 10)
    processor.shutdown(1000)


def test_invalid_spans_are_dropped_once_the_destination_takes_spans(otlp_receiver, tmp_path):
    provider, processor, stats, _ = otlp_destination(otlp_receiver.http_endpoint, tmp_path)
    make_spans(provider, 2, "good")
    assert processor.force_flush(3000)
    otlp_receiver.wait_for_spans(2)
    otlp_receiver.fail_with(http_status=400)  # now only these spans are refused
    make_spans(provider, 4)
    processor.force_flush(3000)
    snap = stats.snapshot()
    assert snap["dropped_by_reason"] == {"rejected_invalid": 4}
    assert snap["spooled"] == snap["refused"] == 0
    # the batch of 4 was split down to single spans: 1 + 2 + 4 requests, none resent
    assert otlp_receiver.rejected_requests == 7
    processor.shutdown(1000)


def test_a_destination_refusing_every_batch_keeps_them_and_says_so(otlp_receiver, tmp_path, caplog):
    """400 to every span before it ever took one: the destination is misconfigured (an MLflow
    3.5 server sent gzip, a proxy), not the spans bad. Kept, counted, said once."""
    otlp_receiver.fail_with(http_status=400)
    provider, processor, stats, _ = otlp_destination(otlp_receiver.http_endpoint, tmp_path)
    with caplog.at_level(logging.WARNING, logger="otel_bridge"):
        for round_ in range(3):
            make_spans(provider, 4, f"round-{round_}")
            processor.force_flush(3000)
    snap = stats.snapshot()
    assert snap["dropped"] == 0
    assert snap["spooled"] == 12  # the first batch refused, the rest kept while "down"
    assert snap["refused"] in (4, 8, 12)
    assert otlp_receiver.rejected_requests >= 7  # split down to single spans: none taken
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, errors
    assert errors[0].startswith("otel-bridge: otlp refused the spans: HTTP 400 from ")
    assert "a misconfiguration" in errors[0] and "wait in the spool" in errors[0]

    otlp_receiver.reset_faults()  # fixed: everything kept goes out
    spans = otlp_receiver.wait_for_spans(12, timeout=15)
    assert sorted(s.name for s in spans) == sorted(
        f"round-{r}-{i}" for r in range(3) for i in range(4)
    )
    processor.shutdown(1000)
    assert stats.snapshot()["replayed"] == 12


def test_a_refusing_destination_keeps_the_spans(otlp_receiver, tmp_path):
    """500 (or 401, 404) is not retried at once (the specification) and not the batch's fault:
    kept in the spool, delivered when the destination takes data again."""
    otlp_receiver.fail_with(http_status=500, times=1)
    provider, processor, stats, _ = otlp_destination(otlp_receiver.http_endpoint, tmp_path)
    make_spans(provider, 5)
    otlp_receiver.wait_for_spans(5, timeout=10)
    wait_for("5 replayed", lambda: stats.snapshot()["replayed"], lambda n: n == 5)
    assert otlp_receiver.rejected_requests == 1
    processor.shutdown(1000)


def test_without_a_spool_a_full_queue_is_counted(otlp_receiver):
    from otel_bridge.config import BatchSettings

    otlp_receiver.delay(3)
    small = BatchSettings(
        max_queue_size=20,
        max_export_batch_size=5,
        schedule_delay_millis=20,
        export_timeout_millis=5000,
    )
    provider, processor, stats, _ = otlp_destination(
        otlp_receiver.http_endpoint, None, batch=small, timeout=5
    )
    make_spans(provider, 200)
    processor.shutdown(500)
    snap = stats.snapshot()
    assert snap["received"] == 200
    assert snap["dropped_by_reason"]["queue_full"] > 100
    assert accounted(stats) == 200
    otlp_receiver.reset_faults()


def test_grpc_resource_exhausted_is_retried_only_with_retry_info(otlp_receiver, tmp_path):
    provider, processor, stats, _ = otlp_destination(
        otlp_receiver.grpc_endpoint, tmp_path, protocol="grpc"
    )
    otlp_receiver.fail_with(grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after=0.3, times=1)
    started = time.monotonic()
    make_spans(provider, 2, "with-retry-info")
    otlp_receiver.wait_for_spans(2, timeout=5)
    assert time.monotonic() - started >= 0.3  # RetryInfo honoured
    assert stats.snapshot()["spooled"] == 0  # retried in place, never spooled

    otlp_receiver.clear()
    otlp_receiver.fail_with(grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED, times=1)
    make_spans(provider, 2, "without")
    wait_for("2 kept, not retried", lambda: stats.snapshot()["spooled"], lambda n: n == 2)
    assert otlp_receiver.rejected_requests == 1
    otlp_receiver.wait_for_spans(2, timeout=5)  # replayed once the destination takes data
    processor.shutdown(1000)


def test_drops_are_warned_about_at_most_once_per_interval(caplog):
    stats = DestinationStats("otlp", warning_interval=60)
    with caplog.at_level("WARNING", logger="otel_bridge"):
        stats.add_dropped(3, "queue_full")
        stats.warn_about_drops()
        stats.add_dropped(2, "queue_full")
        stats.warn_about_drops()  # within the interval: silent
        stats.warn_about_drops(force=True)  # at shutdown: the rest
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "otel-bridge: otlp dropped 3 spans (queue_full=3); 3 dropped in all, see Bridge.stats()",
        "otel-bridge: otlp dropped 2 spans (queue_full=2); 5 dropped in all, see Bridge.stats()",
    ]
