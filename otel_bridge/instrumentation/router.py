"""A Router call's sampling-relevant attributes at span start, from the Router's deployments.

The conventions ask for ``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``server.address`` and ``server.port`` when the span starts (samplers
see only those). Before a Router call runs, which deployment it will use is not known; when all
the deployments of the model group agree on a provider (and on an endpoint), that is known, and
is set at start. The deployment actually used still sets them again at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_bridge.instrumentation.providers import resolve_model
from otel_bridge.instrumentation.request import set_provider, set_server

_MAX_DEPLOYMENTS = 256  # a larger model list is not scanned on the call's thread


def start_attributes(attrs: dict[str, Any], router: Any, model_group: str) -> None:
    deployments = getattr(router, "model_list", None)
    if not isinstance(deployments, list) or len(deployments) > _MAX_DEPLOYMENTS:
        return
    providers: set[str | None] = set()
    bases: set[Any] = set()
    for deployment in deployments:
        if not isinstance(deployment, Mapping) or deployment.get("model_name") != model_group:
            continue
        params = deployment.get("litellm_params")
        if not isinstance(params, Mapping) or not isinstance(params.get("model"), str):
            return  # a deployment we cannot read: nothing is known for sure
        providers.add(resolve_model(params["model"], params.get("custom_llm_provider"))[1])
        bases.add(params.get("api_base"))
    if len(providers) != 1 or None in providers:
        return
    provider = providers.pop()
    set_provider(attrs, provider)
    if len(bases) == 1:
        set_server(attrs, bases.pop(), provider)
