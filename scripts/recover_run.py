#!/usr/bin/env python3
"""Turn a shipped erx-news-v2 model folder back into a training run, so a new run can
`--init-run` from the released weights when the PyTorch checkpoint that made them is gone.

  .venv/bin/python scripts/recover_run.py --model models/erx-news-v2 --out runs/v2-shipped
  .venv/bin/python scripts/train_v2.py --data ../shared/datasets --out runs/v2f --init-run runs/v2-shipped ...

Linear weights come from the int8 graph, dequantised (within half a quantisation step of the
trained ones); the parameters the graph does not hold (the phrase region bias, the pair
context's gap and mentions-between tables) come from the model card. Every parameter must be
found in one of the two, or the script stops. The run's labels.json keeps the card's training
chain, so a model exported from a run continued from it still lists every stage.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from erxlib import data as D  # noqa: E402
from erxlib import news as N  # noqa: E402
from erxlib.decode import entity_tags  # noqa: E402
from erxlib.features import CASE_CLASSES  # noqa: E402
from erxlib.from_onnx import dequantized_state, folded_constant  # noqa: E402
from erxlib.model import ErxModelV2, load_config  # noqa: E402
from train import base_model_dir  # noqa: E402


def recovered_state(model, onnx_path, card):
    """The model's state dict with every tensor taken from the graph or the card."""
    graph = dequantized_state(onnx_path)
    own = model.state_dict()
    found = {}
    for key, value in graph.items():
        if key in own and tuple(own[key].shape) == value.shape:
            found[key] = torch.from_numpy(np.array(value))
    # the graph folds token_type.weight[0] into one constant; row 1 is never read (every
    # input has token type 0), so it may stay as built
    h = own["encoder.ln.bias"].shape[0]
    folded = folded_constant(graph, "onnx::Add", (h,))
    if folded is None:
        raise SystemExit(f"{onnx_path}: expected one folded token-type constant of width {h}")
    token_type = own["encoder.token_type.weight"].clone()
    token_type[0] = torch.from_numpy(np.array(folded))
    found["encoder.token_type.weight"] = token_type
    r = own["rel_bias"].shape[0]
    folded = folded_constant(graph, "onnx::Expand", (1, 1, r, 1))
    if folded is None:
        raise SystemExit(f"{onnx_path}: expected one folded relation bias [1, 1, {r}, 1]")
    found["rel_bias"] = torch.from_numpy(np.array(folded).reshape(r))
    found["phrase_region"] = torch.tensor(card["phrase_scorer"]["region_bias"], dtype=torch.float32)
    if model.pair_context:
        ctx = card["relation_context"]
        found["rel_gap"] = torch.tensor(ctx["gap_bias"], dtype=torch.float32)
        found["rel_between"] = torch.tensor(ctx["mentions_between_bias"], dtype=torch.float32)
    missing = [k for k in own if k not in found]
    if missing:
        raise SystemExit(f"{onnx_path}: no value for {missing}")
    bad = [k for k in found if tuple(found[k].shape) != tuple(own[k].shape)]
    if bad:
        raise SystemExit(f"card tables of the wrong shape: {bad}")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/erx-news-v2", help="shipped model folder (erx.json + int8 model.onnx)")
    ap.add_argument("--out", required=True, help="run folder to write (model.pt, labels.json)")
    args = ap.parse_args()

    card = json.load(open(Path(args.model) / "erx.json"))
    if card.get("format") != "erx-model-card/2":
        raise SystemExit(f"{args.model}: not an erx-news-v2 card (format {card.get('format')!r})")
    stages = card["provenance"]["training"]
    last = stages[-1]
    cfg = load_config(base_model_dir())
    # the latest stage that cut layers or FFN neurons sets the shape; later stages keep it
    kept = next((s["keep_layers"] for s in reversed(stages) if s.get("keep_layers")), None)
    ffn = next((s["ffn_size"] for s in reversed(stages) if s.get("ffn_size")), cfg["intermediate_size"])
    cfg = {**cfg, "num_hidden_layers": len(kept.split(",")) if kept else cfg["num_hidden_layers"],
           "intermediate_size": ffn}
    tags, value_tags = entity_tags(D.ENTITY_TYPES), entity_tags(N.VALUE_TYPES)
    if tags != card["entity_tags"] or value_tags != card["value_tags"]:
        raise SystemExit(f"{args.model}: its tags differ from the training scripts' ({card['entity_tags']})")
    relations = [r["label"] for r in card["relations"]]
    if relations != N.RELATION_LABELS:
        raise SystemExit(f"{args.model}: its relation labels differ from the training scripts' ({relations})")
    pair_context = "relation_context" in card
    model = ErxModelV2(cfg, len(tags), len(value_tags), len(relations), rel_rank=card["relation_rank"] - 1,
                       phrase_rank=card["phrase_scorer"]["rank"], n_case=len(CASE_CLASSES),
                       pair_context=pair_context)
    state = recovered_state(model, str(Path(args.model) / card["onnx"]["file"]), card)
    model.load_state_dict(state)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    meta = {"format": "erx-v2", "tags": tags, "value_tags": value_tags, "relations": relations,
            "case_classes": CASE_CLASSES, "rel_rank": card["relation_rank"], "phrase_rank": card["phrase_scorer"]["rank"],
            "pair_context": pair_context, "config": cfg, "max_tokens": card["max_tokens"],
            "news_articles": last.get("news_articles"),
            "recovered_from": {"model": card["name"], "onnx_sha256": card["onnx"]["sha256"],
                               "stages": stages},
            # the last stage's settings, so export and --init-run read this folder like a run
            "args": {k: v for k, v in last.items() if k not in ("run", "news_articles", "steps", "train_seconds")}
            | {"init_run": None, "init_onnx": None}}
    json.dump(meta, open(out / "labels.json", "w"), indent=1)
    print(f"{args.model} -> {out}/model.pt: {len(state)} tensors ({sum(v.numel() for v in state.values()):,} "
          f"numbers), pair context {'on' if pair_context else 'off'}, chain {[s['run'] for s in stages]}")


if __name__ == "__main__":
    main()
