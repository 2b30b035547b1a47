"""Secret scan: credentials passed every way LiteLLM takes them never reach a destination or a
log line of the bridge, with content capture on for both destinations and debug logging on.

One application run (a subprocess, configured from the environment like a user's) makes calls
through LiteLLM's real HTTP path with keys passed as ``api_key=``, as ``OPENAI_API_KEY``, in
``extra_headers`` (``Authorization``, ``api-key``, ``x-api-key``), in an ``api_base`` URL's
userinfo, in a Router deployment, in message content and tool arguments, set on the ``litellm``
module; an upstream 401 quotes the key it refused (one key shaped like an OpenAI key, one like an
Azure key, which no pattern recognises); a decorated step takes ``api_key=`` and fails quoting
it; the proxy callback records a failed call with a master key, a virtual key and a forwarded
``x-api-key``. The exporters' own credentials (an OTLP header, a password in the OTLP endpoint
and in the MLflow server's URL, an MLflow token) are in play too. Then every byte the OTLP
receiver got, every byte of the MLflow store (the sqlite file and the artifacts directory,
embedded or server) and the bridge's log (every ``otel_bridge`` logger at DEBUG) are searched.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.e2e.apps import REPO_ROOT, base_env, run_app
from tests.support.mlflow_server import MlflowServer
from tests.support.openai_server import ErrorReply, OpenAIServer, Reply
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.e2e


def _keys() -> dict[str, str]:
    token = secrets.token_urlsafe
    return {
        "argument": f"sk-proj-{token(24)}",
        "environment": f"sk-{token(24)}",
        "authorization": f"sk-ant-api03-{token(24)}",
        "azure_header": secrets.token_hex(16),  # Azure keys: 32 hex digits, no shape to match
        "x_api_key": token(20),
        "url_password": token(16),
        "router": f"sk-router-{token(20)}",
        "module": f"sk-module-{token(20)}",
        "refused": f"sk-proj-{token(24)}",
        "refused_azure": secrets.token_hex(16),
        "content": f"sk-proj-{token(24)}",
        "aws": "AKIA"
        + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
        "decorated": token(18),
        "master": f"sk-master-{token(24)}",
        "virtual": f"sk-virtual-{token(24)}",
        "forwarded": token(24),
        "otlp_header": token(20),
        "otlp_url_password": token(16),
        "mlflow_token": token(20),
        "mlflow_url_password": token(16),
    }


APP = """
import asyncio, json, logging, os, sys
sys.path.insert(0, os.environ["TEST_REPO_ROOT"])
keys = json.loads(os.environ["TEST_KEYS"])
log = logging.getLogger("otel_bridge")
log.setLevel(logging.DEBUG)
handler = logging.FileHandler(os.environ["TEST_BRIDGE_LOG"])
handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
log.addHandler(handler)

import litellm
import otel_bridge
from otel_bridge.proxy import OtelBridgeHandler
from tests.proxy.callback_events import END, START, chat_kwargs, headers

litellm._turn_on_debug()
bridge = otel_bridge.configure()
base = os.environ["TEST_OPENAI_BASE"]
user = [{"role": "user", "content": "Hi"}]
outcomes = []

def call(label, **kwargs):
    try:
        litellm.completion(model="openai/gpt-4o-mini", messages=kwargs.pop("messages", user),
                           num_retries=0, **kwargs)
        outcomes.append((label, "ok"))
    except Exception as exc:
        outcomes.append((label, type(exc).__name__))

call("argument", api_base=base, api_key=keys["argument"])
call("environment", api_base=base)
call("authorization", api_base=base, api_key="placeholder",
     extra_headers={"Authorization": "Bearer " + keys["authorization"]})
call("azure_header", api_base=base, api_key="placeholder",
     extra_headers={"api-key": keys["azure_header"]})
call("x_api_key", api_base=base, api_key="placeholder",
     extra_headers={"x-api-key": keys["x_api_key"]})
url = base.replace("http://", "http://user:" + keys["url_password"] + "@")
call("url", api_base=url, api_key="placeholder")
call("content", api_base=base, api_key="placeholder", messages=[
    {"role": "user", "content": "my key is " + keys["content"] + " and " + keys["aws"]},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
     "function": {"name": "login", "arguments": json.dumps({"token": keys["content"]})}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "ok " + keys["content"]}])
call("refused", api_base=base, api_key=keys["refused"])
call("refused_azure", api_base=base, api_key=keys["refused_azure"])
litellm.api_key = keys["module"]
call("module", api_base=base)
litellm.api_key = None

router = litellm.Router(model_list=[{"model_name": "team-gpt", "litellm_params": {
    "model": "openai/gpt-4o-mini", "api_base": base, "api_key": keys["router"]}}], num_retries=0)
try:
    router.completion(model="team-gpt", messages=user)
    outcomes.append(("router", "ok"))
except Exception as exc:
    outcomes.append(("router", type(exc).__name__))

@otel_bridge.trace(span_type="TOOL")
def login(user_name, api_key):
    raise PermissionError(f"login refused for api_key={api_key} ({api_key})")

try:
    login("ada", api_key=keys["decorated"])
except PermissionError:
    outcomes.append(("decorated", "PermissionError"))

