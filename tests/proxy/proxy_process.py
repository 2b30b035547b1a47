"""A real ``litellm --config`` proxy as a subprocess on 127.0.0.1, in its own process group."""

from __future__ import annotations

import secrets
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.e2e.apps import REPO_ROOT, base_env
from tests.support.ports import LOOPBACK
from tests.support.servers import ServerProcess

LITELLM = Path(sys.executable).parent / "litellm"
VIRTUAL_KEYS_MODULE = Path(__file__).with_name("virtual_keys.py")
MOCK_CONTENT = "Hello from the mock deployment."


def strong_key(prefix: str) -> str:
    """A key LiteLLM accepts as a master key: long and random."""
    return f"{prefix}-{secrets.token_urlsafe(24)}"


def proxy_config(openai_base_url: str, upstream_key: str, dead_port: int) -> dict[str, Any]:
    """The tests' proxy: a mock_response deployment, the loopback OpenAI-compatible server, a
    deployment on a port nobody listens on, and one with a 1 s timeout; no retries."""

    def upstream(model_name: str, api_base: str, **extra: Any) -> dict[str, Any]:
        params = {"model": "openai/gpt-4o-mini", "api_base": api_base, "api_key": upstream_key}
        return {"model_name": model_name, "litellm_params": {**params, **extra}}

    return {
        "model_list": [
            {
                "model_name": "mock-gpt",
                "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": MOCK_CONTENT},
            },
            upstream("loop-gpt", openai_base_url),
            upstream("dead-gpt", f"http://{LOOPBACK}:{dead_port}/v1"),
            upstream("slow-gpt", openai_base_url, timeout=1),
        ],
        "litellm_settings": {
            "callbacks": "otel_bridge.proxy.handler",
            "num_retries": 0,
            "request_timeout": 10,
        },
        "router_settings": {"num_retries": 0},
        "general_settings": {
            "custom_auth": "virtual_keys.user_api_key_auth",
            "custom_auth_settings": {"mode": "auto"},
        },
    }


class LiteLLMProxy(ServerProcess):
    """``config``: the config as a mapping (written to the work directory, next to the tests'
    custom auth module) or the path of a config file to use as it is."""

    name = "litellm proxy"

    def __init__(
        self,
        workdir: Path,
        config: Mapping[str, Any] | Path,
        env: Mapping[str, str],
        launcher_args: Sequence[str] = (),
    ) -> None:
        """``launcher_args``: more options for ``litellm`` (``--num_workers 2``, ...)."""
        super().__init__(workdir, "proxy.log")
        self.config = config
        self.env = dict(env)
        self.launcher_args = list(launcher_args)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 180.0) -> LiteLLMProxy:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if isinstance(self.config, Path):
            config_path = self.config
        else:
            config_path = self.workdir / "config.yaml"
            config_path.write_text(yaml.safe_dump(dict(self.config), sort_keys=False))
            shutil.copy(VIRTUAL_KEYS_MODULE, self.workdir / VIRTUAL_KEYS_MODULE.name)
        env = base_env(
            LITELLM_TELEMETRY="False",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(REPO_ROOT),
            **self.env,
        )
        command = [str(LITELLM), "--config", str(config_path), *self.launcher_args]
        self._spawn([*command, "--host", LOOPBACK, "--port", str(self.port)], env, timeout)
        return self

    def is_healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/health/liveliness", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def terminate(self, timeout: float) -> float:
        """SIGTERM the proxy (as an orchestrator would); seconds it took to exit."""
        assert self._process is not None
        started = time.monotonic()
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=timeout)
        finally:
            self.kill()
        return time.monotonic() - started

    def stop(self, grace: float = 0.0) -> None:
        """No grace by default: terminate() is how a test asks for a graceful exit."""
        super().stop(grace)

    def kill(self) -> None:
        """Kill the proxy's process group (whatever is left of it) and close the log."""
        self.stop(grace=0)
