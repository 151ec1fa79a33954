#!/usr/bin/env python3
"""Score a model folder on the dev splits with `erx eval` and write the model card's
`dev_scores` (for `scripts/export.py --extra`), or put them straight into its erx.json.

  .venv/bin/python scripts/dev_scores.py --model runs/erx-v2c --out runs/extra-v2c.json
  .venv/bin/python scripts/dev_scores.py --model models/erx-news-v2 --update-card

Updating the card changes only `dev_scores`, never the graph or its sha256.
"""
import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path


def cpu_name():
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return platform.processor() or "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Model name")),
                "unknown CPU")
    return f"{name} {'with' if 'avx512_vnni' in info else 'without'} avx512_vnni"


def erx_eval(args, *what):
    cmd = [args.erx, "eval", *what, "--model", args.model, "--threads", str(args.threads), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"`{' '.join(cmd)}` failed:\n{p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout)


def f1(v):
    return round(v.get("micro", v)["f1"], 4)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model folder")
    ap.add_argument("--out", help="write {\"dev_scores\": ...} here")
    ap.add_argument("--update-card", action="store_true", help="replace dev_scores in the model's erx.json")
    ap.add_argument("--erx", default="target/release/erx")
    ap.add_argument("--data", default="../shared/datasets", help="datasets folder (conll2003/, conll04/)")
    ap.add_argument("--news-dev", default="data/news/dev.jsonl")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not args.out and not args.update_card:
        ap.error("say where the scores go: --out FILE or --update-card")

    card = json.load(open(Path(args.model) / "erx.json"))
    thresholds = sorted({r["threshold"] for r in card.get("relations", [])})
    news = erx_eval(args, "--format", "erx-news", args.news_dev)
    s = news["scores"]
    with open(args.news_dev, encoding="utf-8") as f:
        articles = sum(1 for line in f if line.strip())
    conll03 = erx_eval(args, "--format", "conll2003", f"{args.data}/conll2003/dev.txt")
    conll03_ctx = erx_eval(args, "--format", "conll2003", f"{args.data}/conll2003/dev.txt", "--context", "8")
    conll04 = erx_eval(args, "--format", "conll04", f"{args.data}/conll04/dev.json")
    scores = {
        "measured_with": f"erx eval ({card['onnx']['precision']} graph, one window per pass) on {cpu_name()}; "
                         f"relation thresholds {', '.join(map(str, thresholds))}",
        "news_dev": {"articles": articles, "names_f1": f1(s["names"]), "values_f1": f1(s["values"]),
                     "relations_ordered_pairs_f1": f1(s["pairs"]), "relations_pairs_label_f1": f1(s["labelled"]),
                     "phrase_token_f1_on_correct_pairs": round(s["phrase_f1"], 4), "phrase_pairs": s["phrase_pairs"],
                     "per_label_f1": {k: round(v["f1"], 4) for k, v in sorted(s["labelled"]["per_label"].items())}},
        "conll2003_dev_entities_f1": {"each_sentence_alone": f1(conll03["entities"]),
                                      "context_8": f1(conll03_ctx["entities"])},
        "conll04_dev_relations_f1": f1(conll04["relations"]),
        "conll04_dev_relations_per_label_f1": {k: round(v["f1"], 4)
                                               for k, v in sorted(conll04["relations"]["per_label"].items())},
    }
    print(json.dumps(scores, indent=1))
    if args.out:
        json.dump({"dev_scores": scores}, open(args.out, "w"), indent=1)
    if args.update_card:
        card["dev_scores"] = scores
        json.dump(card, open(Path(args.model) / "erx.json", "w"), indent=2)


if __name__ == "__main__":
    main()