# The proxy callback, as the LiteLLM proxy runs it after a failed call.
import types
server = types.ModuleType("litellm.proxy.proxy_server")
server.master_key = keys["master"]
sys.modules["litellm.proxy.proxy_server"] = server
proxy = OtelBridgeHandler(tracer_provider=bridge.provider, capture_content=True)
failure = litellm.AuthenticationError(
    message="bad key " + keys["virtual"] + " / " + keys["master"] + " / " + keys["forwarded"],
    llm_provider="openai", model="gpt-4o-mini")
event = chat_kwargs(failed=True, exception=failure, request_headers=headers(
    authorization="Bearer " + keys["virtual"], **{"x-api-key": keys["forwarded"]}))
event["messages"] = [{"role": "user", "content": "proxied " + keys["virtual"]}]
asyncio.run(proxy.async_log_failure_event(event, None, START, END))

print("flushed", bridge.force_flush(30), file=sys.stderr)
print(json.dumps({"outcomes": outcomes, "stats": bridge.stats()}, default=str))
"""

EXPECTED_OUTCOMES = {
    "argument": "ok",
    "environment": "ok",
    "authorization": "ok",
    "azure_header": "ok",
    "x_api_key": "ok",
    "url": "ok",
    "content": "ok",
    "refused": "AuthenticationError",
    "refused_azure": "AuthenticationError",
    "module": "ok",
    "router": "ok",
    "decorated": "PermissionError",
}


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _leaks(keys: dict[str, str], blobs: dict[str, bytes]) -> list[str]:
    return [
        f"{name} in {where}"
        for name, key in keys.items()
        for where, blob in blobs.items()
        if key.encode() in blob
    ]


@pytest.mark.parametrize("mlflow_mode", ["embedded", "server"])
def test_no_key_in_any_destination_or_log(
    mlflow_mode: str,
    tmp_path: Path,
    otlp_receiver: OtlpReceiver,
    openai_server: OpenAIServer,
    request: pytest.FixtureRequest,
):
    keys = _keys()
    openai_server.enqueue(*[Reply(content="fine") for _ in range(7)])
    openai_server.enqueue(
        ErrorReply(status=401, message=f"Incorrect API key provided: {keys['refused']}."),
        ErrorReply(status=401, message=f"Access denied: key {keys['refused_azure']} is invalid"),
        Reply(content="fine"),
        Reply(content="fine"),
    )
    log_path = tmp_path / "bridge.log"
    otlp_endpoint = otlp_receiver.http_endpoint.replace(
        "http://", f"http://otlp:{keys['otlp_url_password']}@"
    )
    env = base_env(
        OTEL_SERVICE_NAME="secret-scan",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=otlp_endpoint,
        OTEL_EXPORTER_OTLP_TRACES_HEADERS=f"api-key={keys['otlp_header']}",
        OTEL_BRIDGE_CONTENT_DESTINATIONS="otlp,mlflow",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OPENAI_API_KEY=keys["environment"],
        LITELLM_LOG="DEBUG",
        TEST_KEYS=json.dumps(keys),
        TEST_REPO_ROOT=str(REPO_ROOT),
        TEST_BRIDGE_LOG=str(log_path),
        TEST_OPENAI_BASE=openai_server.base_url,
    )
    store_root = tmp_path
    if mlflow_mode == "server":
        server: MlflowServer = request.getfixturevalue("mlflow_server")
        env["MLFLOW_TRACKING_URI"] = server.uri.replace(
            "http://", f"http://ml:{keys['mlflow_url_password']}@"
        )
        env["MLFLOW_TRACKING_TOKEN"] = keys["mlflow_token"]
        store_root = server.workdir
    run = run_app(APP, tmp_path, env, under_bridge=False)
    assert run.returncode == 0, run.stderr[-5000:]
    assert dict(run.result["outcomes"]) == EXPECTED_OUTCOMES, run.stderr[-3000:]

    # The exporter's credentials went where they belong, and only there.
    # (the receiver is shared by the session: a request of another test may also be in it)
    carrying = [r for r in otlp_receiver.requests if "api-key" in r.headers]
    assert carrying, "no OTLP request carried the configured api-key header"
    assert {r.headers["api-key"] for r in carrying} == {keys["otlp_header"]}
    # What LiteLLM sent: the keys did go to the model server (the scan is not vacuous).
    sent = json.dumps([r.headers for r in openai_server.requests])
    for name in ("argument", "environment", "authorization", "azure_header", "x_api_key"):
        assert keys[name] in sent, name

    # 12 LLM/TOOL spans + the proxy's, content captured, exceptions recorded with *** in place.
    spans = otlp_receiver.wait_for_spans(
        13, lambda s: s.resource.get("service.name") == "secret-scan", timeout=30
    )
    failed = [s for s in spans if s.status_code == 2]
    assert len(failed) >= 4, [(s.name, s.status_code) for s in spans]
    assert any("gen_ai.input.messages" in s.attributes for s in spans)
    messages = [a.get("exception.message", "") for s in failed for _, a in s.events]
    assert any("***" in m for m in messages), messages

    blobs = {"otlp": b"".join(r.request.SerializeToString() for r in otlp_receiver.requests)}
    blobs["bridge log"] = log_path.read_bytes()
    assert b"otel_bridge" in blobs["bridge log"]  # the bridge did log (at INFO and DEBUG)
    for path in _files_under(store_root):
        if path.name not in ("app.py", "bridge.log"):
            blobs[str(path.relative_to(store_root))] = path.read_bytes()
    assert any(name.endswith(".db") for name in blobs), sorted(blobs)
    assert not _leaks(keys, blobs)
