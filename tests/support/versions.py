"""Which LiteLLM the tests run on: the one place a test asks for a version.

`scripts/compat` runs tests on the oldest and the newest versions `pyproject.toml` allows; a test
that needs a newer LiteLLM skips there with the reason, it does not fail.
"""

from __future__ import annotations

import importlib.metadata

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
