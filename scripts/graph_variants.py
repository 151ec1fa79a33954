#!/usr/bin/env python3
"""Write variants of one exported model's graph for speed and accuracy comparisons.

Each variant is a model folder (the source folder's card and tokenizer, the variant's
graph, the card's sha256 updated) that `erx bench --model` and `erx eval --model` take:

  fp32         the fp32 export unchanged
  int8         plain dynamic int8, per-channel weights (`export.py --outlier-ratio 0`)
  int8-tensor  dynamic int8 with one scale per weight tensor
  int8-emb4    int8 MatMuls, 4-bit blockwise embedding tables
  int8-heads   int8 encoder, the heads' MatMuls (relation, phrase, tag heads) left fp32
  int8-ff2     int8, but each layer's FFN output MatMul (its input: GELU activations with
               outliers, quantised per tensor at run time) left fp32
  fused-fp32   ONNX Runtime's transformer optimizer (Attention, SkipLayerNormalization,
               BiasGelu fused), fp32
  fused-int8   the fused graph, then dynamic int8 (QAttention)
  int8-smooth  int8 after SmoothQuant on each FFN output MatMul (scripts/export.py
               smooth_ff2; --alpha, activation maxima from news *train* sentences)
  int8-split   what scripts/export.py ships: int8 with the outlier input channels of each
               FFN MatMul (ff1, ff2; maximum over news *train* sentences above --ratio x
               the input's 90th percentile) taken out of the int8 product and multiplied
               in float (export.split_outliers; --split-also q adds the attention projections)
  static-int8  static QDQ int8 (u8 activations, s8 per-channel weights), activation ranges
               calibrated on sentences of news *train* articles (dev stays out)

  .venv/bin/python scripts/graph_variants.py --model runs/erx-v2b --out runs/variants
(--model needs the export's model.fp32.onnx: `scripts/export.py --keep-fp32`).
"""
import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import (OUTLIER_MATMULS, calibration_texts, float_matmuls, quantize,  # noqa: E402
                    quantize_split, smooth_ff2)

VARIANTS = ["fp32", "int8", "int8-tensor", "int8-emb4", "int8-heads", "int8-ff2", "int8-smooth", "int8-split",
            "fused-fp32", "fused-int8", "static-int8"]


def calibration(args, model_dir):
    """The model's tokenizer and the calibration sentences (news *train* only)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    return tokenizer, calibration_texts(args.news, args.dump, args.calibration, args.seed)


def fuse(src, dst):
    from onnxruntime.transformers import optimizer

    model = optimizer.optimize_model(str(src), model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
    print(f"  fused: {model.get_fused_operator_statistics()}")
    model.save_model_to_file(str(dst))


def dynamic_int8(src, dst, per_channel, ops):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                     op_types_to_quantize=ops, extra_options={"DefaultTensorType": 1})


def static_int8(src, dst, model_dir, args):
    """QDQ int8 with fixed activation scales: the min and max over one pass per calibration sentence."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from export import feeds_for

    tokenizer, texts = calibration(args, model_dir)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([feeds_for(tokenizer, [t], True)[0] for t in texts])

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    op_types_to_quantize=["MatMul", "Gather"], calibrate_method=CalibrationMethod.MinMax)


def write_folder(model_dir, graph, out, name):
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_dir / "tokenizer.json", folder / "tokenizer.json")
    shutil.move(str(graph), folder / "model.onnx")
    card = json.load(open(model_dir / "erx.json"))
    card["onnx"]["sha256"] = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    card["onnx"]["bytes"] = (folder / "model.onnx").stat().st_size
    card["onnx"]["precision"] = name
    json.dump(card, open(folder / "erx.json", "w"), indent=2)
    print(f"{folder}: {card['onnx']['bytes'] / 1e6:.1f} MB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="exported model folder holding model.fp32.onnx")
    ap.add_argument("--out", required=True, help="folder to write one model folder per variant into")
    ap.add_argument("--only", action="append", choices=VARIANTS, help="write only these variants (repeatable)")
    ap.add_argument("--news", default="data/news/train.jsonl", help="static-int8, int8-smooth: calibration articles")
    ap.add_argument("--dump", default="../shared/datasets/articles/bbc-news.jsonl",
                    help="static-int8: the article texts")
    ap.add_argument("--calibration", type=int, default=300, help="static-int8, int8-smooth: calibration sentences")
    ap.add_argument("--alpha", type=float, default=0.5, help="int8-smooth: migration strength (0..1)")
    ap.add_argument("--ratio", type=float, default=2.0, help="int8-split: outlier threshold over the 90th percentile")
    ap.add_argument("--split-also", action="append", default=[], metavar="NAME",
                    help="int8-split: also split the MatMuls named /NAME/ (e.g. q for q, k, v)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    model_dir, out = Path(args.model), Path(args.out)
    fp32 = model_dir / "model.fp32.onnx"
    if not fp32.exists():
        raise SystemExit(f"{fp32} not found: export with `scripts/export.py --keep-fp32`")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "tmp.onnx"
    for name in args.only or VARIANTS:
        if name == "fp32":
            shutil.copy(fp32, tmp)
        elif name == "int8":
            quantize(fp32, tmp)
        elif name == "int8-tensor":
            dynamic_int8(fp32, tmp, False, ["MatMul", "Gather"])
        elif name == "int8-emb4":
            quantize(fp32, tmp, embedding_bits=4)
        elif name in ("int8-heads", "int8-ff2"):
            quantize(fp32, tmp, float_nodes=float_matmuls(fp32, name.removeprefix("int8-")))
        elif name == "int8-smooth":
            tokenizer, texts = calibration(args, model_dir)
            n = smooth_ff2(fp32, out / "smooth.onnx", tokenizer, texts, args.alpha)
            print(f"  smoothed {n} MatMuls over {len(texts)} calibration sentences, alpha {args.alpha}")
            quantize(out / "smooth.onnx", tmp)
            (out / "smooth.onnx").unlink()
        elif name == "int8-split":
            tokenizer, texts = calibration(args, model_dir)
            patterns = OUTLIER_MATMULS + tuple(f"/{n}/" for n in args.split_also)
            split = quantize_split(fp32, tmp, tokenizer, texts, args.ratio, patterns=patterns)
            print(f"  outlier channels split off: {split}")
        elif name == "static-int8":
            static_int8(fp32, tmp, model_dir, args)
        else:
            fuse(fp32, out / "fused.onnx")
            if name == "fused-fp32":
                shutil.move(str(out / "fused.onnx"), tmp)
            else:
                dynamic_int8(out / "fused.onnx", tmp, True, ["MatMul", "Gather", "Attention"])
                (out / "fused.onnx").unlink()
        write_folder(model_dir, tmp, out, name)


if __name__ == "__main__":
    main()
