"""SIGTERM reaches the bridge's handler, whichever thread it lands on and whenever it comes.

Python runs a signal handler only on the main thread, when that thread next runs Python code;
two ways that fails, each of which left a process that ignores SIGTERM for ever (a
``multiprocessing`` pool waiting on it at ``terminate()``):

* the kernel delivers the signal to any thread that does not block it. Delivered to one of the
  bridge's threads, it does not interrupt a main thread blocked in a wait (a pool worker
  waiting on a semaphore for its next task), which then never runs the handler. The bridge's
  threads are started with SIGTERM blocked (:func:`start_thread`; a new thread inherits the
  mask of the thread that starts it, and so do the threads it starts: gRPC's);
* a signal that arrives in a child between ``fork()`` and the interpreter's after-fork reset
  is forgotten by that reset (the pool terminating a worker it has just forked). While the
  handler is installed, SIGTERM is blocked across ``fork()`` (:func:`hold_across_fork`): it
  stays pending in the child and is handled once the child runs again.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

_BLOCKED = {signal.SIGTERM} if hasattr(signal, "pthread_sigmask") else set()
_forking = threading.local()


def start_thread(target: Callable[..., Any], name: str, *args: Any) -> threading.Thread:
    """A daemon thread running ``target(*args)``, started with SIGTERM blocked."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    if not _BLOCKED:
        thread.start()
        return thread
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread


def _before_fork() -> None:
    _forking.was_blocked = signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)


def _after_fork() -> None:
    if not getattr(_forking, "was_blocked", True):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _BLOCKED)


def hold_across_fork() -> None:
    """From now on, SIGTERM is blocked during every ``fork()`` (once per process)."""
    if _BLOCKED and hasattr(os, "register_at_fork"):
        os.register_at_fork(
            before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork
        )


# --- a main thread that missed the signal ---------------------------------------------------
#
# A third way: a signal that lands while the main thread is between two futex waits inside
# glibc's sem_wait (a multiprocessing lock changing hands) runs the C-level handler, which
# only notes it, and the main thread goes back to sleep without ever returning to Python (seen
# in pool workers terminated while they wait for a task the parent will never send). In such a
# child a watcher thread learns of the signal from the interpreter's wakeup fd and sends it
# again, to the main thread alone, until the handler has started: a signal that interrupts the
# wait itself makes the interpreter run the handler.

_NUDGE_INTERVAL = 0.05
_NUDGES = 100  # 5 s: then the process is left as it is
handler_started = threading.Event()


def watch_for_missed_signal() -> None:
    """In a forked child's main thread: start the watcher, unless the wakeup fd is taken."""
    if not _BLOCKED or threading.current_thread() is not threading.main_thread():
        return
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    try:
        previous = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    except (ValueError, OSError):
        previous = None
    if previous != -1:  # the application (asyncio) uses it, or it failed: leave it alone
        if previous is not None:
            signal.set_wakeup_fd(previous)
        os.close(reader)
        os.close(writer)
        return
    start_thread(_watch, "otel-bridge-sigterm-watch", reader, threading.main_thread().ident)


def _watch(reader: int, main_thread: int) -> None:
    while True:
        try:
            received = os.read(reader, 64)
        except OSError:
            return
        if not received:
            return
        if signal.SIGTERM not in received:
            continue
        for _ in range(_NUDGES):
            if handler_started.wait(_NUDGE_INTERVAL):
                return
            try:
                signal.pthread_kill(main_thread, signal.SIGTERM)
            except (OSError, ValueError):
                return
