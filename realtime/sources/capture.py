"""What every capture backend offers the `VideoSource` state machine (`Capture`): a synchronous
open that raises SourceError, then grab()/retrieve(); and the error no retry can cure."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..errors import SourceError
from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import split_userinfo as split_userinfo

# --------------------------------------------------------------------------------------------
# Backends: each opens synchronously (raising SourceError) and then offers grab()/retrieve().


class NotRetryable(SourceError):
    """A stream that no retry can open (PyAV is not installed)."""


class Capture(Protocol):
    fps: float
    frame_count: int | None
    width: int
    height: int

    def grab(self) -> bool: ...  # next frame, decoded but not converted; False at end/failure
    def retrieve(self) -> np.ndarray | None: ...  # the grabbed frame as BGR
    def position_s(self) -> float | None: ...  # presentation time of the grabbed frame
    def failure(self) -> str: ...  # why the last grab() returned False
    def close(self) -> None: ...
