"""An exception on a span, without the secrets its text may quote.

``Span.record_exception`` writes ``str(exc)`` and the formatted traceback as they are; an
upstream 401 often quotes the key it refused, a ``repr`` of the call's arguments may hold
``api_key=...``, and the traceback's source lines may show a key written into the code. Here
the message, the stack trace and the status description are scrubbed first: every credential
the call carried (``api_key=``, credential headers), every credential the process knows of
(credential-named environment variables, keys set on the ``litellm`` module) and every
key-shaped string are replaced by ``***``. Runs only when a call fails.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable

from opentelemetry.trace import Span, Status, StatusCode

from otel_bridge.instrumentation.content import truncate, utf8_safe
from otel_bridge.redaction import process_secrets, replace_known, scrub

EXCEPTION_EVENT = "exception"
MAX_STACKTRACE_LENGTH = 16 * 1024  # the end of it: the exception raised last, and its frames
MAX_STATUS_LENGTH = 1024
MAX_MESSAGE_LENGTH = 32 * 1024  # an error quoting a 10 MB prompt stays small and cheap to scrub


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__qualname__} whose str() failed>"


def _stacktrace(exc: BaseException) -> str:
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        return ""
    return text[-16 * MAX_STACKTRACE_LENGTH :]  # bounds the cost of scrubbing it


def _tail(text: str, length: int) -> str:
    """The last ``length`` characters, from the start of a line (a cut never leaves the end of
    a key behind for someone to read)."""
    if len(text) <= length:
        return text
    tail = text[-length:]
    newline = tail.find("\n")
    return tail[newline + 1 :] if newline >= 0 else ""


def exception_type(exc: BaseException) -> str:
    """``exception.type``: the class's qualified name, module first (builtins bare)."""
    cls = type(exc)
    module = getattr(cls, "__module__", None)
    return f"{module}.{cls.__qualname__}" if module and module != "builtins" else cls.__qualname__


def _scrubbed_message(text: str, known: tuple[str, ...]) -> str:
    # the known secrets go before the cut (a cut through one would leave half of it behind):
    # the window is long enough for any secret that starts before the cut to be found whole
    window = MAX_MESSAGE_LENGTH + max(map(len, known), default=0)
    message = replace_known(text[:window], known)
    return utf8_safe(scrub(truncate(message, MAX_MESSAGE_LENGTH)))


def scrubbed_exception(exc: BaseException, secrets: Iterable[str] = ()) -> tuple[str, str]:
    """(message, stack trace) of ``exc``, scrubbed and valid UTF-8."""
    known = process_secrets(secrets)
    message = _scrubbed_message(_message(exc), known)
    stack = utf8_safe(_tail(scrub(_stacktrace(exc), known), MAX_STACKTRACE_LENGTH))
    return message, stack


def record_exception(
    span: Span, exc: BaseException, secrets: Iterable[str] = (), *, timestamp: int | None = None
) -> None:
    """Status ERROR and the ``exception`` event (type, message, stack trace), scrubbed.
    ``timestamp`` (ns): when the failure happened, for a span recorded after the fact."""
    message, stack = scrubbed_exception(exc, secrets)
    _record(span, exception_type(exc), type(exc).__qualname__, message, stack, timestamp)


def record_failure(
    span: Span,
    error_class: str,
    message: str,
    secrets: Iterable[str] = (),
    *,
    timestamp: int | None = None,
) -> None:
    """:func:`record_exception` for a failure known only by its class name and message (a
    LiteLLM callback without the exception object)."""
    text = _scrubbed_message(message, process_secrets(secrets))
    _record(span, error_class, error_class, text, "", timestamp)


def _record(
    span: Span, type_name: str, short_name: str, message: str, stack: str, timestamp: int | None
) -> None:
    attributes = {"exception.type": type_name, "exception.message": message}
    if stack:
        attributes["exception.stacktrace"] = stack
    span.add_event(EXCEPTION_EVENT, attributes, timestamp=timestamp)
    description = f"{short_name}: {message}"[:MAX_STATUS_LENGTH]
    span.set_status(Status(StatusCode.ERROR, description))
