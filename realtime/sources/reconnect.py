"""Connecting a source (`Reconnector`): its first open, synchronous, and reconnecting with
backoff after a lost connection of a network stream or a webcam, and after a network stream's
failed first open, until a capture opens, the source is stopped, or the retry bounds are
spent."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from ..errors import SourceError
from .capture import Capture, NotRetryable
from .connection import Connection
from .credentials import mask_credentials
from .spec import SourceKind, SourceState
from .status import SourceStatus

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.5


def gave_up(retries: int, first: bool, waited: float, reason: str) -> str:
    """Why a source was given up, counting attempts as --max-retries does: retries after the
    first open (which counts as an attempt of its own) or after a disconnect."""
    plural = "y" if retries == 1 else "ies"
    if first:
        tries = retries + 1
        counted = f"{tries} attempt{'s' if tries != 1 else ''} ({retries} retr{plural})"
    else:
        counted = f"{retries} retr{plural} to reconnect"
    return f"gave up after {counted} in {waited:.1f} s: {reason}"


@dataclass(frozen=True)
class RetryPolicy:
    """The backoff (0.5 s doubling, capped at `max_backoff_s`) and the bounds of one outage:
    `max_retries` retries in a row, `give_up_after_s` seconds; None: retry forever."""

    max_backoff_s: float = 10.0
    max_retries: int | None = None
    give_up_after_s: float | None = None


class Reconnector:
    """Opens a source's connection, and retries it under a `RetryPolicy`; counts the
    outages."""

    def __init__(self, connection: Connection, status: SourceStatus, stop: threading.Event,
                 policy: RetryPolicy) -> None:
        self._connection = connection
        self._status = status
        self._stop = stop
        self.policy = policy
        self.outages = 0

    @property
    def retries_first_open(self) -> bool:
        """Whether a failed first open is retried (network streams, unless max_retries=0)."""
        return self._connection.spec.kind is SourceKind.STREAM and self.policy.max_retries != 0

    def open(self) -> str:
        """The first open, synchronous: a bad source fails here (FAILED, SourceError). A network
        stream that cannot be reached is no bad source: unless it is not to be retried, this
        returns why it failed, in DISCONNECTED, for `reconnect(first=True)`; "" once open."""
        status, name, connection = self._status, self._status.name, self._connection
        status.set(SourceState.CONNECTING, f"opening {connection.describe()}")
        try:
            capture = connection.open_capture()
        except SourceError as exc:
            if self.retries_first_open and not isinstance(exc, NotRetryable):
                failure = str(exc).removeprefix(f"{name}: ")
                status.set(SourceState.DISCONNECTED, failure)
                return failure
            status.fail(str(exc))
            raise
        except Exception as exc:  # a backend bug must still surface as one clear line
            message = f"{name}: cannot open: {mask_credentials(str(exc)) or type(exc)}"
            status.fail(message)
            raise SourceError(message) from None
        connection.adopt(capture, first=True)
        count = f", {connection.frame_count} frames" if connection.frame_count else ""
        status.set(SourceState.LIVE, f"opened {connection.width}x{connection.height} at "
                   f"{connection.fps:g} fps{count}")
        return ""

    def reconnect(self, reason: str, *, first: bool = False) -> Capture | None:
        """Retry with backoff until a capture opens (returned), stop(), or the retry bounds are
        spent (FAILED, None). `first`: the first open failed; no connection was made yet."""
        status, name, policy = self._status, self._status.name, self.policy
        if not first:
            self.outages += 1
            status.set(SourceState.DISCONNECTED, reason)
        self._connection.release()
        delay, attempt, last = FIRST_BACKOFF_S, 0, reason if first else ""
        lost_at = time.monotonic()
        deadline = None if policy.give_up_after_s is None else lost_at + policy.give_up_after_s
        while True:
            waited = time.monotonic() - lost_at
            if (policy.max_retries is not None and attempt >= policy.max_retries) or \
                    (deadline is not None and time.monotonic() >= deadline):
                status.fail(gave_up(attempt, first, waited, last or reason) if attempt or first
                            else f"{reason} (not retried)")
                return None
            attempt += 1
            wait = delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic()))
            if first:
                status.set(SourceState.CONNECTING, f"attempt {attempt + 1} in "
                           f"{round(wait, 1):g} s (last attempt: {last})")
            else:  # a wait cut to the deadline reads 1.5 s, not 1.49681 s
                status.set(SourceState.RECONNECTING, f"reconnect attempt {attempt} in "
                           f"{round(wait, 1):g} s" + (f" (last attempt: {last})" if last
                                                      else ""))
            if self._stop.wait(wait):
                return None
            try:
                capture = self._connection.open_capture()
            except SourceError as exc:
                last = str(exc).removeprefix(f"{name}: ")
                log.debug("%s: attempt %d failed: %s", name, attempt, last)
                delay = min(delay * 2, policy.max_backoff_s)
                continue
            if self._stop.is_set():
                capture.close()
                return None
            return self._reconnected(capture, attempt, first, lost_at)

    def _reconnected(self, capture: Capture, attempt: int, first: bool,
                     lost_at: float) -> Capture:
        connection = self._connection
        connection.adopt(capture, first=False)
        took = f"({time.monotonic() - lost_at:.1f} s)"
        size = f"{connection.width}x{connection.height}"
        if first:
            self._status.set(SourceState.LIVE, f"opened {size} at {connection.fps:g} fps "
                             f"after {attempt + 1} attempts {took}")
        else:
            self._status.set(SourceState.LIVE, f"reconnected after {attempt} attempt"
                             f"{'s' if attempt > 1 else ''} {took}")
        return capture
