"""Shared harness of the peer baselines: input reading, the timed throughput loop, the
CoNLL-2003 strict scorer and the command line every peer script has.

A peer module supplies `add_args(ap)` and `load(args)`; `load` returns an object with
`entities(texts) -> [[(char_start, char_end, type), ...] per text]`. Then

  python scripts/peers/<peer>.py bench --dump DUMP --limit 200 --threads 2 --json
  python scripts/peers/<peer>.py eval --conll DEV --json [--limit N]

print JSON shaped like `erx bench --json` / `erx eval --json` (the subset compare.py reads).
"""

import argparse
import bisect
import json
import random
import resource
import sys
import time
from collections import Counter
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

DUMP = "../shared/datasets/articles/bbc-news.jsonl"
CONLL_DEV = "../shared/datasets/conll2003/dev.txt"
MODEL = "models/erx-news-v2"


def read_dump(path, limit=None, field="text"):
    """The first `limit` documents of a JSONL dump, blank lines skipped (as `erx bench`)."""
    texts = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if limit is not None and len(texts) >= limit:
                break
            if not line.strip():
                continue
            text = json.loads(line).get(field)
            if not isinstance(text, str):
                sys.exit(f"{path} line {i}: no string field {field!r}")
            texts.append(text)
    if not texts:
        sys.exit(f"{path} holds no documents")
    return texts


def count_words(texts):
    return sum(len(t.split()) for t in texts)


def model_card(model_dir):
    card = Path(model_dir) / "erx.json"
    if not card.is_file():
        sys.exit(f"error: no model card {card}. The model folder is written by "
                 f"`.venv/bin/python scripts/export.py --run runs/soup45 --out {model_dir}` "
                 "(after scripts/train.py); or pass --model DIR.")
    return json.load(open(card))


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench(peer, texts, warmup=8, batch_docs=32):
    """Time `peer.entities` over `texts` in groups of `batch_docs` after a warm-up on the
    first `warmup` documents; loading is not timed."""
    if warmup:
        peer.entities(texts[:warmup])
    n_ents = 0
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch_docs):
        n_ents += sum(len(e) for e in peer.entities(texts[i:i + batch_docs]))
    secs = max(time.perf_counter() - t0, 1e-9)
    words = count_words(texts)
    return {"documents": len(texts), "words": words, "seconds": secs,
            "docs_per_s": len(texts) / secs, "words_per_s": words / secs,
            "mentions": n_ents, "peak_rss_mb": peak_rss_mb()}


def token_span(starts, start, end):
    """A predicted char range -> the gold tokens [first, last) it covers (as `erx eval`)."""
    first = max(bisect.bisect_right(starts, start) - 1, 0)
    last = max(bisect.bisect_left(starts, end) - 1, 0)
    return first, max(last, first) + 1


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0}


def score(gold, pred):
    """Strict span + type micro P/R/F1 (conlleval semantics), multiset matching per
    sentence. `gold`, `pred`: per sentence, lists of (start, end, type) token spans."""
    counts = {}
    for g, p in zip(gold, pred):
        g, p = Counter(g), Counter(p)
        hit = g & p
        for side, c in (("tp", hit), ("fp", p - hit), ("fn", g - hit)):
            for (_s, _e, t), n in c.items():
                counts.setdefault(t, Counter())[side] += n
    total = sum(counts.values(), Counter())
    return {"micro": prf(total["tp"], total["fp"], total["fn"]),
            "per_label": {t: prf(c["tp"], c["fp"], c["fn"]) for t, c in sorted(counts.items())}}


def evaluate(peer, path, limit=None, batch=256):
    """CoNLL-2003 entity F1: each gold sentence joined by single spaces, predicted char
    spans mapped back onto the gold tokens."""
    from erxlib.data import read_conll2003

    sents = read_conll2003(path)[:limit]
    t0 = time.perf_counter()
    pred = []
    for i in range(0, len(sents), batch):
        chunk = sents[i:i + batch]
        for s, ents in zip(chunk, peer.entities([s.text for s in chunk])):
            starts = s.token_starts
            pred.append([(*token_span(starts, a, b), t) for a, b, t in ents])
    return {"file": str(path), "sentences": len(sents), "seconds": time.perf_counter() - t0,
            "entities": score([s.entities for s in sents], pred)}


def main(name, add_args, load, doc):
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["bench", "eval"])
    ap.add_argument("--dump", default=DUMP, help="JSONL article dump (bench)")
    ap.add_argument("--conll", default=CONLL_DEV, help="CoNLL-2003 file (eval)")
    ap.add_argument("--limit", type=int, default=None, help="first N documents / sentences")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=8, help="documents run before timing")
    ap.add_argument("--batch-docs", type=int, default=32, help="documents per call (bench)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--json", action="store_true")
    add_args(ap)
    args = ap.parse_args()
    random.seed(args.seed)
    try:
        import numpy as np
        np.random.seed(args.seed)
    except ImportError:
        pass
    texts = read_dump(args.dump, args.limit) if args.command == "bench" else None
    t0 = time.perf_counter()
    peer = load(args)
    info = {"system": name, "threads": args.threads, "load_s": time.perf_counter() - t0,
            **getattr(peer, "info", {})}
    if args.command == "bench":
        out = {**info, "dump": str(args.dump), **bench(peer, texts, args.warmup, args.batch_docs)}
    else:
        out = {**info, **evaluate(peer, args.conll, args.limit)}
    if args.json:
        print(json.dumps(out, indent=2))
    elif args.command == "bench":
        print(f"{name}: {out['documents']} docs, {out['words']} words in {out['seconds']:.2f}s "
              f"= {out['words_per_s']:.0f} words/s ({args.threads} threads, "
              f"peak RSS {out['peak_rss_mb']:.0f} MB)")
    else:
        m = out["entities"]["micro"]
        print(f"{name}: {out['sentences']} sentences, entity P {m['precision']:.4f} "
              f"R {m['recall']:.4f} F1 {m['f1']:.4f}")
