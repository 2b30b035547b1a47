"""What a LiteLLM proxy callback knows about a request, read from its ``kwargs``.

Everything here reads LiteLLM's own structures (checked against litellm 1.108-1.110):

* ``kwargs["standard_logging_object"]`` (``StandardLoggingPayload``): ``request_tags``,
  ``model_group``, ``model_id``, ``api_base``, ``end_user``, ``session_id``, ``response_cost``,
  ``error_information``, and in ``metadata`` the key's identity (``user_api_key_hash``,
  ``user_api_key_alias``, ``user_api_key_team_id`` / ``_team_alias``, ``user_api_key_user_id``,
  ``user_api_key_org_id`` / ``_org_alias``, ``user_api_key_end_user_id``);
* ``kwargs["litellm_params"]["metadata"]`` (``litellm_metadata`` for the Responses and
  Anthropic routes): the client's request headers under ``headers`` (``traceparent`` among them)
  and the client's own metadata under ``requester_metadata``.

Only named fields are read, and only plain strings leave this module: the key itself, the
master key, upstream ``api_key`` values and any ``Authorization`` value are never copied; they
are collected instead (:func:`known_secrets`) so that free text (error messages) can be scrubbed
with :func:`otel_bridge.redaction.scrub` (the same scrubber as the SDK instrumentation's).
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_bridge import redaction
from otel_bridge.instrumentation.request import MAX_TAGS, bounded_tags

# LiteLLM adds "User-Agent: <agent>" entries of its own to the request tags.
_LITELLM_TAG_PREFIXES = ("User-Agent:",)

_METADATA_FIELDS = ("metadata", "litellm_metadata")
REDACTED = redaction.MASK


@dataclass(frozen=True)
class Identity:
    """Who made the request, as the proxy authenticated it. Hashes and names only."""

    key_hash: str | None = None
    key_alias: str | None = None
    team_id: str | None = None
    team_alias: str | None = None
    user_id: str | None = None
    org_id: str | None = None
    org_alias: str | None = None
    end_user: str | None = None


@dataclass(frozen=True)
class Deployment:
    """The model group the client asked for and the deployment the proxy's router used."""

    model_group: str | None = None
    model_id: str | None = None
    model: str | None = None  # the deployment's LiteLLM model, e.g. "openai/gpt-4o-mini"
    api_base: str | None = None


@dataclass(frozen=True)
class RequestMetadata:
    tags: list[str] = field(default_factory=list)
    tags_dropped: int = 0
    session_id: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None


