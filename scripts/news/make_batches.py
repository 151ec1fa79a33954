"""Draw the seeded article sample for the news corpus and write annotation batches.

Each batch is a text file of about ten articles with numbered sentences (for the
annotator) and a JSON file with the sentence offsets and text hashes (for the
validator). Batch files hold article text, so they go to a git-ignored folder.

    python3 scripts/news/make_batches.py --dump ../shared/datasets/articles/bbc-news.jsonl
"""
import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dump", required=True, help="BBC article dump (JSONL)")
    ap.add_argument("--out", default="runs/news/batches", help="folder for batch files")
    ap.add_argument("--articles", type=int, default=1100,
                    help="sample size (a larger sample keeps a smaller one's batches as its first ones)")
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()

    dump = corpus.read_dump(args.dump)
    rng = random.Random(args.seed)
    by_cat = {}
    for rid in sorted(dump):
        by_cat.setdefault(dump[rid]["category"], []).append(rid)
    for ids in by_cat.values():
        rng.shuffle(ids)
    # Round-robin over categories so every batch mixes all five.
    order, cats = [], sorted(by_cat)
    while len(order) < min(args.articles, len(dump)):
        for c in cats:
            if by_cat[c] and len(order) < args.articles:
                order.append(by_cat[c].pop())

    os.makedirs(args.out, exist_ok=True)
    for b in range(0, len(order), args.batch_size):
        name = f"batch-{b // args.batch_size:03d}"
        meta, lines = [], []
        for rid in order[b:b + args.batch_size]:
            rec = dump[rid]
            spans = corpus.split_sentences(rec["text"])
            meta.append({"id": rid, "category": rec["category"],
                         "sha256": corpus.text_sha256(rec["text"]), "sentences": spans})
            lines.append(f"=== {rid} ({rec['category']}, {len(spans)} sentences) ===")
            lines += [f"[{n}] {rec['text'][s:e]}" for n, (s, e) in enumerate(spans)]
            lines.append("")
        with open(os.path.join(args.out, name + ".txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        with open(os.path.join(args.out, name + ".meta.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f)
    print(f"{len(order)} articles in {(len(order) + args.batch_size - 1) // args.batch_size} batches -> {args.out}")


if __name__ == "__main__":
    main()
