"""Assemble data/news/{train,dev}.jsonl from the validated annotation files.

For each batch, the adjudicated file (`batch-NNN.adj.json`) wins over annotator `a`'s;
batches whose index is 3 mod 4 form the dev split (at least 100 articles once 40
batches are in). A text the dump holds twice (under two ids) is kept once, in dev when
either copy is there. Prints the corpus statistics the README reports.

    python3 scripts/news/build_corpus.py --ann runs/news/ann --out data/news
"""
import argparse
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import validate  # noqa: E402


def pick_files(ann_dir):
    """One annotation file per batch: adjudicated if present, else annotator a's."""
    chosen = {}
    for path in sorted(glob.glob(os.path.join(ann_dir, "batch-*.json"))):
        m = re.match(r"(batch-(\d+))\.([\w-]+)\.json$", os.path.basename(path))
        if not m:
            continue
        batch, who = m.group(1), m.group(3)
        if who == "adj" or (who == "a" and batch not in chosen):
            chosen[batch] = path
    return chosen


def archive(ann_dir, batch_dir, out):
    """Compact copies of the annotation files and the batch indexes (.meta.json)."""
    os.makedirs(out, exist_ok=True)
    paths = glob.glob(os.path.join(ann_dir, "batch-*.json"))
    paths += glob.glob(os.path.join(batch_dir, "batch-*.meta.json"))
    for path in sorted(paths):
        name = os.path.basename(path)
        if name.endswith(".meta.json") and not glob.glob(os.path.join(ann_dir, name.split(".")[0] + ".*.json")):
            continue  # an index of a batch nobody annotated
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")


def stats(records):
    ents = [e for r in records for e in r["entities"]]
    categories = {}
    for r in records:
        categories[r.get("category")] = categories.get(r.get("category"), 0) + 1
    return {
        "articles": len(records),
        "categories": dict(sorted(categories.items())),
        "sentences": sum(len(r["sentences"]) for r in records),
        "names": sum(e["label"] in corpus.NAME_LABELS for e in ents),
        "values": sum(e["label"] in corpus.VALUE_LABELS for e in ents),
        "relations": sum(len(r["relations"]) for r in records),
        "negated": sum(x["negated"] for r in records for x in r["relations"]),
        "sentences_with_relation": sum(len({x["sentence"] for x in r["relations"]}) for r in records),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ann", default="runs/news/ann", help="folder of batch-NNN.NAME.json files")
    ap.add_argument("--batches", default="runs/news/batches")
    ap.add_argument("--dump", default="../shared/datasets/articles/bbc-news.jsonl")
    ap.add_argument("--out", default="data/news")
    ap.add_argument("--raw-out", help="also copy every annotation file and batch index "
                    "(strings, labels, offsets; no text) here, compact, so agreement and "
                    "validation can be rerun from the repository")
    args = ap.parse_args()
    if args.raw_out:
        archive(args.ann, args.batches, args.raw_out)
    dump = corpus.read_dump(args.dump)
    splits = {"train": [], "dev": []}
    for batch, path in sorted(pick_files(args.ann).items()):
        records, rejects = validate.validate_file(path, args.batches, dump)
        if rejects.messages:
            print(f"{os.path.basename(path)}: {len(rejects.messages)} rejected items left out")
        index = int(batch.split("-")[1])
        for r in records:
            r.pop("annotator", None)
            r["adjudicated"] = path.endswith(".adj.json")
        splits["dev" if index % 4 == 3 else "train"].extend(records)
    # The dump repeats some texts under two ids: keep one copy, the dev one if either is in
    # dev, so no text is both trained on and scored.
    seen, dropped = set(), []
    for name in ("dev", "train"):  # dev first, so a text in both keeps its dev copy
        kept = []
        for r in splits[name]:
            if r["sha256"] in seen:
                dropped.append(f"{r['id']} ({name})")
                continue
            seen.add(r["sha256"])
            kept.append(r)
        splits[name] = kept
    if dropped:
        print(f"dropped {len(dropped)} duplicate texts: {', '.join(dropped)}")
    os.makedirs(args.out, exist_ok=True)
    summary = {"duplicates_dropped": dropped}
    for name, records in splits.items():
        with open(os.path.join(args.out, name + ".jsonl"), "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        summary[name] = stats(records)
        print(name, json.dumps(summary[name]))
    labels = {}
    for records in splits.values():
        for r in records:
            for x in r["relations"]:
                labels[x["label"]] = labels.get(x["label"], 0) + 1
    summary["relation_labels"] = dict(sorted(labels.items(), key=lambda kv: -kv[1]))
    print("relation labels", json.dumps(summary["relation_labels"]))
    with open(os.path.join(args.out, "stats.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
