"""Output files of the commands (reports, timelines, events, annotated videos).

Every output path is checked before any work starts, because finding out after a long scan that
`--json` names a folder loses the whole run.

Every output is written one of two ways, so that a symbolic link planted where an output goes
(`ln -s ~/.bashrc out/clip.annotated.mp4`) is replaced, never written through:
- whole files (reports, timelines, annotated videos, recordings, snapshots, crops):
  `AtomicFile` / `atomic_write`, a temporary file created exclusively (O_EXCL, O_NOFOLLOW)
  beside the target and renamed over it when complete, so an interrupted run never leaves half a
  file either. A new file gets the permissions the user's umask gives (tempfile.mkstemp would
  make it 0600); a file replaced keeps its mode (a report made 0600 stays 0600).
- appended files (`watch --events`): `open_append`, O_APPEND with O_NOFOLLOW, regular files
  only.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ..errors import UserError


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
        # /proc and the like answer "No such file or directory" for a folder that is there
        why = "it takes no new files" if exc.errno == errno.ENOENT else exc.strerror or exc
        raise UserError(f"{option} {text}: cannot write in {existing}: {why}") from None
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
    if append and path.is_symlink():
        raise UserError(f"{option} {text}: is a symbolic link; name the file itself")
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


class AtomicFile:
    """A file written whole or not at all, never through a link: an exclusive temporary file
    beside `path` that `commit()` renames over it (keeping the mode of a file it replaces) and
    `discard()` removes. `fd` is open for reading and writing; `name` is where a writer that
    wants a file name (FFmpeg, which re-reads an MP4 to put its index first) finds this very
    file, even if someone renames the temporary meanwhile (/proc/self/fd on Linux)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | \
            getattr(os, "O_CLOEXEC", 0)
        while True:
            self.tmp = self.path.parent / f".{self.path.name}.{secrets.token_hex(4)}.tmp"
            try:  # mode 0o666 minus the umask, like any file the user makes
                self.fd = os.open(self.tmp, flags, 0o666)
                break
            except FileExistsError:
                continue
        self._open = True

    @property
    def name(self) -> str:
        proc = f"/proc/self/fd/{self.fd}"
        return proc if sys.platform.startswith("linux") and os.path.exists(proc) else \
            str(self.tmp)

    def commit(self, *, sync: bool = True) -> None:
        """Flush to disk (unless not `sync`: many small files) and rename into place."""
        try:
            if sync:
                os.fsync(self.fd)
            mode = _existing_mode(self.path)
            if mode is not None:
                os.fchmod(self.fd, mode)
        except BaseException:
            self.discard()
            raise
        os.close(self.fd)
        self._open = False
        try:
            os.replace(self.tmp, self.path)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise

    def discard(self) -> None:
        if self._open:
            os.close(self.fd)
            self._open = False
        self.tmp.unlink(missing_ok=True)


def _existing_mode(path: Path) -> int | None:
    """The permission bits of the regular file at `path` (not following a link), if any."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


def atomic_write(path: Path, write: Callable[[IO[str]], object]) -> None:
    """Write a text file through `write(fh)` with `AtomicFile`."""
    out = AtomicFile(path)
    try:
        with os.fdopen(os.dup(out.fd), "w", newline="", encoding="utf-8") as fh:
            write(fh)
    except BaseException:
        out.discard()
        raise
    out.commit()


def atomic_write_bytes(path: Path, data: bytes, *, sync: bool = True) -> None:
    """`data` as the whole of `path`, with `AtomicFile`."""
    out = AtomicFile(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(out.fd, view):]
    except BaseException:
        out.discard()
        raise
    out.commit(sync=sync)


def open_append(path: Path) -> IO[bytes]:
    """`path` opened to append to, never through a symbolic link, a regular file only (made
    with the umask's permissions where missing); unbuffered, so that one `write` of a whole
    line is one append."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | \
        getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block
    fd = os.open(path, flags, 0o666)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"{path}: is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "ab", buffering=0)
