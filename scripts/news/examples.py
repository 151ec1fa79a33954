"""Turn news-corpus records into per-sentence training examples.

Each sentence becomes word tokens (runs of letters and digits, or single other
characters) with code-point offsets, BIO tags for names and, separately, for values,
and its relations as token spans. This is the input side of training a model on the
corpus; `python3 scripts/news/examples.py --corpus data/news/train.jsonl` prints how well
the annotated spans align with these tokens.

    from examples import sentence_examples
    for record in corpus.load_corpus("data/news/train.jsonl", dump):
        for ex in sentence_examples(record): ...
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

def tokens(text, start, end):
    """(start, end) code-point spans of the word tokens of text[start:end]."""
    return [(start + m.start(), start + m.end()) for m in corpus.TOKEN.finditer(text[start:end])]


def token_span(toks, start, end):
    """Token indices [first, last + 1) covering code points start..end, and whether the
    span's edges fall exactly on token edges."""
    first = next(i for i, (s, e) in enumerate(toks) if e > start)
    last = max(i for i, (s, e) in enumerate(toks) if s < end)
    exact = toks[first][0] == start and toks[last][1] == end
    return first, last + 1, exact


def bio(n, spans):
    """BIO tags for n tokens from (first, end, label) spans; earlier spans win overlaps."""
    tags = ["O"] * n
    for first, end, label in spans:
        if any(t != "O" for t in tags[first:end]):
            continue
        tags[first] = "B-" + label
        for k in range(first + 1, end):
            tags[k] = "I-" + label
    return tags


def sentence_examples(record):
    """One dict per sentence: tokens, text of each token, name and value BIO tags,
    relations as token spans, and how many spans did not align with token edges."""
    text = record["text"]
    out = []
    for n, (s0, s1) in enumerate(record["sentences"]):
        toks = tokens(text, s0, s1)
        if not toks:
            continue
        names, values, index, misaligned = [], [], {}, 0
        for k, e in enumerate(record["entities"]):
            if e["sentence"] != n:
                continue
            first, end, exact = token_span(toks, e["start"], e["end"])
            misaligned += not exact
            index[k] = (first, end)
            (values if e["label"] in corpus.VALUE_LABELS else names).append((first, end, e["label"]))
        relations = []
        for r in record["relations"]:
            if r["sentence"] != n:
                continue
            phrase = None
            if r["phrase"]:
                first, end, exact = token_span(toks, r["phrase_start"], r["phrase_end"])
                misaligned += not exact
                phrase = (first, end)
            relations.append({"head": index[r["head"]], "tail": index[r["tail"]],
                              "label": r["label"], "phrase": phrase, "negated": r["negated"]})
        out.append({
            "id": record["id"], "sentence": n,
            "tokens": toks, "words": [text[a:b] for a, b in toks],
            "names": bio(len(toks), names), "values": bio(len(toks), values),
            "relations": relations, "misaligned": misaligned,
        })
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="data/news/train.jsonl")
    ap.add_argument("--dump", default="../shared/datasets/articles/bbc-news.jsonl")
    args = ap.parse_args()
    sentences = spans = misaligned = relations = 0
    for record in corpus.load_corpus(args.corpus, args.dump):
        for ex in sentence_examples(record):
            sentences += 1
            relations += len(ex["relations"])
            misaligned += ex["misaligned"]
            spans += sum(t[0] == "B" for t in ex["names"] + ex["values"])
            spans += sum(r["phrase"] is not None for r in ex["relations"])
    print(f"{sentences} sentences, {relations} relations, {spans} tagged spans; "
          f"{misaligned} spans do not start and end on token edges")


if __name__ == "__main__":
    main()
