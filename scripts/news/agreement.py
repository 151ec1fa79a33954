"""Agreement between two annotators of the same news-corpus batches.

Validates both annotation files of each batch (as validate.py does), then reports:
entity F1 (names, values; exact span and label), relation F1 on ordered pairs (exact
head and tail spans), on pairs plus label, phrase token F1 on the pairs both listed,
and negation agreement on those pairs. Annotator A plays gold; F1 is symmetric.

    python3 scripts/news/agreement.py --a a --b b runs/news/ann/batch-00[0-3].a.json
    python3 scripts/news/agreement.py ... --show      # list every disagreement
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import validate  # noqa: E402

def phrase_tokens(rel):
    """Code-point spans of the phrase's tokens (empty phrase: no tokens)."""
    if not rel["phrase"]:
        return set()
    base = rel["phrase_start"]
    return {(base + m.start(), base + m.end()) for m in corpus.TOKEN.finditer(rel["phrase"])}


def token_f1(a, b):
    """Token-overlap F1 of two token sets; two empty phrases agree fully."""
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def f1(tp, n_a, n_b):
    p = tp / n_b if n_b else 0.0
    r = tp / n_a if n_a else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def keyed(record):
    """Entity and relation keys of one validated article record."""
    ents = record["entities"]
    names = {(e["start"], e["end"], e["label"]) for e in ents if e["label"] in corpus.NAME_LABELS}
    values = {(e["start"], e["end"], e["label"]) for e in ents if e["label"] in corpus.VALUE_LABELS}
    rels = {}
    for r in record["relations"]:
        h, t = ents[r["head"]], ents[r["tail"]]
        rels[(h["start"], h["end"], t["start"], t["end"])] = r
    return names, values, rels


def compare(gold, pred):
    """Counts for gold vs predicted records (both {id: record})."""
    c = dict.fromkeys(["names_tp", "names_a", "names_b", "values_tp", "values_a", "values_b",
                       "pairs_tp", "pairs_a", "pairs_b", "label_tp", "neg_agree"], 0)
    phrase_f1s, diffs = [], []
    for rid in sorted(set(gold) & set(pred)):
        gn, gv, gr = keyed(gold[rid])
        pn, pv, pr = keyed(pred[rid])
        for kind, g, p in (("names", gn, pn), ("values", gv, pv)):
            c[kind + "_tp"] += len(g & p)
            c[kind + "_a"] += len(g)
            c[kind + "_b"] += len(p)
            for who, only in (("only A", g - p), ("only B", p - g)):
                for s, e, label in sorted(only):
                    src = gold[rid] if who == "only A" else pred[rid]
                    name = next(x["text"] for x in src["entities"] if (x["start"], x["end"]) == (s, e))
                    diffs.append(f"{rid} entity {who}: {name!r} {label} at {s}..{e}")
        c["pairs_a"] += len(gr)
        c["pairs_b"] += len(pr)
        text_of = lambda rec, s, e: next(x["text"] for x in rec["entities"] if (x["start"], x["end"]) == (s, e))  # noqa: E731
        for key in gr.keys() | pr.keys():
            ga, pa = gr.get(key), pr.get(key)
            rec = gold[rid] if ga else pred[rid]
            desc = f"{text_of(rec, key[0], key[1])} -> {text_of(rec, key[2], key[3])}"
            if ga and pa:
                c["pairs_tp"] += 1
                c["label_tp"] += ga["label"] == pa["label"]
                c["neg_agree"] += ga["negated"] == pa["negated"]
                pf = token_f1(phrase_tokens(ga), phrase_tokens(pa))
                phrase_f1s.append(pf)
                if ga["label"] != pa["label"] or pf < 1:
                    diffs.append(f"{rid}[{ga['sentence']}] {desc}: A {ga['label']} [{ga['phrase']}] | B {pa['label']} [{pa['phrase']}]")
            else:
                r = ga or pa
                who = "only A" if ga else "only B"
                diffs.append(f"{rid}[{r['sentence']}] {desc}: {who} {r['label']} [{r['phrase']}]")
    return c, phrase_f1s, diffs


def report(c, phrase_f1s):
    rows = [
        ("entities, names", f1(c["names_tp"], c["names_a"], c["names_b"]), c["names_a"], c["names_b"]),
        ("entities, values", f1(c["values_tp"], c["values_a"], c["values_b"]), c["values_a"], c["values_b"]),
        ("relations, ordered pairs", f1(c["pairs_tp"], c["pairs_a"], c["pairs_b"]), c["pairs_a"], c["pairs_b"]),
        ("relations, pairs + label", f1(c["label_tp"], c["pairs_a"], c["pairs_b"]), c["pairs_a"], c["pairs_b"]),
    ]
    for name, score, na, nb in rows:
        print(f"{name:28s} F1 {score:.4f}   (A {na}, B {nb})")
    mean = sum(phrase_f1s) / len(phrase_f1s) if phrase_f1s else 0.0
    print(f"{'phrase token F1, shared pairs':28s} {mean:.4f}   ({len(phrase_f1s)} pairs)")
    if phrase_f1s:
        print(f"{'negation agreement':28s} {c['neg_agree'] / len(phrase_f1s):.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="annotator A's files batch-NNN.A.json")
    ap.add_argument("--a", default="a", help="annotator A's name in the file names")
    ap.add_argument("--b", default="b", help="annotator B's name in the file names")
    ap.add_argument("--batches", default="runs/news/batches")
    ap.add_argument("--dump", default="../shared/datasets/articles/bbc-news.jsonl")
    ap.add_argument("--show", action="store_true", help="print every relation disagreement")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    dump = corpus.read_dump(args.dump)
    gold, pred = {}, {}
    for path in args.files:
        other = path.replace(f".{args.a}.json", f".{args.b}.json")
        for target, p in ((gold, path), (pred, other)):
            records, _ = validate.validate_file(p, args.batches, dump)
            target.update({r["id"]: r for r in records})
    c, phrase_f1s, diffs = compare(gold, pred)
    print(f"{len(set(gold) & set(pred))} articles annotated by both")
    report(c, phrase_f1s)
    if args.show:
        print("\n".join(diffs))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"counts": c, "phrase_f1": phrase_f1s}, f)


if __name__ == "__main__":
    main()
