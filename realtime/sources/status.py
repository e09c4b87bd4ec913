"""A source's state as its consumers see it (`SourceStatus`): the current `SourceState`, the
`StatusEvent`s that led there, why it failed; every change logged and handed to `on_status`."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable

from .credentials import mask_credentials
from .spec import SourceState, StatusEvent

log = logging.getLogger(__name__)


def masked_traceback(exc: BaseException) -> str:
    """A traceback for the log, with URL credentials masked (exception texts quote URLs)."""
    return mask_credentials("".join(traceback.format_exception(type(exc), exc,
                                                               exc.__traceback__)))


class SourceStatus:
    """State and events of one source. `set()` is called on the thread that changes the state
    (the capture thread, or the one calling open()/stop()); so is `on_status`: keep it quick.
    Once `stop` is set only a `final` change counts: a late capture thread stays quiet."""

    def __init__(self, name: str, stop: threading.Event,
                 on_status: Callable[[StatusEvent], None] | None) -> None:
        self.name = name
        self.on_status = on_status
        self._stop = stop
        self._lock = threading.Lock()
        self.state = SourceState.CONNECTING
        self._events: list[StatusEvent] = []
        self.error: str | None = None

    @property
    def events(self) -> list[StatusEvent]:
        with self._lock:
            return list(self._events)

    def set(self, state: SourceState, message: str, *, final: bool = False) -> None:
        if self._stop.is_set() and not final:
            return  # after stop() only its own "stopped" counts; a late thread stays quiet
        event = StatusEvent(self.name, state, mask_credentials(message), time.time())
        with self._lock:
            self.state = state
            self._events.append(event)
        level = logging.WARNING if state in (SourceState.DISCONNECTED, SourceState.FAILED) \
            else logging.INFO
        log.log(level, "%s: %s: %s", self.name, state.value, event.message)
        if self.on_status is not None:
            try:
                self.on_status(event)
            except Exception as exc:
                log.error("%s: on_status callback failed: %s", self.name, masked_traceback(exc))

    def fail(self, message: str) -> None:
        """FAILED, with `message` (its source's name taken off the front) as the error."""
        self.error = mask_credentials(message).removeprefix(f"{self.name}: ")
        self.set(SourceState.FAILED, self.error)
