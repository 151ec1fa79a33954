#!/usr/bin/env python3
"""Pick a relation threshold per label on the news dev split.

Runs `erx eval --format erx-news --json` once per global threshold in --grid and, for
each label, keeps the threshold with the best labelled F1 on dev (a pair keeps one
label, so labels barely interact). Prints the `--label-threshold` flags for
scripts/export.py. Dev only: the test split is never read.

  python3 scripts/tune_thresholds.py --model /tmp/erx-v2 > thresholds.txt
"""

import argparse
import json
import subprocess
import sys


def evaluate(erx, model, corpus, threshold):
    out = subprocess.run([erx, "eval", "--format", "erx-news", corpus, "--model", model, "--json",
                          "--relation-threshold", str(threshold)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["scores"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="exported model folder")
    ap.add_argument("--corpus", default="data/news/dev.jsonl")
    ap.add_argument("--erx", default="target/release/erx")
    ap.add_argument("--grid", default="0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    ap.add_argument("--min-support", type=int, default=5,
                    help="labels with fewer gold pairs on dev keep --default")
    ap.add_argument("--default", type=float, default=0.5)
    args = ap.parse_args()
    best = {}
    for t in [float(x) for x in args.grid.split(",")]:
        scores = evaluate(args.erx, args.model, args.corpus, t)
        lab = scores["labelled"]
        print(f"threshold {t}: pairs F1 {scores['pairs']['f1']:.4f}, pairs+label F1 {lab['micro']['f1']:.4f}, "
              f"phrase {scores['phrase_f1']:.4f}", file=sys.stderr)
        for label, prf in lab["per_label"].items():
            support = prf["tp"] + prf["fn"]
            # a label never right at any threshold keeps the default
            if support >= args.min_support and prf["f1"] > best.get(label, (0.0, None))[0]:
                best[label] = (prf["f1"], t)
    for label, (f1, t) in sorted(best.items()):
        print(f"{label}: threshold {t} (dev F1 {f1:.4f})", file=sys.stderr)
    print(" ".join(f"--label-threshold {label}={t}" for label, (_f1, t) in sorted(best.items())))


if __name__ == "__main__":
    main()
