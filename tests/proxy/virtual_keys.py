"""A LiteLLM ``custom_auth`` that knows one virtual key, as a database-backed proxy would.

The tests' proxy runs without a database, so it cannot issue virtual keys; this function stands
in for the key table: it accepts ``TEST_VIRTUAL_KEY`` with a key alias, a team and a user, and
raises for anything else, which (``custom_auth_settings: {mode: auto}``) hands the request to
LiteLLM's own checks, the master key among them. Copied next to the proxy's config.yaml, from
where the proxy loads it.
"""

from __future__ import annotations

import os

from fastapi import Request
from litellm.proxy._types import UserAPIKeyAuth

KEY_ALIAS = "ci-pipeline-key"
TEAM_ID = "team-42"
TEAM_ALIAS = "search-team"
USER_ID = "u-17"


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    if api_key and api_key == os.environ.get("TEST_VIRTUAL_KEY"):
        return UserAPIKeyAuth(
            api_key=api_key,  # LiteLLM stores and logs its hash only
            key_alias=KEY_ALIAS,
            team_id=TEAM_ID,
            team_alias=TEAM_ALIAS,
            user_id=USER_ID,
        )
    raise ValueError("not this test's virtual key")
