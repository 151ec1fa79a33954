"""Validate annotator output for the news corpus and turn strings into offsets.

Reads one or more annotation files (`batch-NNN.NAME.json`, the format in
docs/annotation.md section 6), finds every mention and phrase in its sentence, and
rejects what does not match uniquely, breaks a relation's type signature or is not in
the schema. Prints every rejection and the reject rate per batch; with --out, writes
the accepted articles as corpus records (offsets and strings, never the article text).

    python3 scripts/news/validate.py runs/news/ann/batch-004.a.json
    python3 scripts/news/validate.py runs/news/ann/*.json --out runs/news/accepted.jsonl
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402


class Rejects:
    """Collects rejections for one batch file."""

    def __init__(self):
        self.items = 0
        self.messages = []

    def reject(self, where, why):
        self.messages.append(f"{where}: {why}")


# A negated relation's phrase must carry one of these (docs/annotation.md, section 7).
NEGATION = re.compile(r"\b(not|never|no|none|neither|nor|refused|refuses|denied|denies|failed|"
                      r"fails|without|rejected|ruled out|against)\b|n't", re.I)


def locate(hits, text, occ, what, where, rejects):
    """The one offset among `hits` (whole-word matches of `text`) the annotation means,
    or None with a rejection."""
    if not hits:
        rejects.reject(where, f"{what} {text!r} not found as whole words in the sentence")
        return None
    if occ is not None:
        if not isinstance(occ, int) or not 1 <= occ <= len(hits):
            rejects.reject(where, f"{what} {text!r}: occurrence {occ!r} but it occurs {len(hits)} time(s)")
            return None
        return hits[occ - 1]
    if len(hits) > 1:
        rejects.reject(where, f"{what} {text!r} occurs {len(hits)} times; add its occurrence number")
        return None
    return hits[0]


def validate_article(ann, meta, text, rejects):
    """Returns the corpus record for one article, or None when it is incomplete."""
    rid = meta["id"]
    spans = meta["sentences"]
    seen = set()
    entities, relations = [], []
    for sent in ann.get("sentences", []):
        n = sent.get("n")
        where = f"{rid}[{n}]"
        if not isinstance(n, int) or not 0 <= n < len(spans):
            rejects.items += 1
            rejects.reject(where, f"no sentence number {n!r} (the article has {len(spans)})")
            continue
        if n in seen:
            rejects.reject(where, "sentence listed twice")
            continue
        seen.add(n)
        s0, s1 = spans[n]
        sentence = text[s0:s1]
        # mention text -> list of entity indices in this sentence
        local = []
        for ent in sent.get("entities", []):
            rejects.items += 1
            if not isinstance(ent, list) or len(ent) not in (2, 3):
                rejects.reject(where, f"entity {ent!r} is not [text, label] or [text, label, k]")
                continue
            etext, label = ent[0], ent[1]
            if label not in corpus.ENTITY_LABELS:
                rejects.reject(where, f"entity {etext!r}: unknown label {label!r}")
                continue
            if not isinstance(etext, str) or etext != etext.strip() or not etext:
                rejects.reject(where, f"entity {etext!r}: empty or has outer spaces")
                continue
            hits = corpus.find_all(sentence, etext)
            if len(ent) == 3:
                at = locate(hits, etext, ent[2], "entity", where, rejects)
                hits = [] if at is None else [at]
            elif not hits:
                rejects.reject(where, f"entity {etext!r} not found as whole words in the sentence")
            for h in hits:
                start, end = s0 + h, s0 + h + len(etext)
                clash = [e for e in local if e["start"] < end and start < e["end"]]
                if any(c["start"] == start and c["end"] == end and c["label"] == label for c in clash):
                    continue
                if clash:
                    rejects.reject(where, f"entity {etext!r} overlaps {clash[0]['text']!r}")
                    continue
                local.append({"start": start, "end": end, "text": etext, "label": label, "sentence": n})
        local.sort(key=lambda e: e["start"])
        base = len(entities)
        entities.extend(local)
        pairs = set()
        for rel in sent.get("relations", []):
            rejects.items += 1
            if not isinstance(rel, dict):
                rejects.reject(where, f"relation {rel!r} is not an object")
                continue
            label = rel.get("label")
            if label not in corpus.RELATION_SIGNATURES:
                rejects.reject(where, f"relation label {label!r} is not in the schema")
                continue
            args = []
            for side in ("head", "tail"):
                name = rel.get(side)
                cands = [i for i, e in enumerate(local) if e["text"] == name]
                occ = rel.get(side + "_occ")
                if not cands:
                    rejects.reject(where, f"{side} {name!r} is not an entity of this sentence")
                elif occ is not None:
                    if isinstance(occ, int) and 1 <= occ <= len(cands):
                        args.append(cands[occ - 1])
                    else:
                        rejects.reject(where, f"{side} {name!r}: occurrence {occ!r} of {len(cands)}")
                elif len(cands) > 1:
                    rejects.reject(where, f"{side} {name!r} occurs {len(cands)} times; add {side}_occ")
                else:
                    args.append(cands[0])
            if len(args) != 2:
                continue
            h, t = local[args[0]], local[args[1]]
            if args[0] == args[1]:
                rejects.reject(where, f"{label}: head and tail are the same mention {h['text']!r}")
                continue
            heads, tails = corpus.RELATION_SIGNATURES[label]
            if h["label"] not in heads or t["label"] not in tails:
                rejects.reject(where, f"{label} needs {sorted(heads)} -> {sorted(tails)}, "
                                      f"got {h['label']} {h['text']!r} -> {t['label']} {t['text']!r}")
                continue
            if (args[0], args[1]) in pairs:
                rejects.reject(where, f"pair {h['text']!r} -> {t['text']!r} annotated twice")
                continue
            phrase = rel.get("phrase", "")
            negated = rel.get("negated", False)
            if not isinstance(phrase, str) or not isinstance(negated, bool):
                rejects.reject(where, "phrase must be a string and negated true or false")
                continue
            phrase = phrase.strip()
            p0 = p1 = None
            if phrase:
                hits = corpus.find_all(sentence, phrase)
                occ = rel.get("phrase_occ")
                lo = min(h["end"], t["end"]) - s0
                hi = max(h["start"], t["start"]) - s0
                between = [x for x in hits if x >= lo and x + len(phrase) <= hi]
                if occ is not None or len(hits) <= 1 or len(between) != 1:
                    at = locate(hits, phrase, occ, "phrase", where, rejects)
                else:
                    at = between[0]
                if at is None:
                    continue
                p0, p1 = s0 + at, s0 + at + len(phrase)
                if any(p0 < e["end"] and e["start"] < p1 for e in (h, t)):
                    rejects.reject(where, f"phrase {phrase!r} overlaps an argument")
                    continue
            if negated and not NEGATION.search(phrase):
                rejects.reject(where, f"negated relation's phrase {phrase!r} carries no negation")
                continue
            pairs.add((args[0], args[1]))
            relations.append({"head": base + args[0], "tail": base + args[1], "label": label,
                              "phrase": phrase, "phrase_start": p0, "phrase_end": p1,
                              "negated": negated, "sentence": n})
    missing = [n for n in range(len(spans)) if n not in seen]
    if missing:
        rejects.items += len(missing)
        rejects.reject(rid, f"sentences not annotated: {missing} (list every sentence, empty ones too)")
        return None
    return {"id": rid, "category": meta.get("category"), "sha256": meta["sha256"], "sentences": spans,
            "entities": entities, "relations": relations}


def validate_file(path, batches, dump):
    """(records, Rejects) for one annotation file."""
    name = os.path.basename(path)
    m = re.match(r"(batch-\d+)\.([\w-]+)\.json$", name)
    if not m:
        sys.exit(f"{path}: name it batch-NNN.ANNOTATOR.json")
    batch, annotator = m.group(1), m.group(2)
    with open(os.path.join(batches, batch + ".meta.json"), encoding="utf-8") as f:
        metas = {a["id"]: a for a in json.load(f)}
    rejects = Rejects()
    try:
        with open(path, encoding="utf-8") as f:
            anns = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        rejects.items += 1
        rejects.reject(name, f"cannot read: {e}")
        return [], rejects
    records, done = [], set()
    for ann in anns if isinstance(anns, list) else []:
        rid = ann.get("id") if isinstance(ann, dict) else None
        if rid not in metas or rid in done:
            rejects.items += 1
            rejects.reject(str(rid), "article not in this batch, or listed twice")
            continue
        done.add(rid)
        text = dump[rid]["text"]
        if corpus.text_sha256(text) != metas[rid]["sha256"]:
            sys.exit(f"{rid}: the dump's text differs from the one the batch was made from")
        rec = validate_article(ann, metas[rid], text, rejects)
        if rec:
            rec.update(batch=batch, annotator=annotator)
            records.append(rec)
    for rid in metas:
        if rid not in done:
            rejects.items += 1
            rejects.reject(rid, "article missing from the file")
    return records, rejects


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="annotation files batch-NNN.NAME.json")
    ap.add_argument("--batches", default="runs/news/batches", help="folder of batch-NNN.meta.json")
    ap.add_argument("--dump", default="../shared/datasets/articles/bbc-news.jsonl")
    ap.add_argument("--out", help="write accepted article records here (JSONL)")
    ap.add_argument("--quiet", action="store_true", help="only the per-batch summary")
    args = ap.parse_args()
    dump = corpus.read_dump(args.dump)
    all_records, total_items, total_rejects = [], 0, 0
    for path in args.files:
        records, rejects = validate_file(path, args.batches, dump)
        if not args.quiet:
            for msg in rejects.messages:
                print(f"  reject {msg}")
        n_rel = sum(len(r["relations"]) for r in records)
        n_ent = sum(len(r["entities"]) for r in records)
        rate = len(rejects.messages) / max(rejects.items, 1)
        print(f"{os.path.basename(path)}: {len(records)} articles accepted, {n_ent} mentions, "
              f"{n_rel} relations; {len(rejects.messages)} rejected of {rejects.items} items "
              f"({rate:.1%})")
        all_records += records
        total_items += rejects.items
        total_rejects += len(rejects.messages)
    print(f"total: {len(all_records)} articles; {total_rejects} rejected of {total_items} items "
          f"({total_rejects / max(total_items, 1):.1%})")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            for r in all_records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return 1 if total_rejects else 0


if __name__ == "__main__":
    sys.exit(main())
