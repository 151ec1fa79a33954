#!/usr/bin/env python3
"""Average the weights of fine-tuning runs that share an ancestor (a "model soup").

Runs continued from the same checkpoint with different data mixes and seeds land in one
basin; their mean is usually better than each. Relation labels that only some runs have
(appended at the end of the label list, see train.py --open-relations) are averaged over
the runs that have them.

  .venv/bin/python scripts/soup.py --runs runs/v4 runs/v5 --out runs/soup45 --drop-schema open

Writes OUT/model.pt and OUT/labels.json (the label set of the run with the most relation
labels, plus "soup": the runs averaged) for scripts/export.py.
"""

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from erxlib.model import RELATION_TENSORS  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", nargs="+", required=True, help="run folders (model.pt, labels.json)")
    ap.add_argument("--out", required=True, help="run folder to write")
    ap.add_argument("--drop-schema", nargs="*", default=[],
                    help="remove these relation schemas (their labels must be last), e.g. open")
    args = ap.parse_args()

    metas = [json.load(open(Path(r) / "labels.json")) for r in args.runs]
    states = [torch.load(Path(r) / "model.pt", map_location="cpu") for r in args.runs]
    widest = max(range(len(metas)), key=lambda i: len(metas[i]["relations"]))
    for m in metas:
        if m["relations"] != metas[widest]["relations"][: len(m["relations"])]:
            raise SystemExit("runs disagree on their relation labels; only appended labels may differ")
    out_state = {}
    for key, target in states[widest].items():
        if not target.is_floating_point():
            out_state[key] = target
            continue
        total = torch.zeros_like(target, dtype=torch.float64)
        count = torch.zeros(target.shape[:1] if target.dim() else (), dtype=torch.float64)
        for st in states:
            v = st[key].to(torch.float64)
            if v.shape == target.shape:
                total += v
                count += 1
            elif key in RELATION_TENSORS and v.shape[1:] == target.shape[1:]:
                # fewer relation labels: average its rows into the leading ones
                total[: v.shape[0]] += v
                count[: v.shape[0]] += 1
            else:
                raise SystemExit(f"{key}: shapes {tuple(v.shape)} and {tuple(target.shape)} cannot be averaged")
        shape = (-1,) + (1,) * (target.dim() - 1) if target.dim() else ()
        out_state[key] = (total / count.view(shape)).to(target.dtype)
    meta = dict(metas[widest])
    if args.drop_schema:
        labels = meta["relations"]
        keep = [i for i, (schema, _l) in enumerate(labels) if schema not in args.drop_schema]
        if keep != list(range(len(keep))):
            raise SystemExit("--drop-schema: only labels at the end of the list can be dropped")
        rank = meta["rel_rank"] - 1  # the card's rank counts the bias slot
        for key in RELATION_TENSORS:
            rows = len(keep) if key == "rel_bias" else len(keep) * rank
            out_state[key] = out_state[key][:rows].clone()
        meta["relations"] = [labels[i] for i in keep]
        meta["dropped_schemas"] = args.drop_schema
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(out_state, out / "model.pt")
    meta["soup"] = [str(r) for r in args.runs]
    meta["args"] = dict(meta["args"], init=None)
    meta["steps"] = None
    meta["train_seconds"] = 0.0
    json.dump(meta, open(out / "labels.json", "w"), indent=1)
    print(f"averaged {len(states)} runs -> {out / 'model.pt'}")


if __name__ == "__main__":
    main()
