"""A source's control thread (`ControlThread`): the commands that may block (opening a source,
rebuilding its analysis, saving a snapshot) run on it one at a time, in order, each answering
through a `Future`, so that the GUI thread never waits on them."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)


class ControlThread:
    """Runs posted commands in order until `close()`. Once `stopping` is set, commands still
    queued are cancelled; `on_exit` runs on the thread as it ends (to stop what a command
    opened after the stopper looked)."""

    def __init__(self, name: str, stopping: threading.Event,
                 on_exit: Callable[[], None]) -> None:
        self.name = name
        self._stopping = stopping
        self._on_exit = on_exit
        self._commands: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name=f"control:{name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def post(self, command: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        if self._stopping.is_set():
            future.cancel()
        else:
            self._commands.put((command, future))
        return future

    def close(self) -> None:
        """No more commands: the thread ends after the one it runs."""
        self._commands.put(None)

    def _loop(self) -> None:
        try:
            while (item := self._commands.get()) is not None:
                command, future = item
                if self._stopping.is_set():
                    future.cancel()
                    continue
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(command())
                except Exception as exc:
                    if not self._stopping.is_set():
                        log.debug("%s: command failed", self.name, exc_info=True)
                    future.set_exception(exc)
        finally:
            self._on_exit()
            while True:
                try:
                    item = self._commands.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[1].cancel()
