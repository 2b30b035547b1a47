"""MLflow server transport retry rules, against a real OTLP/HTTP endpoint failing on cue."""

from __future__ import annotations

import time

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.config import MlflowSettings
from otel_bridge.exporters.mlflow.transports import RejectedError, ServerTransport
from otel_bridge.exporters.retry import RetryableError, RetryPolicy
from tests.support.polling import wait_for

FAST = RetryPolicy(initial_backoff=0.05, max_backoff=0.2, jitter=0.0)


@pytest.fixture
def request_of_two_spans():
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("parent"), tracer.start_as_current_span("child"):
        pass
    return encode_spans(memory.get_finished_spans())


def transport(receiver, **settings) -> ServerTransport:
    return ServerTransport(MlflowSettings(receiver.http_base, **settings), "7", FAST)


def test_posts_gzip_protobuf_to_v1_traces_with_the_experiment_header(
    otlp_receiver, request_of_two_spans
):
    transport(otlp_receiver, token="tok-1").send(request_of_two_spans, time.monotonic() + 5)
    spans = otlp_receiver.wait_for_spans(2)
    assert {s.name for s in spans} == {"parent", "child"}
    headers = spans[0].headers
    assert headers["x-mlflow-experiment-id"] == "7"
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["content-encoding"] == "gzip"
    assert headers["authorization"] == "Bearer tok-1"


@pytest.mark.parametrize("status", [429, 502, 503, 504])  # the OTLP specification's list
def test_retryable_statuses_are_retried_until_accepted(status, otlp_receiver, request_of_two_spans):
    otlp_receiver.fail_with(http_status=status, times=2)
    transport(otlp_receiver).send(request_of_two_spans, time.monotonic() + 5)
    assert otlp_receiver.rejected_requests == 2
    assert len(otlp_receiver.wait_for_spans(2)) == 2  # delivered once


@pytest.mark.parametrize("status", [400, 401, 404, 408, 422, 500])
def test_other_statuses_are_not_retried(status, otlp_receiver, request_of_two_spans):
    otlp_receiver.fail_with(http_status=status)
    with pytest.raises(RejectedError, match=f"HTTP {status}") as raised:
        transport(otlp_receiver).send(request_of_two_spans, time.monotonic() + 5)
    assert otlp_receiver.rejected_requests == 1
    # 400/422: the batch is at fault (split to find the bad spans); else it is kept for later
    assert raised.value.invalid is (status in (400, 422))


def test_retry_after_is_honoured(otlp_receiver, request_of_two_spans):
    otlp_receiver.fail_with(http_status=429, retry_after=0.6, times=1)
    started = time.monotonic()
    transport(otlp_receiver).send(request_of_two_spans, time.monotonic() + 5)
    assert time.monotonic() - started >= 0.6
    assert len(otlp_receiver.wait_for_spans(2)) == 2


def test_gives_up_at_the_deadline(otlp_receiver, request_of_two_spans):
    otlp_receiver.fail_with(http_status=503)
    started = time.monotonic()
    with pytest.raises(RetryableError, match="HTTP 503"):
        transport(otlp_receiver).send(request_of_two_spans, time.monotonic() + 0.5)
    assert time.monotonic() - started < 1.5
    assert otlp_receiver.rejected_requests >= 2


def test_connection_refused_is_retried_then_reported():
    from tests.support.ports import free_port

    dead = ServerTransport(MlflowSettings(f"http://127.0.0.1:{free_port()}"), "0", FAST)
    with pytest.raises(RetryableError, match="ConnectionError"):
        dead.send(encode_spans([]), time.monotonic() + 0.3)


def test_close_stops_a_retry_loop_at_once(otlp_receiver, request_of_two_spans):
    import threading

    otlp_receiver.fail_with(http_status=503)
    slow = ServerTransport(
        MlflowSettings(otlp_receiver.http_base), "0", RetryPolicy(initial_backoff=5, jitter=0)
    )
    errors: list[Exception] = []

    def send() -> None:
        try:
            slow.send(request_of_two_spans, time.monotonic() + 60)
        except Exception as error:
            errors.append(error)

    worker = threading.Thread(target=send)
    worker.start()
    wait_for("the first attempt refused", lambda: otlp_receiver.rejected_requests, interval=0.01)
    started = time.monotonic()
    slow.close()
    worker.join(5)
    assert not worker.is_alive()
    assert time.monotonic() - started < 1.0
    assert isinstance(errors[0], RetryableError)
