"""The erx news corpus (data/news/*.jsonl, see docs/annotation.md) as training sentences.

Each annotated sentence becomes a `Sentence` over the corpus tokenizer's word tokens, with
names as `entities` and `mentions`, values as `values`, and relations as (head mention,
tail mention, label) with a phrase span (or None) and a negation flag per relation.
"""

import sys
from pathlib import Path

from . import data as D

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "news"))
import corpus  # noqa: E402
from examples import sentence_examples  # noqa: E402

VALUE_TYPES = list(corpus.VALUE_LABELS)
RELATION_LABELS = list(corpus.RELATION_LABELS)
CONLL04_TO_NEWS = dict(corpus.CONLL04_TO_NEWS)


def read_news(corpus_path, dump_path):
    out = []
    for record in corpus.load_corpus(corpus_path, dump_path):
        for ex in sentence_examples(record):
            names = D.bio_spans(ex["names"])
            values = D.bio_spans(ex["values"])
            index = {(s, e): i for i, (s, e, _t) in enumerate(names)}
            rels, phrases, negated = [], [], []
            for r in ex["relations"]:
                h, t = index.get(tuple(r["head"])), index.get(tuple(r["tail"]))
                if h is None or t is None:
                    continue  # an argument lost to an overlapping span in the BIO tags
                rels.append((h, t, r["label"]))
                phrases.append(tuple(r["phrase"]) if r["phrase"] else None)
                negated.append(bool(r["negated"]))
            sent = D.Sentence("news", ex["words"], entities=names, mentions=names,
                              relations=rels, schema="news")
            sent.values = values
            sent.phrases = phrases
            sent.negated = negated
            sent.article = record["id"]
            sent.segments = [0] * len(ex["words"])
            out.append(sent)
    return out


def pack_articles(sentences, rng, share=0.6, max_words=80):
    """Join runs of consecutive sentences of one article into one example of at most
    `max_words` words, as the pipeline packs an article's sentences into a window: a value
    or a name read at position 90 of a window must look the same as at position 2.
    `segments` numbers the sentences inside an example, so relations and phrases are only
    trained within their own sentence, as they are decoded."""
    out, i = [], 0
    while i < len(sentences):
        most = len(sentences) if rng.random() < share else 1
        group = D.run_from(sentences, i, most, max_words, joins=lambda first, s: s.article == first.article)
        i += len(group)
        if len(group) == 1:
            out.append(group[0])
            continue
        toks, ents, vals, mentions, rels, phrases, negated, segments = [], [], [], [], [], [], [], []
        for k, s in enumerate(group):
            off, moff = len(toks), len(mentions)
            toks += s.tokens
            segments += [k] * len(s.tokens)
            ents += [(a + off, b + off, t) for a, b, t in s.entities]
            vals += [(a + off, b + off, t) for a, b, t in s.values]
            mentions += [(a + off, b + off, t) for a, b, t in s.mentions]
            rels += [(h + moff, t + moff, label) for h, t, label in s.relations]
            phrases += [(p[0] + off, p[1] + off) if p else None for p in s.phrases]
            negated += s.negated
        sent = D.Sentence("news", toks, entities=ents, mentions=mentions, relations=rels, schema="news")
        sent.values, sent.phrases, sent.negated = vals, phrases, negated
        sent.article, sent.segments = group[0].article, segments
        out.append(sent)
    return out
