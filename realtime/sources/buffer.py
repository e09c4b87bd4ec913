"""The hand-off between a source's capture thread and its consumer (`FrameBuffer`): a bounded
FIFO for files (backpressure), or a latest-wins slot of one for live sources."""

from __future__ import annotations

import threading
from collections import deque

from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import split_userinfo as split_userinfo
from .spec import Frame


class FrameBuffer:
    """Hand-off between capture thread and consumer: bounded FIFO, or a latest-wins slot."""

    def __init__(self, size: int, latest_wins: bool) -> None:
        self._items: deque[Frame] = deque()
        self._fifo_size = size
        self._size = 1 if latest_wins else size
        self._latest_wins = latest_wins
        self._cond = threading.Condition()
        self._closed = False

    def put(self, frame: Frame) -> tuple[bool, bool]:
        """(accepted, dropped an unread frame). Blocks while a FIFO is full, until closed."""
        with self._cond:
            if self._closed:
                return False, False
            dropped = False
            if self._latest_wins:
                dropped = bool(self._items)
                self._items.clear()
            else:
                while len(self._items) >= self._size and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return False, False
            self._items.append(frame)
            self._cond.notify_all()
            return True, dropped

    def get(self, timeout: float | None) -> Frame | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if not self._items:
                return None
            frame = self._items.popleft()
            self._cond.notify_all()
            return frame

    def close(self, discard: bool = False) -> None:
        """No more frames will come; wakes everyone. `discard` drops what is still buffered."""
        with self._cond:
            self._closed = True
            if discard:
                self._items.clear()
            self._cond.notify_all()

    def empty(self) -> bool:
        with self._cond:
            return not self._items

    def set_latest_wins(self, latest_wins: bool) -> None:
        """Switch between a bounded FIFO and a latest-wins slot (a stream that turns out to
        be a video file); called by the capture thread, or before it starts."""
        with self._cond:
            self._latest_wins = latest_wins
            self._size = 1 if latest_wins else self._fifo_size
            self._cond.notify_all()
