"""`deepfake-monitor export` and `inspect`, registered through the `deepfake_monitor.commands`
entry point. Registering imports only argparse; `export` imports TensorFlow/ONNX when it runs,
`inspect` only ONNX Runtime (it works in the runtime install, which has neither).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from deepfake_monitor.realtime.argtypes import PROG, add_verbose, positive, ranged


def register_export(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export", help="convert a trained Keras model to ONNX with its contract, verified",
        description="Convert a training run's best.keras (or a .keras file with --contract) to\n"
                    "ONNX (input 'input' N x S x S x 3 float32, dynamic batch), embed the model\n"
                    "contract and check that ONNX Runtime matches Keras on real face crops.\n"
                    "Nothing is written when they differ by more than the tolerance.\n\n"
                    "--fp16 / --int8 write a reduced-precision model (input and outputs stay\n"
                    "float32) after the fp32 graph passed that check, and only when it keeps\n"
                    "the accuracy: on the run's labelled validation crops its ROC AUC must stay\n"
                    "within 0.005 of the Keras model's; without labelled crops (of both classes)\n"
                    "P(fake) may move by at most 0.01 on any crop.\n\n"
                    "An original-notebook model (.h5, 2-unit softmax head, RGB scaled to [0, 1])\n"
                    "gets its contract made for it (--notebook; automatic for a .h5 file without\n"
                    "--contract): input size from the model (128 in the notebooks), RGB,\n"
                    "scale 1/255, mean 0, std 1, crop margin 0, no alignment, softmax output\n"
                    "with the fake class at --fake-index.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="RUN_DIR|MODEL.keras|MODEL.h5")
    p.add_argument("--out", required=True, metavar="FILE.onnx", help="ONNX file to write")
    p.add_argument("--contract", metavar="JSON",
                   help="model contract file (default: the run's contract.json)")
    p.add_argument("--opset", type=ranged(int, 13, 21), default=17,
                   help="ONNX opset (default: %(default)s)")
    p.add_argument("--tolerance", type=positive, default=1e-4, metavar="X",
                   help="largest accepted |Keras - ONNX| output difference "
                        "(default: %(default)s)")
    prec = p.add_mutually_exclusive_group()
    prec.add_argument("--fp16", action="store_true",
                      help="write a float16 model (onnxconverter-common, I/O kept float32)")
    prec.add_argument("--int8", metavar="CALIB_DIR|RUN_DIR",
                      help="write a static int8 model (ONNX Runtime, QDQ, per-channel), "
                           "calibrated on a folder of face crop images or a run's train crops; "
                           "prints its CPU speed vs fp32")
    p.add_argument("--notebook", action="store_true",
                   help="the source is an original-notebook model (2-way softmax, RGB / 255); "
                        "make its contract (automatic for .h5 without --contract)")
    p.add_argument("--fake-index", type=ranged(int, 0, 1), default=1, metavar="{0,1}",
                   help="notebook models: which softmax output is 'fake' (default: %(default)s, "
                        "class order [real, fake]; use 0 for a model trained with Keras "
                        "flow_from_directory on folders fake/ and real/, which sorts them "
                        "alphabetically)")
    add_verbose(p)
    p.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from deepfake_monitor.realtime.errors import UserError

    try:
        import tensorflow  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as exc:
        raise UserError("export needs TensorFlow and tf2onnx: "
                        f"pip install 'deepfake-monitor[train]' ({exc})") from exc
    from .keras_export import export

    r = export(args.source, args.out, contract_path=args.contract, opset=args.opset,
               tolerance=args.tolerance, fp16=args.fp16, int8=args.int8,
               notebook=True if args.notebook else None, fake_index=args.fake_index)
    if r.notebook:
        print(f"{PROG}: notebook model: RGB / 255, margin 0, softmax, fake index "
              f"{args.fake_index}", file=sys.stderr)
    print(f"{PROG}: wrote {r.path} (opset {r.opset}); parity max |diff| {r.max_diff:.3g} on "
          f"{r.samples} {r.sample_source} (outputs {r.output_range[0]:.4g}.."
          f"{r.output_range[1]:.4g}); {r.seconds:.1f} s", file=sys.stderr)
    if r.quant is not None:
        print(f"{PROG}: {r.quant.text()}", file=sys.stderr)
    return 0


def register_inspect(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "inspect", help="show an ONNX model's contract, inputs, outputs and opset",
        description="Print the deepfake-monitor contract (model card) of an ONNX file, its\n"
                    "inputs and outputs, opset and size. A file without the contract is an error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_verbose(p)
    p.set_defaults(handler=run_inspect)


def _shape(dims: list[Any]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def run_inspect(args: argparse.Namespace) -> int:
    from deepfake_monitor.realtime.display_text import clean

    from .model_info import describe  # ONNX Runtime only: the runtime install has no onnx

    info = describe(args.model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0

    def show(text: str) -> None:
        """A card is the model maker's text: none of its terminal escapes reach the terminal."""
        print(clean(text, lines=True))

    c = info["contract"]
    card = c["card"]
    show(f"file:     {info['file']} ({info['bytes'] / 1e6:.2f} MB)")
    show(f"opset:    {', '.join(f'{d} {v}' for d, v in info['opset'].items())}"
         f"  producer: {info['producer'] or '?'}")
    for kind in ("inputs", "outputs"):
        for t in info[kind]:
            show(f"{kind[:-1]:<9} {t['name']}  {_shape(t['shape'])}  {t['type']}")
    show(f"model:    {card['name']} (version {card['version']})")
    for key in ("description", "training_data", "limits"):
        if card.get(key):
            show(f"{key + ':':<9} {card[key]}")
    if card.get("metrics"):
        show(f"metrics:  {json.dumps(card['metrics'])}")
    i = c["input"]
    show(f"input:    {i['size']} px {i['layout']} {i['color']} {i['dtype']}, scale {i['scale']:g}"
         f", mean {i['mean']}, std {i['std']}")
    show(f"crop:     margin {c['crop']['margin']}, align {c['crop']['align']}")
    o = c["output"]
    show(f"output:   #{o['index']} {o['activation']}, fake index {o['fake_index']}; "
         f"temperature {c['calibration']['temperature']:g}, threshold {c['threshold']:g}")
    return 0
