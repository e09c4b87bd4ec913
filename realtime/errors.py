"""Errors a user can cause. The CLI prints them as one line and exits non-zero, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a file, URL, device index or model that cannot be used."""


class ModelError(UserError):
    """A model file that is not ONNX, or lacks (or contradicts) the metadata contract."""


class SourceError(UserError):
    """A video source that cannot be opened or read."""
