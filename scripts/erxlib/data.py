"""Readers for the four training formats into one intermediate form, `Sentence`.

Token spans are [start, end) over the sentence's gold tokens. `entities is None` means the
source has no (usable) entity annotation, so the entity loss is masked for it; the same
holds for `predicates` and for `relations` (with `schema` naming the relation label set).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

ENTITY_TYPES = ["PER", "ORG", "LOC", "MISC"]

CONLL04_TYPES = {"Peop": "PER", "Org": "ORG", "Loc": "LOC"}  # "Other" has no CoNLL-2003 match
CROSSRE_NEWS_TYPES = {"person": "PER", "organisation": "ORG", "location": "LOC", "misc": "MISC",
                      "country": "LOC"}


@dataclass
class Sentence:
    source: str
    tokens: list
    entities: list | None = None  # [(start, end, type)], type in ENTITY_TYPES
    ner_ignore: list = field(default_factory=list)  # spans whose tags are not trained
    mentions: list = field(default_factory=list)  # relation arguments [(start, end, raw_type)]
    relations: list = field(default_factory=list)  # [(head_mention, tail_mention, label)]
    schema: str | None = None  # "conll04" | "crossre" | None
    predicates: list | None = None  # [(start, end)]

    @property
    def text(self):
        return " ".join(self.tokens)

    @property
    def token_starts(self):
        starts, pos = [], 0
        for t in self.tokens:
            starts.append(pos)
            pos += len(t) + 1
        return starts


def bio_spans(tags):
    """conlleval chunking: B- starts; I- continues the same type, otherwise starts too."""
    spans, start, typ = [], None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        if tag == "O" or tag.startswith("B-") or tag[2:] != typ:
            if typ is not None:
                spans.append((start, i, typ))
            start, typ = (i, tag[2:]) if tag != "O" else (None, None)
    return spans


def bilou_spans(tags):
    spans, start = [], None
    for i, tag in enumerate(tags):
        p, typ = (tag[0], tag[2:]) if tag != "O" else ("O", None)
        if p == "U":
            spans.append((i, i + 1, typ))
            start = None
        elif p == "B":
            start = i
        elif p == "L" and start is not None:
            spans.append((start, i + 1, typ))
            start = None
    return spans


def read_conll2003(path):
    out, toks, tags = [], [], []
    for line in list(Path(path).open(encoding="utf-8")) + [""]:
        line = line.strip()
        if not line or line.startswith("-DOCSTART-"):
            if toks:
                out.append(Sentence("conll2003", toks, entities=bio_spans(tags)))
            toks, tags = [], []
            continue
        parts = line.split()
        toks.append(parts[0])
        tags.append(parts[-1])
    return out


def read_conll04(path):
    out = []
    for d in json.load(open(path, encoding="utf-8")):
        spans = bilou_spans(d["tags"])
        ents = [(s, e, CONLL04_TYPES[t]) for s, e, t in spans if t in CONLL04_TYPES]
        ignore = [(s, e) for s, e, t in spans if t not in CONLL04_TYPES]
        rels = [(r["head"], r["tail"], r["type"]) for r in d["relations"]]
        out.append(Sentence("conll04", d["tokens"], entities=ents, ner_ignore=ignore,
                            mentions=spans, relations=rels, schema="conll04"))
    return out


def read_crossre(path, domain):
    out = []
    for line in open(path, encoding="utf-8"):
        d = json.loads(line)
        toks = d["sentence"]
        mentions = [(s, e + 1, t) for s, e, t in d["ner"]]
        index = {(s, e): i for i, (s, e, _t) in enumerate(mentions)}
        rels, preds = [], []
        for hs, he, ts, te, label, expl, *_ in d["relations"]:
            h, t = index.get((hs, he + 1)), index.get((ts, te + 1))
            if h is None or t is None:
                continue
            rels.append((h, t, label))
            span = find_phrase(toks, expl)
            if span:
                preds.append(span)
        ents = None
        if domain == "news":
            ents = [(s, e, CROSSRE_NEWS_TYPES[t]) for s, e, t in mentions if t in CROSSRE_NEWS_TYPES]
        out.append(Sentence(f"crossre-{domain}", toks, entities=ents, mentions=mentions,
                            relations=rels, schema="crossre",
                            predicates=preds if preds else None))
    return out


def find_phrase(tokens, explanation):
    """Align a CrossRE free-text explanation ("spokesman_for") to a token span, if exact."""
    if not explanation:
        return None
    words = explanation.replace("_", " ").lower().split()
    low = [t.lower() for t in tokens]
    n = len(words)
    for i in range(len(low) - n + 1):
        if low[i:i + n] == words:
            return (i, i + n)
    return None


def read_tsv_by_sentence(path, min_cols):
    """Rows of a tab-separated file whose first column is a sentence (OIE2016, CaRB),
    grouped by sentence in file order: {sentence: [[column 2, column 3, ...], ...]}.
    Rows with fewer than `min_cols` columns are skipped."""
    out = {}
    for line in open(path, encoding="utf-8"):
        cols = line.rstrip("\n").split("\t")
        if len(cols) >= min_cols:
            out.setdefault(cols[0], []).append(cols[1:])
    return out


def read_oie2016(path):
    """Predicate spans per sentence: the predicate phrase where it is contiguous, else its head."""
    out = []
    for sent, rows in read_tsv_by_sentence(path, 3).items():
        toks = sent.split(" ")
        spans = set()
        for head, phrase, *_args in rows:
            span = find_phrase(toks, phrase.replace(" ", "_")) or find_phrase(toks, head)
            if span:
                spans.add(span)
        out.append(Sentence("oie2016", toks, predicates=sorted(spans)))
    return out


def run_from(sentences, i, most, max_words, joins=lambda first, s: True):
    """Sentence i and the ones after it, at most `most` in all, while they fit in
    `max_words` words and `joins(sentences[i], s)` holds."""
    group, words = [sentences[i]], len(sentences[i].tokens)
    for s in sentences[i + 1:i + most]:
        if not joins(sentences[i], s) or words + len(s.tokens) > max_words:
            break
        group.append(s)
        words += len(s.tokens)
    return group


def pack_consecutive(sentences, rng, share=0.5, max_words=90, fill=False):
    """Join runs of 2-4 consecutive sentences into one example, so the model also learns
    windows that hold several sentences (as the pipeline packs them), not only one. With
    `fill`, a joined run takes sentences while they fit in `max_words`, as the pipeline
    fills a window from an article."""
    out, i = [], 0
    while i < len(sentences):
        n = (len(sentences) if fill else rng.choice([2, 3, 4])) if rng.random() < share else 1
        group = run_from(sentences, i, n, max_words)
        i += len(group)
        if len(group) == 1:
            out.append(group[0])
            continue
        toks, ents, off = [], [], 0
        for s in group:
            toks += s.tokens
            ents += [(a + off, b + off, t) for a, b, t in s.entities]
            off += len(s.tokens)
        out.append(Sentence(group[0].source, toks, entities=ents))
    return out


def read_training_mix(root):
    root = Path(root)
    mix = {"conll2003": read_conll2003(root / "conll2003/train.txt"),
           "conll04": read_conll04(root / "conll04/train.json"),
           "oie2016": read_oie2016(root / "oie2016/train.oie")}
    crossre = []
    for dom in ["news", "politics", "ai", "science", "music", "literature"]:
        crossre += read_crossre(root / f"crossre/{dom}-train.json", dom)
    mix["crossre"] = crossre
    return mix