def text_value(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def standard_logging_object(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    slo = kwargs.get("standard_logging_object")
    return slo if isinstance(slo, Mapping) else {}


def litellm_metadata(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The proxy's request metadata (``litellm_params.metadata`` or ``.litellm_metadata``)."""
    params = kwargs.get("litellm_params")
    for source in (params, kwargs):
        if not isinstance(source, Mapping):
            continue
        for name in _METADATA_FIELDS:
            found = source.get(name)
            if isinstance(found, Mapping) and found:
                return found
    return {}


def request_headers(kwargs: Mapping[str, Any]) -> dict[str, str]:
    """The client's request headers, names lower-cased (empty when LiteLLM kept none)."""
    metadata = litellm_metadata(kwargs)
    candidates = [metadata.get("headers")]
    requester = metadata.get("requester_metadata")
    if isinstance(requester, Mapping):
        candidates.append(requester.get("headers"))
    server_request = (kwargs.get("litellm_params") or {}).get("proxy_server_request")
    if isinstance(server_request, Mapping):
        candidates.append(server_request.get("headers"))
    for headers in candidates:
        if isinstance(headers, Mapping) and headers:
            return {str(k).lower(): v for k, v in headers.items() if isinstance(v, str)}
    return {}


def request_tags(kwargs: Mapping[str, Any]) -> tuple[list[str], int]:
    """The request's tags, in order, without LiteLLM's own ``User-Agent: ...`` entries, bounded
    as the instrumentation bounds them (any client sends them), and how many were left out."""
    raw = standard_logging_object(kwargs).get("request_tags")
    if not isinstance(raw, (list, tuple)):
        raw = litellm_metadata(kwargs).get("tags")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        return [], 0
    window = raw[: 4 * MAX_TAGS]  # LiteLLM's own entries come on top of the client's
    clients = [
        tag
        for tag in window
        if isinstance(tag, str) and tag.strip() and not tag.startswith(_LITELLM_TAG_PREFIXES)
    ]
    tags, dropped = bounded_tags([clients])
    return tags, dropped + len(raw) - len(window)


def request_metadata(kwargs: Mapping[str, Any]) -> RequestMetadata:
    """Tags and the client's session / conversation / user ids from its own metadata."""
    slo = standard_logging_object(kwargs)
    requester = litellm_metadata(kwargs).get("requester_metadata")
    requester = requester if isinstance(requester, Mapping) else {}
    tags, tags_dropped = request_tags(kwargs)
    return RequestMetadata(
        tags=tags,
        tags_dropped=tags_dropped,
        session_id=text_value(slo.get("session_id")) or text_value(requester.get("session_id")),
        conversation_id=text_value(requester.get("conversation_id")),
        user_id=text_value(requester.get("user_id")),
    )


def identity(kwargs: Mapping[str, Any]) -> Identity:
    slo = standard_logging_object(kwargs)
    slo_md = slo.get("metadata")
    sources = [s for s in (slo_md, litellm_metadata(kwargs)) if isinstance(s, Mapping)]

    def first(name: str) -> str | None:
        for source in sources:
            value = text_value(source.get(name))
            if value is not None:
                return value
        return None

    return Identity(
        key_hash=_hashed(first("user_api_key_hash")),
        key_alias=first("user_api_key_alias"),
        team_id=first("user_api_key_team_id"),
        team_alias=first("user_api_key_team_alias"),
        user_id=first("user_api_key_user_id"),
        org_id=first("user_api_key_org_id"),
        org_alias=first("user_api_key_org_alias"),
        end_user=text_value(slo.get("end_user"))
        or first("user_api_key_end_user_id")
        or text_value(kwargs.get("user")),
    )


def deployment(kwargs: Mapping[str, Any]) -> Deployment:
    slo = standard_logging_object(kwargs)
    params = kwargs.get("litellm_params")
    params = params if isinstance(params, Mapping) else {}
    metadata = litellm_metadata(kwargs)
    hidden = slo.get("hidden_params")
    hidden = hidden if isinstance(hidden, Mapping) else {}
    return Deployment(
        model_group=text_value(slo.get("model_group")) or text_value(metadata.get("model_group")),
        model_id=text_value(slo.get("model_id")) or text_value(hidden.get("model_id")),
        model=text_value(slo.get("model")),
        api_base=_masked_url(text_value(slo.get("api_base")) or text_value(params.get("api_base"))),
    )


# --- secret hygiene -------------------------------------------------------------------------


def _masked_url(url: str | None) -> str | None:
    """An api_base with its userinfo password and credential query values masked."""
    return redaction.redact_url(url) if url else url


def _proxy_master_key() -> str | None:
    """The running proxy's master key (from its config or LITELLM_MASTER_KEY), if loaded."""
    server = sys.modules.get("litellm.proxy.proxy_server")
    value = getattr(server, "master_key", None) if server is not None else None
    return value if isinstance(value, str) else None


_SHA256 = re.compile(r"[0-9a-f]{64}")
_KEY_FIELDS = ("user_api_key_hash", "user_api_key")


def _hashed(key: str | None) -> str | None:
    """LiteLLM hashes a key (SHA-256, its ``hash_token``) only when it starts with ``sk-``: a
    ``custom_auth`` key of another form reaches the callback as it is. Hashed here the same
    way, so only a hash ever leaves, and the same key always gives the same one."""
    if key is None or _SHA256.fullmatch(key):
        return key
    return hashlib.sha256(key.encode()).hexdigest()


def _unhashed_keys(kwargs: Mapping[str, Any]) -> set[str]:
    slo_md = standard_logging_object(kwargs).get("metadata")
    found: set[str] = set()
    for source in (slo_md, litellm_metadata(kwargs)):
        if isinstance(source, Mapping):
            for name in _KEY_FIELDS:
                value = text_value(source.get(name))
                if value is not None and not _SHA256.fullmatch(value):
                    found |= redaction.call_secrets({"api_key": value})
    return found


def known_secrets(kwargs: Mapping[str, Any]) -> frozenset[str]:
    """Credential values this call carries: to be scrubbed from any text that leaves."""
    found = redaction.header_secrets(request_headers(kwargs))
    found |= _unhashed_keys(kwargs)
    found |= redaction.call_secrets(
        {"master_key": _proxy_master_key(), "api_key": kwargs.get("api_key")}
    )
    params = kwargs.get("litellm_params")
    if isinstance(params, Mapping):
        found |= redaction.call_secrets({"api_key": params.get("api_key")})
    return frozenset(found)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and anything shaped like a key or bearer token masked."""
    return redaction.scrub(text, redaction.ordered(secrets))


def scrub_known(value: Any, secrets: frozenset[str]) -> Any:
    """An attribute value with the known secrets masked (message content keeps its shape)."""
    if not secrets:
        return value
    ordered = redaction.ordered(secrets)
    if isinstance(value, str):
        return _replace_known(value, ordered)
    if isinstance(value, (list, tuple)):
        return [_replace_known(item, ordered) if isinstance(item, str) else item for item in value]
    return value


def _replace_known(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
