#!/usr/bin/env python3
"""Score erx's label-free links (schema "open") against CaRB dev Open IE tuples.

  python3 scripts/eval_open.py --carb ../shared/datasets/carb/dev.tsv

Runs `erx extract` on each CaRB sentence (one record per sentence)
and reads every relation of schema "open" as (subject, phrase, object). A link is correct
when one gold tuple of its sentence has the subject inside its first argument, the object
inside a later argument, and the phrase's first word inside its relation phrase (all
lower-cased, whitespace-normalised). Recall is over the gold tuples that erx could have
found: a predicted mention inside the first argument and another inside a later one.
Only the Python standard library is needed.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from erxlib import data as D  # noqa: E402  (standard library only)


def norm(s):
    return " " + " ".join(s.lower().split()) + " "


def inside(needle, hay):
    """Whole-word containment of normalised strings."""
    return norm(needle) in norm(hay)


def read_carb(path):
    """sentence -> [(relation, [arg1, arg2, ...])], in file order."""
    return {sent: [(row[0], row[1:]) for row in rows]
            for sent, rows in D.read_tsv_by_sentence(path, 4).items()}


def matches(subject, phrase, obj, rel, args):
    first = phrase.split()[0] if phrase.split() else ""
    return (inside(subject, args[0]) and any(inside(obj, a) for a in args[1:])
            and bool(first) and inside(first, rel))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--carb", required=True, help="CaRB dev.tsv (sentence, relation, arguments…)")
    ap.add_argument("--erx", default="target/release/erx", help="erx binary")
    ap.add_argument("--model", default=None, help="model folder passed to erx --model")
    ap.add_argument("--show", type=int, default=0, help="print N correct and N wrong links")
    args = ap.parse_args()

    gold = read_carb(args.carb)
    sentences = list(gold)
    records = "".join(json.dumps({"id": i, "text": s}) + "\n" for i, s in enumerate(sentences))
    cmd = [args.erx, "extract", "--quiet"] + (["--model", args.model] if args.model else [])
    done = subprocess.run(cmd, input=records, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"erx extract failed ({done.returncode}): {done.stderr.strip()}")
    docs = [json.loads(line) for line in done.stdout.splitlines()]
    if len(docs) != len(sentences):
        sys.exit(f"expected {len(sentences)} output records, got {len(docs)}")

    predicted = correct = reachable = found = 0
    shown = {True: 0, False: 0}
    for sentence, doc in zip(sentences, docs):
        mentions = {e["id"]: e for e in doc["entities"]}
        texts = [m["text"] for e in doc["entities"] for m in e["mentions"]]
        links = []
        for r in doc["relations"]:
            if r["schema"] != "open":
                continue
            subject = mentions[r["head"]]["mentions"][r["head_mention"]]["text"]
            obj = mentions[r["tail"]]["mentions"][r["tail_mention"]]["text"]
            links.append((subject, r["phrase"], obj))
        for subject, phrase, obj in links:
            ok = any(matches(subject, phrase, obj, rel, a) for rel, a in gold[sentence])
            predicted += 1
            correct += ok
            if shown[ok] < args.show:
                shown[ok] += 1
                print(("RIGHT " if ok else "WRONG ") + f"{subject} —[{phrase}]→ {obj}   | {sentence[:140]}")
        for rel, a in gold[sentence]:
            if any(inside(t, a[0]) for t in texts) and any(inside(t, x) for t in texts for x in a[1:]):
                reachable += 1
                found += any(matches(s, p, o, rel, a) for s, p, o in links)
    p = correct / predicted if predicted else 0.0
    r = found / reachable if reachable else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    print(json.dumps({"sentences": len(sentences), "links": predicted, "correct": correct,
                      "precision": round(p, 4), "reachable_tuples": reachable, "found": found,
                      "recall": round(r, 4), "f1": round(f, 4)}, indent=1))


if __name__ == "__main__":
    main()
