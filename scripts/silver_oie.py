#!/usr/bin/env python3
"""Silver "open" relations from OIE2016: entity pairs joined by a predicate.

OIE2016 marks predicates and their arguments but not entities. A trained erx model tags
the entities of each sentence; a tuple whose subject (arg0) and a later argument both
*start* with an entity mention (after at most two words such as "the" or a title) yields
a relation (subject entity) -[subject-object]-> (argument entity), so the relation head
learns which entity pairs a predicate links, e.g. "North Korean agents assassinated
Kim Jong-nam". The phrase comes from the predicate head at run time.

  .venv/bin/python scripts/silver_oie.py --model models/erx-news-v1 --out runs/oie-silver.jsonl
  .venv/bin/python scripts/silver_oie.py --model models/erx-news-v1 --split dev --out runs/oie-silver-dev.jsonl

Writes one JSON object per sentence that has at least two mentions:
{"tokens", "mentions": [[start, end, type]], "relations": [[head, tail, label]]}
(token spans [start, end) over the space-split sentence). Derived from the dataset, so it
stays in the git-ignored runs/ folder.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from erxlib import data as D  # noqa: E402
from erxlib.decode import decode_entities  # noqa: E402

LABEL = "subject-object"
LEAD = 2  # words an argument may have before its entity ("the", "President")


def read_tuples(path):
    """sentence -> [(arg0, [arg1, arg2, ...])] with arguments as token strings."""
    return {sent: [(row[2], row[3:]) for row in rows]
            for sent, rows in D.read_tsv_by_sentence(path, 5).items()}


def locate(tokens, arg):
    """First exact, case-sensitive occurrence of an argument's tokens. Not
    data.find_phrase: that one aligns free-text explanations case-insensitively, which
    here would pick other occurrences and change the silver pairs (482 -> 484)."""
    words = arg.split(" ")
    n = len(words)
    for i in range(len(tokens) - n + 1):
        if tokens[i:i + n] == words:
            return (i, i + n)
    return None


def leading_mention(span, mentions):
    """Index of the mention that starts an argument span, if any."""
    if span is None:
        return None
    for mi, (s, e, _t) in enumerate(mentions):
        if span[0] <= s <= span[0] + LEAD and e <= span[1]:
            return mi
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model folder used to tag entities")
    ap.add_argument("--data", default="../shared/datasets")
    ap.add_argument("--out", required=True, help="JSONL file to write")
    ap.add_argument("--split", default="train", choices=["train", "dev"],
                    help="dev: held-out pairs for scripts/evaluate.py --open")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import evaluate as E

    runner = E.Runner(args.model, None, args.threads, 1)
    tags = runner.card["entity_tags"]
    tuples = read_tuples(Path(args.data) / f"oie2016/{args.split}.oie")
    sents = [D.Sentence("oie2016", s.split(" ")) for s in tuples]
    kept = rels = 0
    with open(args.out, "w", encoding="utf-8") as f:
        for sent, (enc, ent, *_) in zip(sents, runner.run([s.text for s in sents])):
            mentions = [(s, e, t) for s, e, t, *_ in
                        E.word_spans_to_tokens(enc, sent, decode_entities(enc, ent, tags))]
            mentions = sorted(set(mentions))
            if len(mentions) < 2:
                continue
            found = set()
            for arg0, rest in tuples[sent.text]:
                h = leading_mention(locate(sent.tokens, arg0), mentions)
                if h is None:
                    continue
                for arg in rest:
                    t = leading_mention(locate(sent.tokens, arg), mentions)
                    if t is not None and t != h:
                        found.add((h, t, LABEL))
            kept += 1
            rels += len(found)
            f.write(json.dumps({"tokens": sent.tokens, "mentions": mentions,
                                "relations": sorted(found)}) + "\n")
    print(f"{len(sents)} sentences, {kept} with 2+ mentions, {rels} silver relations -> {args.out}")


if __name__ == "__main__":
    main()
