"""GenAI client metrics from `otel_bridge.configure()` to a real OTLP receiver (fresh process)."""

from __future__ import annotations

import pytest

from tests.e2e.apps import REPO_ROOT, base_env, run_app
from tests.support.openai_server import ErrorReply, Reply
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e

DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"
FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
PER_CHUNK = "gen_ai.client.operation.time_per_output_chunk"

# Two mock calls, one stream and one failed call over the loopback server's real HTTP path.
APP = """
import json, os, time
import litellm, otel_bridge

bridge = otel_bridge.configure()
user = [{"role": "user", "content": "hi"}]
for _ in range(2):
    litellm.completion(model="openai/gpt-4o-mini", mock_response="ok", messages=user)
loopback = dict(api_base=os.environ["TEST_OPENAI_BASE"], api_key="sk-test", num_retries=0)
stream = litellm.completion(model="openai/gpt-4o-mini", messages=user, stream=True,
                            stream_options={"include_usage": True}, **loopback)
text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
try:
    litellm.completion(model="openai/gpt-4o-mini", messages=user, **loopback)
except Exception as error:
    failed = type(error).__qualname__
started = time.monotonic()
flushed = bridge.metrics.force_flush(5) if bridge.metrics is not None else None
print(json.dumps({"text": text, "failed": failed, "flushed": flushed,
                  "flush_took": time.monotonic() - started}))
"""


def _env(protocol: str, receiver, openai_server, **extra: str) -> dict[str, str]:
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_base
    return base_env(
        OTEL_SERVICE_NAME="metrics-app",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc" if protocol == "grpc" else "http/protobuf",
        TEST_OPENAI_BASE=openai_server.base_url,
        PYTHONPATH=str(REPO_ROOT),  # this tree's otel_bridge, whatever the editable install says
        **extra,
    )


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_genai_histograms_reach_the_otlp_receiver(protocol, otlp_receiver, openai_server, tmp_path):
    openai_server.enqueue(
        Reply(content="one two three", chunk_delay=0.01, prompt_tokens=11, completion_tokens=7),
        ErrorReply(status=500, message="boom"),
    )
    run = run_app(APP, tmp_path, _env(protocol, otlp_receiver, openai_server), under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["text"] == "one two three"
    assert run.result["flushed"] is True

    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
    }
    [mocked] = otlp_receiver.wait_for_histograms(
        lambda p: p.name == DURATION and p.attributes.get("server.address") == "api.openai.com"
    )
    assert mocked.count == 2
    [duration] = otlp_receiver.wait_for_histograms(
        lambda p: (
            p.name == DURATION
            and p.attributes.get("server.address") == "127.0.0.1"
            and "error.type" not in p.attributes
        )
    )
    assert duration.count == 1  # the stream: its duration runs to the stream's end
    assert duration.attributes["server.port"] == openai_server.port
    assert {k: duration.attributes[k] for k in base} == base
    assert duration.attributes["gen_ai.response.model"] == "gpt-4o-mini"
    assert duration.unit == "s"
    assert duration.bounds[:3] == [0.01, 0.02, 0.04] and duration.bounds[-1] == 81.92
    assert duration.scope_name == "otel_bridge.instrumentation.litellm"
    assert duration.scope_schema_url == "https://opentelemetry.io/schemas/1.45.0"
    assert duration.resource["service.name"] == "metrics-app"
    assert duration.protocol == protocol

    [failed] = otlp_receiver.wait_for_histograms(
        lambda p: p.name == DURATION and "error.type" in p.attributes
    )
    assert failed.count == 1
    assert failed.attributes["error.type"] == run.result["failed"]

    tokens = otlp_receiver.wait_for_histograms(lambda p: p.name == TOKENS, count=4)
    by_type: dict[str, list] = {}
    for point in tokens:
        by_type.setdefault(point.attributes["gen_ai.token.type"], []).append(point)
    assert set(by_type) == {"input", "output"}
    assert sum(p.count for p in by_type["input"]) == 3  # the failed call records none
    streamed = [p for p in by_type["output"] if p.attributes.get("server.address") == "127.0.0.1"]
    assert [p.sum for p in streamed] == [7]
    assert tokens[0].unit == "{token}" and tokens[0].bounds[:3] == [1, 4, 16]

    [first] = otlp_receiver.wait_for_histograms(lambda p: p.name == FIRST_CHUNK)
    assert first.count == 1 and first.attributes["server.address"] == "127.0.0.1"
    [per_chunk] = otlp_receiver.wait_for_histograms(lambda p: p.name == PER_CHUNK)
    assert per_chunk.count >= 2  # one value per chunk after the first


def test_no_metrics_when_the_exporter_is_none(otlp_receiver, openai_server, tmp_path):
    openai_server.enqueue(Reply(content="x"), ErrorReply(status=500))
    env = _env("http", otlp_receiver, openai_server, OTEL_METRICS_EXPORTER="none")
    run = run_app(APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["flushed"] is None  # no metrics pipeline was built
    otlp_receiver.wait_for_spans(4)  # the traces still went
    assert otlp_receiver.histograms() == []


def test_a_dead_metrics_backend_costs_the_app_nothing(otlp_receiver, openai_server, tmp_path):
    openai_server.enqueue(Reply(content="one two"), ErrorReply(status=500))
    dead = f"http://127.0.0.1:{free_port()}"
    env = _env(
        "http",
        otlp_receiver,
        openai_server,
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=f"{dead}/v1/metrics",
        OTEL_EXPORTER_OTLP_METRICS_TIMEOUT="30",
        OTEL_METRIC_EXPORT_INTERVAL="100",
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="1",
    )
    run = run_app(APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["text"] == "one two"
    assert run.result["flushed"] is False  # bounded: the flush gave up after its 5 s
    assert run.result["flush_took"] < 8
    otlp_receiver.wait_for_spans(4)  # traces are a separate pipeline


# configure() with no metrics endpoint: the app's own MeterProvider, set before or after.
OWN_PROVIDER = """
import json
import litellm
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
import otel_bridge

reader = InMemoryMetricReader()
own = MeterProvider(metric_readers=[reader])
if BEFORE:
    metrics.set_meter_provider(own)
bridge = otel_bridge.configure()
if not BEFORE:
    metrics.set_meter_provider(own)
litellm.completion(model="openai/gpt-4o-mini", mock_response="ok",
                   messages=[{"role": "user", "content": "hi"}])
data = reader.get_metrics_data()
names = sorted({m.name for rm in (data.resource_metrics if data else ())
                for sm in rm.scope_metrics for m in sm.metrics})
print(json.dumps({"pipeline": bridge.metrics is not None, "names": names}))
"""


@pytest.mark.parametrize("before", [True, False], ids=["set-before", "set-after"])
def test_without_a_metrics_endpoint_the_apps_own_provider_set_before_gets_them(
    before, otlp_receiver, tmp_path
):
    """No endpoint for metrics: no metrics pipeline. The GenAI metrics are recorded into the
    MeterProvider the app set before configure(); with none then, none are recorded (the
    API's no-op would still cost each call its histograms' work)."""
    env = base_env(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        PYTHONPATH=str(REPO_ROOT),
    )
    run = run_app(f"BEFORE = {before}\n" + OWN_PROVIDER, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    assert run.result["pipeline"] is False
    if before:
        assert DURATION in run.result["names"] and TOKENS in run.result["names"]
    else:
        assert run.result["names"] == []
