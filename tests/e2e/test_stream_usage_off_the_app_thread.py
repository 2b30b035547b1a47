"""Under `otel_bridge.configure()` a stream whose provider sent no usage is counted with LiteLLM's
tokenizer by the pipeline's threads, never the app's, and every destination gets the count:
OTLP (no content), MLflow (no content: its trace's token usage) and the token-usage metric."""

from __future__ import annotations

import uuid

import litellm
import pytest
from mlflow import MlflowClient

from tests.e2e.apps import base_env, run_app
from tests.support.mlflow_traces import wait_for_experiment, wait_for_traces
from tests.support.openai_server import Reply

pytestmark = pytest.mark.e2e

QUESTION = "Stream me the weather."
STREAMED = "Streaming along: it's sunny in Paris, take sunglasses."

# LiteLLM's tokenizer spied on (not replaced): which threads count, and when.
APP = """
import json, os, threading, time
import litellm, otel_bridge

threads = []
count = litellm.token_counter

def spy(*args, **kwargs):
    threads.append(threading.current_thread().name)
    return count(*args, **kwargs)

litellm.token_counter = spy
bridge = otel_bridge.configure()
stream = litellm.completion(
    model="openai/gpt-4o-mini", messages=[{"role": "user", "content": os.environ["TEST_QUESTION"]}],
    stream=True, api_base=os.environ["TEST_OPENAI_BASE"], api_key="sk-test", num_retries=0,
)
text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
at_stream_end = list(threads)
deadline = time.monotonic() + 30  # the metrics drainer runs every 0.5 s, the workers too
while len(threads) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
counted = list(threads)  # before any flush the app asks for (that may run on its thread)
bridge.force_flush()
bridge.metrics.force_flush(5)
print(json.dumps({"text": text, "at_stream_end": at_stream_end, "counted": counted,
                  "in_all": len(threads)}))
"""


def test_the_estimate_is_counted_off_the_apps_thread_for_every_destination(
    otlp_receiver, openai_server, tmp_path
):
    service = f"stream-usage-{uuid.uuid4().hex[:8]}"
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    openai_server.enqueue(Reply(content=STREAMED))
    env = base_env(
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.grpc_endpoint,  # traces and metrics
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_BRIDGE_CONTENT_DESTINATIONS="none",
        MLFLOW_TRACKING_URI=tracking_uri,
        TEST_OPENAI_BASE=openai_server.base_url,
        TEST_QUESTION=QUESTION,
        OTEL_BRIDGE_SHUTDOWN_TIMEOUT="60",  # the flush's: the store opens on MLflow's thread
    )
    run = run_app(APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr
    result = run.result
    assert result["text"] == STREAMED
    assert "stream_options" not in openai_server.requests[0].json  # the app's request, as it was

    assert result["at_stream_end"] == []  # the app's thread ended the stream without counting
    assert result["counted"], "no pipeline thread counted the stream's tokens"
    assert all(name.startswith("otel-bridge-") for name in result["counted"]), result["counted"]
    # the prompt and the text, counted once for the three that need them (OTLP, MLflow, the
    # token metric), however they raced for it (a busy machine made all three count, before)
    assert len(result["counted"]) == 2 and result["in_all"] == 2, result

    prompt = litellm.token_counter(
        model="gpt-4o-mini", messages=[{"role": "user", "content": QUESTION}]
    )
    completion = litellm.token_counter(
        model="gpt-4o-mini", text=STREAMED, count_response_tokens=True
    )
    [span] = otlp_receiver.wait_for_spans(1, lambda s: s.resource.get("service.name") == service)
    assert span.attributes["gen_ai.usage.input_tokens"] == prompt
    assert span.attributes["gen_ai.usage.output_tokens"] == completion
    assert span.attributes["litellm.usage.estimated"] is True
    assert "gen_ai.input.messages" not in span.attributes  # content off everywhere

    tokens = otlp_receiver.wait_for_histograms(
        lambda p: (
            p.name == "gen_ai.client.token.usage" and p.resource.get("service.name") == service
        ),
        count=2,
    )
    assert {p.attributes["gen_ai.token.type"]: p.sum for p in tokens} == {
        "input": prompt,
        "output": completion,
    }

    client = MlflowClient(tracking_uri)
    [trace] = wait_for_traces(client, wait_for_experiment(client, service), spans=1)
    assert trace.info.token_usage == {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
    }
    assert trace.data.spans[0].get_attribute("litellm.usage.estimated") is True
