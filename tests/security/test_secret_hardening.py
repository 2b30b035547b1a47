"""Credentials that got through before (issue 16, items 5-9 and 13), in a real application
process making real LiteLLM calls to the loopback model server, with content capture on for the
OTLP destination and the spool on: a key in ``api_base``'s query, inside ``client=``, behind an
``ApiKey`` scheme, the call's own key and a provider key typed into a message; and the working
directory (``PWD``), which is not a secret and must stay readable in stack traces."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.instrumentation.exceptions import MAX_MESSAGE_LENGTH, record_exception
from tests.e2e.apps import REPO_ROOT, base_env, run_app
from tests.support.openai_server import ErrorReply, OpenAIServer, Reply
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

APP = """
import json, logging, os, sys
import litellm, openai
import otel_bridge
keys = json.loads(os.environ["TEST_KEYS"])
log = logging.getLogger("otel_bridge")
log.setLevel(logging.DEBUG)
log.addHandler(logging.FileHandler(os.environ["TEST_BRIDGE_LOG"]))
bridge = otel_bridge.configure()
base = os.environ["TEST_OPENAI_BASE"]
seen = {}

def call(label, key, messages=None, **kwargs):
    try:
        litellm.completion(model="openai/gpt-4o-mini", num_retries=0,
                           messages=messages or [{"role": "user", "content": "Hi"}], **kwargs)
        seen[label] = "ok"
    except Exception as exc:
        # the exception the app sees quotes the key: what the span must not
        seen[label] = "quoted" if key in str(exc) else type(exc).__name__

call("query", keys["query"], api_base=base + "?key=" + keys["query"], api_key="placeholder")
call("client", keys["client"], client=openai.OpenAI(api_key=keys["client"], base_url=base))
call("scheme", keys["scheme"], api_base=base, api_key="placeholder",
     extra_headers={"Authorization": "ApiKey " + keys["scheme"]})
call("typed", keys["typed"], api_base=base, api_key=keys["typed"], messages=[
    {"role": "user", "content": "my key is " + keys["typed"] + ", azure's "
     + os.environ["AZURE_API_KEY"] + " in " + os.environ["PWD"]}])
print("flushed", bridge.force_flush(30), file=sys.stderr)
print(json.dumps({"seen": seen}))
"""


def test_keys_that_got_through_before_reach_no_destination_spool_or_log(
    tmp_path: Path, otlp_receiver: OtlpReceiver, openai_server: OpenAIServer
):
    keys = {
        "query": secrets.token_hex(20),  # no shape a pattern knows
        "client": secrets.token_urlsafe(24),
        "scheme": secrets.token_urlsafe(24),
        "typed": secrets.token_urlsafe(24),
        "azure": secrets.token_hex(16),
    }
    openai_server.enqueue(
        ErrorReply(status=401, message=f"key {keys['client']} refused"),
        ErrorReply(status=401, message=f"ApiKey {keys['scheme']} refused"),
        Reply(content="noted"),
    )
    log_path = tmp_path / "bridge.log"
    env = base_env(
        PYTHONPATH=str(REPO_ROOT),
        PWD=str(tmp_path),
        OTEL_SERVICE_NAME="secret-hardening",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_receiver.http_endpoint,
        OTEL_BRIDGE_CONTENT_DESTINATIONS="otlp",
        OTEL_BRIDGE_SPOOL_DIR=str(tmp_path / "spool"),
        OTEL_BSP_SCHEDULE_DELAY="200",
        AZURE_API_KEY=keys["azure"],
        TEST_KEYS=json.dumps(keys),
        TEST_BRIDGE_LOG=str(log_path),
        TEST_OPENAI_BASE=openai_server.base_url,
    )
    run = run_app(APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr[-5000:]
    # not vacuous: each key was in what the app saw, or went to the model server
    assert run.result["seen"] == {
        "query": "quoted",
        "client": "quoted",
        "scheme": "quoted",
        "typed": "ok",
    }, run.stderr[-3000:]

    spans = otlp_receiver.wait_for_spans(
        4, lambda s: s.resource.get("service.name") == "secret-hardening", timeout=30
    )
    failed = [s for s in spans if s.status_code == 2]
    assert len(failed) == 3
    [typed] = [s for s in spans if s.status_code != 2]
    messages = typed.attributes["gen_ai.input.messages"]
    # PWD names the working directory, not a password: it stays readable
    assert f"my key is ***, azure's *** in {tmp_path}" in messages

    blobs = {"otlp": b"".join(r.request.SerializeToString() for r in otlp_receiver.requests)}
    blobs["bridge log"] = log_path.read_bytes()
    for path in (tmp_path / "spool").rglob("*"):
        if path.is_file():
            blobs[str(path)] = path.read_bytes()
    leaks = [f"{n} in {w}" for n, k in keys.items() for w, b in blobs.items() if k.encode() in b]
    assert not leaks
    assert f"in {tmp_path}".encode() in blobs["otlp"]


def test_a_known_key_cut_by_the_message_limit_leaves_no_half_behind():
    key = secrets.token_urlsafe(30)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = provider.get_tracer("t").start_span("call")
    cut = MAX_MESSAGE_LENGTH - 64 - len(key) // 2  # the cut keeps 64 characters for its marker
    record_exception(span, ValueError("x" * cut + " " + key + " " + "y" * 500), {key})
    span.end()
    [event] = exporter.get_finished_spans()[0].events
    message = event.attributes["exception.message"]
    assert len(message) < MAX_MESSAGE_LENGTH + 100  # it was cut
    assert key[: len(key) // 3] not in message and key[-len(key) // 3 :] not in message
