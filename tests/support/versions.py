"""Which LiteLLM the tests run on: the one place a test asks for a version.

`scripts/compat` runs tests on the oldest and the newest versions `pyproject.toml` allows; a test
that needs a newer LiteLLM skips there with the reason, it does not fail.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import pytest
from packaging.version import Version

LITELLM = Version(importlib.metadata.version("litellm"))


def litellm_before(version: str) -> bool:
    return Version(version) > LITELLM


def needs_litellm(minimum: str, reason: str) -> pytest.MarkDecorator:
    """Skip the test on a LiteLLM older than ``minimum``, saying why."""
    return pytest.mark.skipif(
        litellm_before(minimum),
        reason=f"needs LiteLLM >= {minimum} (installed {LITELLM}): {reason}",
    )


def _streaming_handler_mentions(name: str) -> bool:
    spec = importlib.util.find_spec("litellm.litellm_core_utils.streaming_handler")
    return bool(spec and spec.origin and name in Path(spec.origin).read_text())


# Newer LiteLLM keeps the model the server streamed in each chunk's hidden params; older ones
# (1.74) rewrite chunk.model to the one asked for and keep nothing else: the bridge then can only
# report the requested model.
STREAMED_MODEL_KEPT = _streaming_handler_mentions("provider_response_model")
