"""Model outputs -> entities and relations. Mirrors src/decode.rs so that Python
evaluation and the Rust pipeline agree."""

import numpy as np

from .features import Encoded


def entity_tags(entity_types):
    return ["O"] + [f"{p}-{t}" for t in entity_types for p in ("B", "I")]


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _tag_kind(tag):
    if tag[:2] in ("B-", "I-") and len(tag) > 2:
        return tag[0], tag[2:]
    return "O", None


def _may_follow(prev, nxt):
    """BIO: I-X only after B-X or I-X (prev None = sentence start)."""
    if nxt[0] != "I":
        return True
    return prev is not None and prev[0] in ("B", "I") and prev[1] == nxt[1]


def _log_softmax32(row):
    """log-softmax in float32, computed as src/decode.rs log_softmax does."""
    x = np.asarray(row, dtype=np.float32)
    m = x.max()
    return x - m - np.float32(np.log(np.exp(x - m).sum(dtype=np.float32)))


def best_tags(enc: Encoded, logits, tags):
    """Most probable BIO-valid tag sequence over words (read at first pieces): Viterbi,
    as src/decode.rs best_tags (float32 sums, first index wins ties). Returns
    [(tag index, probability)] per word."""
    if not enc.words or not tags:
        return []
    kinds = [_tag_kind(t) for t in tags]
    n = min(len(tags), len(logits[enc.words[0][2]]))
    lp = [_log_softmax32(logits[ft][:n]) for _s, _e, ft, _lt in enc.words]
    score = [lp[0][k] if _may_follow(None, kinds[k]) else np.float32(-np.inf) for k in range(n)]
    back = []
    for em in lp[1:]:
        nxt, frm = [np.float32(-np.inf)] * n, [0] * n
        for k in range(n):
            for j in range(n):
                if score[j] > nxt[k] and _may_follow(kinds[j], kinds[k]):
                    nxt[k], frm[k] = score[j], j
            nxt[k] += em[k]
        score = nxt
        back.append(frm)
    k = max(range(n), key=lambda i: (score[i], -i))
    path = [k]
    for frm in reversed(back):
        k = frm[k]
        path.append(k)
    path.reverse()
    return [(k, float(np.exp(lp[w][k]))) for w, k in enumerate(path)]


def decode_entities(enc: Encoded, logits, tags):
    """Word-level BIO decoding by constrained Viterbi (see best_tags).

    Returns [(first_word, last_word_exclusive, type, score)]."""
    spans, cur = [], None
    for wi, (k, p) in enumerate(best_tags(enc, logits, tags)):
        prefix, typ = _tag_kind(tags[k])
        if prefix == "O":
            if cur:
                spans.append(cur)
            cur = None
        elif prefix == "I" and cur is not None and cur[2] == typ:
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
            total = np.float32(0)
            for p in ps:  # float32, in order, as src/decode.rs tag_spans sums
                total = np.float32(total + np.float32(p))
            out.append((*trimmed, t, float(total / np.float32(len(ps)))))
    return out


def harmonise_labels(docs):
    """Mirror of src/document.rs harmonise_labels over one document given as a list of
    (Encoded, [(first_word, last_word_excl, type, score)]) per sentence, in text order:
    every mention of one name (case-insensitive) gets the label most of them were read
    with; ties go to the larger summed score, then to the label read first. Returns new
    span lists."""
    def name(enc, a, b):
        return enc.text[enc.words[a][0]:enc.words[b - 1][1]].lower()

    tallies = {}  # name -> {label: [count, score]}, labels in order of first reading
    for enc, spans in docs:
        for a, b, t, sc in spans:
            tally = tallies.setdefault(name(enc, a, b), {}).setdefault(t, [0, np.float32(0)])
            tally[0] += 1
            tally[1] = np.float32(tally[1] + np.float32(sc))
    # max() keeps the first of equals: the label read first
    winner = {n: max(labels, key=lambda label: tuple(labels[label])) for n, labels in tallies.items()}
    return [[(a, b, winner[name(enc, a, b)], sc) for a, b, _t, sc in spans] for enc, spans in docs]


def _punct(enc, wi):
    s, e = enc.words[wi][0], enc.words[wi][1]
    w = enc.text[s:e]
    return w if len(w) == 1 and not w.isalnum() else None


_OPENER = {")": "(", "]": "[", "}": "{"}


def _opens_inside(enc, close, a, b):
    """True when `close` is a closing bracket that words a..b leave open."""
    opener = _OPENER.get(close)
    if opener is None:
        return False
    depth = 0
    for wi in range(a, b):
        c = _punct(enc, wi)
        depth += (c == opener) - (c == close)
    return depth > 0


def trim_punctuation(enc, a, b):
    """Mirror of src/decode.rs trim_punctuation: no punctuation word at a mention's edges,
    except a period glued to the word before it, or a bracket opened inside the mention."""
    while a < b and _punct(enc, a):
        a += 1
    while a < b and _punct(enc, b - 1):
        c = _punct(enc, b - 1)
        attached = b - 1 > a and enc.words[b - 2][1] == enc.words[b - 1][0]
        if (c == "." and attached) or _opens_inside(enc, c, a, b - 1):
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


def score_pairs(enc, rel_head, rel_tail, spans, rel_context=None, context_card=None):
    """Sigmoid scores [M, M, R] for all ordered pairs of word spans; with a model's
    `rel_context` rows and its card's `relation_context`, the pair-context terms are added
    (see erxlib.model.pair_context_features)."""
    if not spans:
        return np.zeros((0, 0, rel_head.shape[-2]))
    h = np.stack([mention_vector(enc, rel_head, a, b) for a, b, *_ in spans])
    t = np.stack([mention_vector(enc, rel_tail, a, b) for a, b, *_ in spans])
    logits = np.einsum("irk,jrk->ijr", h, t)
    if rel_context is not None and context_card is not None:
        logits = logits + pair_context_terms(enc, rel_context, [(a, b) for a, b, *_ in spans], context_card)
    return 1.0 / (1.0 + np.exp(-logits))


def pair_context_terms(enc, rel_context, spans, card):
    """What a model card's `relation_context` adds to each pair's logits [M, M, R]."""
    from .model import pair_context_features

    R = rel_context.shape[-1] // 2
    edges = card["gap_edges"]
    gap_bias = np.asarray(card["gap_bias"], np.float64)
    between_bias = np.asarray(card["mentions_between_bias"], np.float64)
    rows = np.asarray([rel_context[w[2]] for w in enc.words], np.float64)
    gap, between, ranges = pair_context_features(spans, edges)
    M = len(spans)
    out = np.zeros((M, M, R))
    for i in range(M):
        for j in range(M):
            if i == j:
                continue
            lo, hi = ranges[i][j]
            pooled = rows[lo:hi].max(0) if hi > lo else np.zeros(2 * R)
            out[i, j] = (gap_bias[gap[i][j]] + between_bias[min(between[i][j], len(between_bias) - 1)]
                         + pooled[:R] - pooled[R:])
    return out
