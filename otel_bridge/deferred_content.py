"""Message content serialised off the application's thread.

Under ``otel_bridge.configure()`` the instrumentation does not build the JSON of the messages
while the app waits: it keeps references (a copy of the message list, the response object, a
stream's pieces) in a :class:`PendingContent`, files it in the :class:`ContentRegistry` under
the span's id just before the span ends, and the pipeline's span processor moves it onto
the finished span (:mod:`otel_bridge.pipeline_content`). The destinations that may
receive content build the attributes in their own worker threads, once per span, scrubbed
as ever; the others never build them.

An entry may also carry :class:`DeferredAttributes` that are not content (a stream's usage
counted with LiteLLM's tokenizer): every destination gets those, content or not, and the
metrics drainer reads the same object, so whichever bridge thread needs them first builds them,
once.

Kept apart from the instrumentation and the exporters so that neither imports the other.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from otel_bridge.redaction import known_secrets

_logger = logging.getLogger("otel_bridge")

Serialise = Callable[..., str]  # (value, secrets=...) -> JSON text

# Entries live from just before a span ends to its processors' on_end (microseconds, on the same
# thread): more than this many at once means spans were ended elsewhere; the oldest are dropped.
MAX_PENDING = 4096


class DeferredAttributes:
    """Attributes built once, on first use, by ``build(*args)``, off the app's thread. Threads
    asking at the same time (each destination's worker, the metrics drainer) wait for the first
    one's result: on a busy machine they all ask at once, and each build is a tokenizer run."""

    __slots__ = ("_args", "_build", "_built", "_lock")

    def __init__(self, build: Callable[..., dict[str, Any]], *args: Any) -> None:
        self._build = build
        self._args = args
        self._built: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def attributes(self) -> dict[str, Any]:
        built = self._built
        if built is None:
            with self._lock:
                built = self._built
                if built is None:
                    try:
                        built = self._build(*self._args)
                    except Exception:  # the attributes missing, never the span
                        _logger.debug(
                            "otel-bridge: could not build deferred attributes", exc_info=True
                        )
                        built = {}
                    self._built = built
        return built


class PendingContent:
    """A span's content attributes, each built on first use by ``build(*args)`` then serialised,
    and its deferred attributes that every destination gets (``usage``)."""

    __slots__ = ("_attributes", "_serialise", "items", "secrets", "usage")

    def __init__(self, serialise: Serialise) -> None:
        self._serialise = serialise
        # the credentials of the call (read when the content is built): masked in it, as the
        # process's own (credential-named environment variables, keys on the litellm module)
        self.secrets: Callable[[], Iterable[str]] | None = None
        # (attribute, build, args): appended to directly on the app's thread (no method call)
        self.items: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = []
        self._attributes: dict[str, str] | None = None
        self.usage: DeferredAttributes | None = None

    def __bool__(self) -> bool:
        return bool(self.items) or self.usage is not None

    def usage_attributes(self) -> dict[str, Any]:
        usage = self.usage
        return usage.attributes() if usage is not None else {}

    def attributes(self) -> dict[str, str]:
        """The content attributes, built once (two destinations' workers racing may both build them:
        the builders are pure, and either result is kept)."""
        built = self._attributes
        if built is None:
            built = {}
            secrets = self._known_secrets() if self.items else ()
            for key, build, args in self.items:
                try:
                    built[key] = self._serialise(build(*args), secrets=secrets)
                except Exception:  # one attribute missing, never the span
                    _logger.debug("otel-bridge: could not build %s", key, exc_info=True)
            self._attributes = built
        return built

    def _known_secrets(self) -> tuple[str, ...]:
        try:
            call = set(self.secrets()) if self.secrets is not None else set()
        except Exception:
            call = set()
        return known_secrets(call)


class ContentRegistry:
    """Span id -> its pending content, between the end of the span and its processors."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        # read as it is by the binder, on every span's end: empty most of the time
        self.entries: dict[int, PendingContent] = {}

    def put(self, span_id: int, content: PendingContent) -> None:
        pending = self.entries
        pending[span_id] = content
        if len(pending) > MAX_PENDING:
            # another thread may have taken it first
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del pending[next(iter(pending))]

    def pop(self, span_id: int) -> PendingContent | None:
        return self.entries.pop(span_id, None)

    def __len__(self) -> int:
        return len(self.entries)
