"""`inspect` in the runtime install: no onnx, no TensorFlow, only ONNX Runtime.

The runtime (`pip install .`) has the export package's files but neither onnx nor TensorFlow, so
`inspect` runs here in a subprocess whose import system refuses them; what it prints is checked
against the file as the onnx package reads it (an independent reader, in this process).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from conftest import REPO
from tiny_models import build_redness_model

from deepfake_monitor.export.model_info import read_header
from deepfake_monitor.realtime.model.contract import METADATA_KEY

BUNDLED = REPO / "assets" / "deepfake_classifier.onnx"

# Run the CLI with onnx, TensorFlow, tf2onnx and Keras unimportable, as in the runtime install.
_BLOCKED_RUN = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("onnx", "tensorflow", "tf2onnx", "keras"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, Blocker())
for name in list(sys.modules):
    if name.split(".")[0] in ("onnx", "tensorflow", "tf2onnx", "keras"):
        del sys.modules[name]
from deepfake_monitor.realtime.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("onnx", "tensorflow", "keras"))
print("LOADED", loaded, file=sys.stderr)
sys.exit(code)
"""


def run_blocked(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _BLOCKED_RUN, *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO)


def onnx_view(path: Path) -> dict:
    """The same facts read by the onnx package."""
    model = onnx.load(str(path))
    inits = {i.name for i in model.graph.initializer}

    def rows(values):  # type: ignore[no-untyped-def]
        return [{"name": v.name,
                 "shape": [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                           for d in v.type.tensor_type.shape.dim],
                 "elem": v.type.tensor_type.elem_type} for v in values if v.name not in inits]

    return {"opset": {o.domain or "ai.onnx": o.version for o in model.opset_import},
            "producer": f"{model.producer_name} {model.producer_version}".strip(),
            "inputs": rows(model.graph.input), "outputs": rows(model.graph.output),
            "contract": json.loads(next(p.value for p in model.metadata_props
                                        if p.key == METADATA_KEY))}


@pytest.mark.parametrize("which", ["bundled", "redness"])
def test_inspect_runs_without_onnx_and_tensorflow(which: str, tmp_path: Path) -> None:
    path = BUNDLED if which == "bundled" else build_redness_model(tmp_path / "redness.onnx")
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    done = run_blocked("inspect", str(path), "--json")
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stderr  # none of them was imported
    info = json.loads(done.stdout)
    want = onnx_view(path)
    assert info["opset"] == want["opset"]
    # as onnx reads it, less the word None that tf2onnx writes for an unknown git hash
    assert info["producer"] == want["producer"].removesuffix(" None")
    if which == "bundled":
        assert want["producer"] == "tf2onnx 1.17.0 None" and info["producer"] == "tf2onnx 1.17.0"
    elem = {onnx.TensorProto.FLOAT: "float32"}
    for kind in ("inputs", "outputs"):
        assert [(t["name"], t["shape"], t["type"]) for t in info[kind]] == \
            [(t["name"], t["shape"], elem[t["elem"]]) for t in want[kind]]
    assert info["bytes"] == path.stat().st_size
    contract = info["contract"]
    assert contract["card"]["name"] == want["contract"]["card"]["name"]
    assert contract["threshold"] == pytest.approx(want["contract"]["threshold"])
    assert contract["input"]["size"] == want["contract"]["input"]["size"]

    text = run_blocked("inspect", str(path))
    assert text.returncode == 0, text.stderr
    assert f"model:    {want['contract']['card']['name']}" in text.stdout
    assert f"input     {want['inputs'][0]['name']}" in text.stdout
    assert f"producer: {info['producer'] or '?'}\n" in text.stdout
    assert "None" not in text.stdout


def test_inspect_refusals_without_onnx(tmp_path: Path) -> None:
    bare = tmp_path / "bare.onnx"
    model = onnx.load(str(build_redness_model(tmp_path / "r.onnx")))
    del model.metadata_props[:]
    onnx.save(model, str(bare))
    not_onnx = tmp_path / "notes.onnx"
    not_onnx.write_text("not a model")
    for path, needle in ((bare, "deepfake_monitor"), (not_onnx, "not an ONNX model"),
                         (tmp_path / "missing.onnx", "no such file")):
        done = run_blocked("inspect", str(path))
        assert done.returncode == 2, done.stderr
        errors = [ln for ln in done.stderr.splitlines() if not ln.startswith("LOADED")]
        assert len(errors) == 1 and errors[0].startswith("deepfake-monitor: error: "), errors
        assert needle in errors[0] and str(path) in errors[0]
        assert "Traceback" not in done.stderr


def test_header_reader_skips_the_graph(tmp_path: Path) -> None:
    """Opsets of several domains and the producer, as onnx reads them."""
    model = onnx.load(str(build_redness_model(tmp_path / "r.onnx")))
    model.producer_name, model.producer_version = "test-producer", "9.9"
    model.opset_import.add(domain="com.microsoft", version=1)
    path = tmp_path / "multi.onnx"
    onnx.save(model, str(path))
    header = read_header(path)
    assert header == {"opset": onnx_view(path)["opset"], "producer": "test-producer 9.9"}
    assert header["opset"]["com.microsoft"] == 1
