"""A LiteLLM proxy whose ``custom_auth`` accepts keys that do not start with ``sk-``: LiteLLM
hashes only ``sk-`` keys, so such a key reached the callback as it is and was written as the
key's "hash", and left in exception text and content. A real proxy process, real requests."""

from __future__ import annotations

import hashlib
import secrets

import pytest
import requests

from tests.proxy.proxy_process import LiteLLMProxy, proxy_config, strong_key
from tests.support.openai_server import ErrorReply, Reply
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e


def test_a_key_litellm_does_not_hash_never_leaves_the_proxy(tmp_path, otlp_receiver, openai_server):
    virtual = f"team7-{secrets.token_urlsafe(24)}"  # custom_auth's own format: no sk-
    master = strong_key("sk-master")
    service = f"unhashed-{secrets.token_hex(4)}"
    config = proxy_config(openai_server.base_url, strong_key("sk-upstream"), free_port())
    proxy = LiteLLMProxy(
        tmp_path / "proxy",
        config,
        {
            "LITELLM_MASTER_KEY": master,
            "TEST_VIRTUAL_KEY": virtual,
            "OTEL_SERVICE_NAME": service,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_receiver.http_endpoint,
            "OTEL_BRIDGE_CONTENT_DESTINATIONS": "otlp",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        },
    ).start()
    try:
        # an upstream that echoes the prompt in its error, and one answer that quotes it
        openai_server.enqueue(
            ErrorReply(status=400, message=f"cannot process 'my key is {virtual}'"),
            Reply(content=f"you said {virtual}"),
        )
        for _ in range(2):
            requests.post(
                f"{proxy.url}/chat/completions",
                json={
                    "model": "loop-gpt",
                    "messages": [{"role": "user", "content": f"my key is {virtual}"}],
                },
                headers={"Authorization": f"Bearer {virtual}"},
                timeout=60,
            )
        spans = otlp_receiver.wait_for_spans(
            2, lambda s: s.resource.get("service.name") == service, timeout=30
        )
    finally:
        proxy.kill()
    assert [r for r in openai_server.requests if virtual in str(r.json)]  # not vacuous
    hashes = {s.attributes.get("litellm.proxy.key.hash") for s in spans}
    assert hashes == {hashlib.sha256(virtual.encode()).hexdigest()}
    failed = [s for s in spans if s.status_code == 2]
    assert failed and all("***" in s.status_message for s in failed), failed
    exported = b"".join(r.request.SerializeToString() for r in otlp_receiver.requests)
    assert virtual.encode() not in exported
    assert any(b"my key is ***" in r.request.SerializeToString() for r in otlp_receiver.requests)
