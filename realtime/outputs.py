"""Output files of the commands (reports, timelines, events, annotated videos).

Every output path is checked before any work starts, because finding out after a long scan that
`--json` names a folder loses the whole run. Files are written to a temporary name beside the
target and renamed into place, so an interrupted run never leaves half a report; they get the
permissions the user's umask gives (tempfile.mkstemp would make them 0600).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .errors import UserError


def _writable_folder(folder: Path, option: str, text: str) -> None:
    """`folder` exists as a writable folder, or can be made inside one."""
    existing = folder.absolute()
    while not existing.exists() and not existing.is_symlink():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{option} {text}: {existing} is not a folder")
    try:  # the only reliable test: permissions, read-only mounts, /proc, root's privileges
        fd, probe = tempfile.mkstemp(prefix=".deepfake-monitor-probe-", dir=existing)
    except OSError as exc:
        raise UserError(f"{option} {text}: cannot write in {existing}: "
                        f"{exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(text: str, option: str, *, append: bool = False) -> Path:
    """The path of a file `option` will write (or append to, `append`), refused in one line
    where it cannot be: a folder, a path under a file, an unwritable place."""
    path = Path(text)
    if path.is_dir():
        raise UserError(f"{option} {text}: is a folder; name a file in it")
    if text.endswith(("/", os.sep)):
        raise UserError(f"{option} {text}: ends in a slash; name a file")
    if path.exists() and not path.is_file():
        raise UserError(f"{option} {text}: is not a regular file")
    _writable_folder(path.parent, option, text)
    if append and path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{option} {text}: the file is not writable")
    return path


def check_output_dir(text: str, option: str) -> Path:
    """A folder `option` will write files into (made where missing)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {text}: is a file, not a folder")
    _writable_folder(path, option, text)
    return path


def atomic_write(path: Path, write: Callable[[IO[str]], object]) -> None:
    """Write a text file through `write(fh)` to a temporary name, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:  # mode 0o666 minus the umask, like any file the user makes
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
