"""The PyTorch checkpoint reader on hostile files (train/torch_checkpoint.py): pickles written
opcode by opcode in torch's legacy format, with no PyTorch; the networks' real checkpoints are
read in tests/test_imagenet_ports.py.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from deepfake_monitor.realtime.errors import UserError
from deepfake_monitor.train.torch_checkpoint import load_state_dict

MAGIC, PROTOCOL = 0x1950A86A20F9469CFC6C, 1001


def text(value: str) -> bytes:
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def small(n: int) -> bytes:
    return b"K" + bytes([n])


def glob(module: str, name: str) -> bytes:
    return f"c{module}\n{name}\n".encode()


def header() -> bytes:
    """The three pickles before the object: magic number, protocol, sys_info."""
    magic = b"\x80\x02\x8a\x0a" + MAGIC.to_bytes(10, "little") + b"."
    protocol = b"\x80\x02M" + struct.pack("<H", PROTOCOL) + b"."
    sys_info = b"\x80\x02}" + text("little_endian") + b"\x88s."
    return magic + protocol + sys_info


def tensor_dict(name: str = "w", key: str = "0") -> bytes:
    """OrderedDict({name: a 2x2 float tensor on storage `key`})."""
    storage = b"(" + text("storage") + glob("torch", "FloatStorage") + text(key) + \
        text("cpu") + small(4) + b"tQ"
    rebuilt = glob("torch._utils", "_rebuild_tensor_v2") + b"(" + storage + small(0) + \
        small(2) + small(2) + b"\x86" + small(2) + small(1) + b"\x86" + b"\x89tR"
    return b"\x80\x02" + glob("collections", "OrderedDict") + b")R" + text(name) + rebuilt + \
        b"s."


def keys(*names: str) -> bytes:
    return b"\x80\x02](" + b"".join(text(n) for n in names) + b"e."


def checkpoint(path: Path, obj: bytes, key_list: bytes, *storages: tuple[int, bytes]) -> Path:
    path.write_bytes(header() + obj + key_list + b"".join(
        struct.pack("<q", numel) + data for numel, data in storages))
    return path


VALUES = np.arange(4, dtype="<f4")


def valid(path: Path) -> Path:
    return checkpoint(path, tensor_dict(), keys("0"), (4, VALUES.tobytes()))


def test_a_valid_handmade_checkpoint_reads(tmp_path: Path) -> None:
    state = load_state_dict(valid(tmp_path / "ok.pth"))
    assert list(state) == ["w"] and np.array_equal(state["w"], VALUES.reshape(2, 2))


def test_a_build_opcode_changes_nothing_for_the_next_file(tmp_path: Path) -> None:
    """BUILD on torch.FloatStorage with {"name": "Evil"}: with one shared object for the
    process, every later checkpoint failed with KeyError: 'Evil'."""
    evil = b"\x80\x02" + glob("torch", "FloatStorage") + b"}" + text("name") + text("Evil") + \
        b"sb0" + glob("collections", "OrderedDict") + b")R."
    bad = checkpoint(tmp_path / "evil.pth", evil, keys())
    with pytest.raises(UserError) as info:
        load_state_dict(bad)
    assert str(info.value).startswith(f"{bad}: unreadable checkpoint (UnpicklingError: a "
                                      "storage type takes no state")
    state = load_state_dict(valid(tmp_path / "ok.pth"))
    assert np.array_equal(state["w"], VALUES.reshape(2, 2))


@pytest.mark.parametrize("numel", [2**40, 2**62, -1])
def test_a_storage_larger_than_the_file_is_one_line(tmp_path: Path, numel: int) -> None:
    """A count of 2**62 floats escaped as OverflowError, 2**40 as MemoryError."""
    bad = checkpoint(tmp_path / "huge.pth", tensor_dict(), keys("0"), (numel, VALUES.tobytes()))
    with pytest.raises(UserError) as info:
        load_state_dict(bad)
    assert str(info.value) == (f"{bad}: storage 0 claims {numel} elements of 4 bytes, but 16 "
                               "bytes are left in the file")


def test_a_tensor_larger_than_its_storage_is_one_line(tmp_path: Path) -> None:
    broadcast = tensor_dict().replace(small(2) + small(1) + b"\x86", small(0) + small(0) +
                                      b"\x86").replace(small(2) + small(2) + b"\x86",
                                                       b"J" + struct.pack("<i", 10**6) +
                                                       b"J" + struct.pack("<i", 10**6) + b"\x86")
    bad = checkpoint(tmp_path / "wide.pth", broadcast, keys("0"), (4, VALUES.tobytes()))
    with pytest.raises(UserError, match="tensor w has more elements than its storage"):
        load_state_dict(bad)
