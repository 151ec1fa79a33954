"""Model outputs -> entities and relations. Mirrors src/decode.rs so that Python
evaluation and the Rust pipeline agree."""

import numpy as np

from .features import Encoded


def entity_tags(entity_types):
    return ["O"] + [f"{p}-{t}" for t in entity_types for p in ("B", "I")]


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def decode_entities(enc: Encoded, logits, tags):
    """Word-level BIO decoding with repair: an I-X that does not continue an X opens one.

    Returns [(first_word, last_word_exclusive, type, score)]."""
    probs = softmax(np.asarray(logits, dtype=np.float64))
    spans, cur = [], None
    for wi, (_s, _e, ft, _lt) in enumerate(enc.words):
        k = int(probs[ft].argmax())
        tag, p = tags[k], float(probs[ft, k])
        if tag == "O":
            if cur:
                spans.append(cur)
            cur = None
            continue
        prefix, typ = tag[0], tag[2:]
        if prefix == "I" and cur is not None and cur[2] == typ:
            cur = (cur[0], wi + 1, typ, cur[3] + [p])
        else:
            if cur:
                spans.append(cur)
            cur = (wi, wi + 1, typ, [p])
    if cur:
        spans.append(cur)
    out = []
    for a, b, t, ps in spans:
        trimmed = trim_punctuation(enc, a, b)
        if trimmed:
            out.append((*trimmed, t, sum(ps) / len(ps)))
    return out


def _punct(enc, wi):
    s, e = enc.words[wi][0], enc.words[wi][1]
    w = enc.text[s:e]
    return w if len(w) == 1 and not w.isalnum() else None


def trim_punctuation(enc, a, b):
    """Mirror of src/decode.rs trim_punctuation: no punctuation word at a mention's edges,
    except a period glued to the word before it."""
    while a < b and _punct(enc, a):
        a += 1
    while a < b and _punct(enc, b - 1):
        attached = b - 1 > a and enc.words[b - 2][1] == enc.words[b - 1][0]
        if _punct(enc, b - 1) == "." and attached:
            break
        b -= 1
    return (a, b) if a < b else None


def decode_predicates(enc: Encoded, logits):
    """Word spans tagged as predicates (O / B / I), with their mean probability."""
    probs = softmax(np.asarray(logits, dtype=np.float64))
    spans, cur = [], None
    for wi, (_s, _e, ft, _lt) in enumerate(enc.words):
        k = int(probs[ft].argmax())
        if k == 0:
            if cur:
                spans.append(cur)
            cur = None
        elif k == 2 and cur is not None:
            cur = (cur[0], wi + 1, cur[2] + [float(probs[ft, k])])
        else:
            if cur:
                spans.append(cur)
            cur = (wi, wi + 1, [float(probs[ft, k])])
    if cur:
        spans.append(cur)
    return [(a, b, sum(ps) / len(ps)) for a, b, ps in spans]


def mention_vector(enc: Encoded, proj, first_word, last_word_excl):
    ft = enc.words[first_word][2]
    lt = enc.words[last_word_excl - 1][3]
    return np.asarray(proj[ft:lt + 1], dtype=np.float64).mean(0)


def score_pairs(enc, rel_head, rel_tail, spans):
    """Sigmoid scores [M, M, R] for all ordered pairs of word spans."""
    if not spans:
        return np.zeros((0, 0, rel_head.shape[-2]))
    h = np.stack([mention_vector(enc, rel_head, a, b) for a, b, *_ in spans])
    t = np.stack([mention_vector(enc, rel_tail, a, b) for a, b, *_ in spans])
    logits = np.einsum("irk,jrk->ijr", h, t)
    return 1.0 / (1.0 + np.exp(-logits))
