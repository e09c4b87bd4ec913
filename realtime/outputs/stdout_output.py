"""'-' as a report path means stdout, for --csv as for --json (a file named '-' surprised
users who piped `--json -` before).

A file writer that writes its file whole (outputs.atomic_write) runs into a private temporary
folder and its bytes are copied to stdout, so stdout gets exactly the format a file gets.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

STDOUT = "-"


def to_stdout(write: Callable[[Path], None]) -> None:
    """Run `write(path)` into a private temporary file and copy that file to stdout."""
    with tempfile.TemporaryDirectory(prefix="dfm-stdout-") as folder:
        path = Path(folder) / "output"
        write(path)
        sys.stdout.flush()  # whatever was printed before comes first
        with path.open("rb") as fh:
            shutil.copyfileobj(fh, sys.stdout.buffer)
        sys.stdout.buffer.flush()
