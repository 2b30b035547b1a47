"""Callback inputs shaped like the ones LiteLLM's proxy hands to a ``CustomLogger``.

Trimmed from what litellm 1.110's proxy passed to ``async_log_success_event`` /
``async_log_failure_event`` for /chat/completions (recorded with a logging callback): only the
fields the handler reads, plus the credentials it must never copy.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import litellm

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
UPSTREAM_KEY = "sk-upstream-Hq84nWm2Lx"
MASTER_KEY = "sk-master-Zx9s8d7f6g5h4j3k2l1q"
KEY_HASH = "f10b5d1bd08427c2bea6bda16001c95a21561845e83d4c10759c0d5739c3c707"
START = dt.datetime(2026, 11, 26, 21, 32, 59, 319143)
END = dt.datetime(2026, 11, 26, 21, 32, 59, 826363)
FIRST_CHUNK = dt.datetime(2026, 11, 26, 21, 32, 59, 419143)
USER_MESSAGES = [{"role": "user", "content": "what llm are you"}]
TAGS = [
    "jobID:214590dsff09fds",
    "taskName:run_page_classification",
    "nightly",
    "User-Agent: curl",
    "User-Agent: curl/7.88.1",
]


def headers(traceparent: str | None = TRACEPARENT, **extra: str) -> dict[str, str]:
    found = {"host": "127.0.0.1:4000", "user-agent": "curl/7.88.1", "accept": "*/*"}
    if traceparent:
        found["traceparent"] = traceparent
    found.update(extra)
    return found


def chat_kwargs(
    *,
    stream: bool = False,
    api_base: str = "http://127.0.0.1:45145/v1",
    request_headers: dict[str, str] | None = None,
    tags: list[str] | None = None,
    end_user: str | None = "enduser-7",
    call_type: str = "acompletion",
    failed: bool = False,
    exception: BaseException | None = None,
) -> dict[str, Any]:
    request_headers = headers() if request_headers is None else request_headers
    tags = TAGS if tags is None else tags
    client_metadata = {"tags": [t for t in tags if not t.startswith("User-Agent")]}
    metadata = {
        "headers": request_headers,
        "requester_metadata": {**client_metadata, "headers": request_headers},
        "tags": client_metadata["tags"],
        "user_api_key_hash": KEY_HASH,
        "user_api_key_alias": "ci-pipeline-key",
        "user_api_key_team_id": "team-42",
        "user_api_key_team_alias": "search-team",
        "user_api_key_user_id": "u-17",
        "user_api_key_end_user_id": end_user,
        "user_api_key": KEY_HASH,
        "model_group": "loop-gpt",
    }
    slo: dict[str, Any] = {
        "id": "chatcmpl-1",
        "litellm_call_id": "call-1",
        "trace_id": TRACE_ID,
        "session_id": "",
        "call_type": call_type,
        "stream": stream,
        "status": "failure" if failed else "success",
        "startTime": START.timestamp(),
        "endTime": END.timestamp(),
        "completionStartTime": FIRST_CHUNK.timestamp(),
        "model": "openai/gpt-4o-mini",
        "metadata": {
            "user_api_key_hash": KEY_HASH,
            "user_api_key_alias": "ci-pipeline-key",
            "user_api_key_team_id": "team-42",
            "user_api_key_team_alias": "search-team",
            "user_api_key_user_id": "u-17",
            "user_api_key_end_user_id": end_user,
            "requester_metadata": {**client_metadata, "headers": request_headers},
        },
        "response_cost": 0.0 if failed else 5.85e-06,
        "request_tags": list(tags),
        "end_user": end_user or "",
        "api_base": api_base,
        "model_group": "loop-gpt",
        "model_id": "2e635f1a7ab7",
        "hidden_params": {"model_id": "2e635f1a7ab7", "api_base": api_base},
        "error_str": None,
        "error_information": {"error_code": "", "error_class": "", "llm_provider": ""},
    }
    kwargs: dict[str, Any] = {
        "litellm_trace_id": TRACE_ID,
        "litellm_call_id": "call-1",
        "model": "gpt-4o-mini",
        "messages": USER_MESSAGES,
        "input": USER_MESSAGES,
        "optional_params": {
            "temperature": 0.3,
            "max_tokens": 64,
            "stream": stream,
            "user": end_user,
            "max_retries": 0,
            "extra_body": {},
        },
        "litellm_params": {
            "acompletion": True,
            "api_key": UPSTREAM_KEY,
            "custom_llm_provider": "openai",
            "api_base": api_base,
            "litellm_call_id": "call-1",
            "metadata": metadata,
        },
        "start_time": START,
        "stream": stream,
        "user": end_user,
        "call_type": call_type,
        "completion_start_time": FIRST_CHUNK,
        "temperature": 0.3,
        "custom_llm_provider": "openai",
        "api_key": UPSTREAM_KEY,
        "standard_logging_object": slo,
    }
    if failed:
        exc = exception or litellm.RateLimitError(
            message=f"RateLimitError: OpenAIException - slow down (key {UPSTREAM_KEY})",
            llm_provider="openai",
            model="gpt-4o-mini",
        )
        kwargs["exception"] = exc
        kwargs["log_event_type"] = "failed_api_call"
        slo["error_str"] = str(exc)
        slo["error_information"] = {
            "error_code": str(getattr(exc, "status_code", "")),
            "error_class": type(exc).__name__,
            "llm_provider": "openai",
        }
    return kwargs


def chat_response(content: str = "Hello from the loopback model.") -> litellm.ModelResponse:
    return litellm.ModelResponse(
        id="chatcmpl-9",
        model="loop-gpt",
        choices=[
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        usage={
            "prompt_tokens": 11,
            "completion_tokens": 7,
            "total_tokens": 18,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    )
