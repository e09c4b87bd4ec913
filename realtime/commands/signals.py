"""Exit codes, and what SIGTERM and Ctrl+C do to the commands: a scan stops as at Ctrl+C and
reports the files finished (exit 143); a watch ends cleanly, sources released and events
flushed."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

EXIT_OK, EXIT_PARTIAL, EXIT_UNUSABLE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, as a shell reports a process SIGTERM ended


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread where Ctrl+C raises KeyboardInterrupt, so that a scan
    stops the same way (the files finished are reported) and then exits 143."""


_terminated = threading.Event()  # a SIGTERM arrived (the cluster's run swallows the exception)
_sigterm_scope = threading.Event()  # sigterm_as_interrupt's handler is in place


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, the first SIGTERM raises Terminated; later ones are ignored, so the
    report of what finished is written whole. Ctrl+C (SIGINT) raises KeyboardInterrupt even in a
    process started with it ignored (a shell script's background job), as `watch` handles it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _terminated.set()
        raise Terminated

    _terminated.clear()
    previous = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    _sigterm_scope.set()
    try:
        yield
    finally:
        _sigterm_scope.clear()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def hold_sigterm() -> None:
    """The report is being written: a SIGTERM from now on must not cut it short (ignored, until
    sigterm_as_interrupt puts the previous handler back)."""
    if _sigterm_scope.is_set() and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def stopped_how() -> tuple[str, int]:
    """What stopped a scan early, for its message and its exit code."""
    return ("terminated (SIGTERM)", EXIT_TERMINATED) if _terminated.is_set() else \
        ("interrupted", EXIT_INTERRUPTED)


def install_stop_signals(stop: Callable[[], None]) -> dict[int, Any]:
    """Ctrl+C and SIGTERM end a watch cleanly (sources released, events flushed)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop())
    return previous


def restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
