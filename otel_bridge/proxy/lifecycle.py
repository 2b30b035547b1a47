"""How the handler fits into the proxy process: one span source, and a bounded flush at shutdown.

Checked against litellm 1.108 and 1.110 (``litellm/proxy/proxy_server.py``):

* the proxy app is ``proxy_server.app``; its lifespan loads the config (and so creates the
  handler) before the first request, and at shutdown ends with ``await proxy_shutdown_event()``,
  looked up in the module at that moment;
* under uvicorn a SIGTERM is handled gracefully and then raised again with the default action,
  which ends the process without running ``atexit`` hooks: the flush has to happen inside the
  lifespan's shutdown, not at exit;
* callbacks run on ``GLOBAL_LOGGING_WORKER`` (``litellm_core_utils/logging_worker.py``), whose
  queue may still hold calls that finished just before the signal.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
from typing import Any

from otel_bridge.instrumentation.errors import record_error

_logger = logging.getLogger(__name__)

_PROXY_SERVER = "litellm.proxy.proxy_server"
_LOGGING_WORKER = "litellm.litellm_core_utils.logging_worker"
_MARK = "_otel_bridge_flush"


def without_instrumentor() -> None:
    """Take the LiteLLM instrumentor out of this process: the callback's span is the call's span.

    The proxy's router calls ``litellm.acompletion`` inside each request; instrumented, that
    call would get a second span, in a trace of its own (nothing in the proxy makes the caller's
    ``traceparent`` current), without the proxy's identity and tags."""
    try:
        from otel_bridge.instrumentation import LiteLLMInstrumentor

        instrumentor = LiteLLMInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
            _logger.info(
                "otel-bridge: LiteLLM proxy callback in use; the LiteLLM instrumentor is off in "
                "this process (one span per proxied call, from the callback)"
            )
    except Exception:
        record_error("proxy_uninstrument")


def without_server_spans() -> None:
    """Switch off FastAPI's own request spans on the proxy app (FastAPI 0.16x traces every
    request as soon as a global TracerProvider exists). Left on, each proxied call would have
    an HTTP SERVER span beside its CLIENT span under the caller's span: two roots for the trace
    in MLflow, the server span without the call's tags and inputs and, for a 4xx answer, not
    even in error; and a trace for every health probe. The CLIENT span is the proxy's top span
    instead, directly under the caller's."""
    try:
        server = sys.modules.get(_PROXY_SERVER)
        app = getattr(server, "app", None)
        config = getattr(app, "_telemetry", None)
        if isinstance(config, dict) and config.get("tracing"):
            config["tracing"] = False
            config["operation_spans"] = False
            _logger.info("otel-bridge: FastAPI request spans are off on the LiteLLM proxy app")
    except Exception:
        record_error("proxy_server_spans")


def _logging_worker() -> Any:
    return getattr(sys.modules.get(_LOGGING_WORKER), "GLOBAL_LOGGING_WORKER", None)


async def flush_async(bridge: Any, timeout: float) -> None:
    """Run the callbacks still queued (at most ``timeout`` s), then shut the bridge down (each
    destination at most ``OTEL_BRIDGE_SHUTDOWN_TIMEOUT`` s, in parallel), off the event loop."""
    worker = _logging_worker()
    flush = getattr(worker, "flush", None)
    if callable(flush):
        try:
            await asyncio.wait_for(flush(), timeout=timeout)
        except asyncio.TimeoutError:
            _logger.warning("otel-bridge: LiteLLM callbacks still queued after %.1fs", timeout)
        except Exception:
            _logger.debug("otel-bridge: LiteLLM logging worker flush failed", exc_info=True)
    await asyncio.to_thread(shutdown_bridge, bridge)


def flush_on_proxy_shutdown(bridge: Any, timeout: float) -> bool:
    """Have the proxy's own shutdown (the end of its lifespan) flush and shut the bridge down.
    True when the hook is in place."""
    server: Any = sys.modules.get(_PROXY_SERVER)  # its attributes probed and patched by name
    original = getattr(server, "proxy_shutdown_event", None)
    if server is None or not callable(original) or getattr(original, _MARK, False):
        return False

    async def proxy_shutdown_event(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original(*args, **kwargs)
        finally:
            try:
                await flush_async(bridge, timeout)
            except Exception:
                _logger.warning("otel-bridge: flush at proxy shutdown failed", exc_info=True)

    setattr(proxy_shutdown_event, _MARK, True)
    proxy_shutdown_event.__wrapped__ = original  # type: ignore[attr-defined]
    server.proxy_shutdown_event = proxy_shutdown_event
    return True


_exit_lock = threading.Lock()


def shutdown_bridge(bridge: Any) -> None:
    with _exit_lock:
        try:
            bridge.shutdown()
        except Exception:
            _logger.warning("otel-bridge: shutdown failed", exc_info=True)


def flush_at_exit(bridge: Any) -> None:
    """For an exit that runs ``atexit`` hooks (SIGINT, the end of a script): LiteLLM's own exit
    hook would run the queued callbacks after the bridge's hook shut it down (hooks run last
    registered first), so run them here first (bounded by LiteLLM's MAX_TIME_TO_CLEAR_QUEUE)."""
    flush = getattr(_logging_worker(), "_flush_on_exit", None)
    if callable(flush):
        try:
            flush()
        except Exception:
            _logger.debug("otel-bridge: LiteLLM logging worker flush at exit failed", exc_info=True)
    shutdown_bridge(bridge)


def register_flush(bridge: Any, timeout: float) -> None:
    """Both shutdown paths; whichever comes first shuts the bridge down (a second is a no-op)."""
    flush_on_proxy_shutdown(bridge, timeout)
    # Registered after configure()'s own exit hook, so it runs before it.
    atexit.register(flush_at_exit, bridge)
