#!/usr/bin/env python3
"""Python-side dev evaluation of an exported erx model (the ONNX file that ships).

  .venv/bin/python scripts/evaluate.py --model models/erx-news-v1 --data ../shared/datasets
  .venv/bin/python scripts/evaluate.py --model models/erx-news-v1 --onnx models/erx-news-v1/model.fp32.onnx
  .venv/bin/python scripts/evaluate.py --model models/erx-news-v1 --update-card   # dev scores + signatures into erx.json

Entities: CoNLL-2003 dev, strict span + type micro F1 (conlleval chunking), decoded at word
level exactly as the Rust pipeline does (scripts/erxlib/decode.py mirrors src/decode.rs).
Relations: CoNLL04 dev, strict (both argument spans and types, and the label), labels of
the conll04 schema only, each label's type signature from CoNLL04 train applied.
"""

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from erxlib import data as D  # noqa: E402
from erxlib.decode import decode_entities, harmonise_labels, score_pairs  # noqa: E402
from erxlib.entities import group_mentions, one_per_entity_pair  # noqa: E402
from erxlib.features import align_words_to_tokens, encode  # noqa: E402

CONLL04_EVAL_TYPES = {"Peop": "PER", "Org": "ORG", "Loc": "LOC", "Other": "MISC"}


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def score(gold_sets, pred_sets, label_of):
    counts = Counter()
    labels = set()
    for g, p in zip(gold_sets, pred_sets):
        g, p = Counter(g), Counter(p)
        for item in set(g) | set(p):
            lab = label_of(item)
            labels.add(lab)
            tp = min(g[item], p[item])
            counts[(lab, "tp")] += tp
            counts[(lab, "fp")] += p[item] - tp
            counts[(lab, "fn")] += g[item] - tp
    per = {lab: prf(counts[(lab, "tp")], counts[(lab, "fp")], counts[(lab, "fn")]) for lab in sorted(labels)}
    micro = prf(*(sum(counts[(lab, k)] for lab in labels) for k in ("tp", "fp", "fn")))
    return {"micro": micro, "per_label": per}


class Runner:
    def __init__(self, model_dir, onnx_path, threads, batch=1):
        self.batch = batch
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.card = json.load(open(Path(model_dir) / "erx.json"))
        self.tok = Tokenizer.from_file(str(Path(model_dir) / self.card["tokenizer"]))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(onnx_path or Path(model_dir) / self.card["onnx"]["file"]), so,
                                         providers=["CPUExecutionProvider"])

    def forward(self, ids, case, mask):
        """One forward pass; returns the outputs by their card role (entity_logits, ...)."""
        names = self.card["inputs"]
        feeds = {names["input_ids"]: ids, names["attention_mask"]: mask}
        if names.get("case_ids"):
            feeds[names["case_ids"]] = case
        out = dict(zip([o.name for o in self.sess.get_outputs()], self.sess.run(None, feeds)))
        return {role: out[name] for role, name in self.card["outputs"].items()}

    def run(self, texts):
        """Returns (Encoded, entity_logits, rel_head, rel_tail, rel_context or None) per text,
        in order."""
        batch = self.batch
        encs = [encode(self.tok, t) for t in texts]
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].input_ids))
        results = [None] * len(encs)
        for b in range(0, len(order), batch):
            idx = order[b:b + batch]
            L = max(len(encs[i].input_ids) for i in idx)
            ids = np.zeros((len(idx), L), np.int64)
            case = np.zeros_like(ids)
            mask = np.zeros_like(ids)
            for r, i in enumerate(idx):
                n = len(encs[i].input_ids)
                ids[r, :n], case[r, :n], mask[r, :n] = encs[i].input_ids, encs[i].case_ids, 1
            out = self.forward(ids, case, mask)
            for r, i in enumerate(idx):
                n = len(encs[i].input_ids)
                ctx = out["rel_context"][r, :n] if "rel_context" in out else None
                results[i] = (encs[i], out["entity_logits"][r, :n], out["rel_head"][r, :n], out["rel_tail"][r, :n],
                              ctx)
        return results

    def run_context(self, texts, context):
        """Like run(), but `context` consecutive texts at a time are packed into shared
        windows as the Rust pipeline packs an article's sentences (greedy, at most
        max_tokens - 2 pieces; a longer sentence gets a window of its own)."""
        budget = self.card["max_tokens"] - 2
        encs = [encode(self.tok, t) for t in texts]
        results = [None] * len(encs)
        windows = []
        for g in range(0, len(encs), context):
            cur, n = [], 0
            for i in range(g, min(g + context, len(encs))):
                m = len(encs[i].input_ids) - 2
                if cur and n + m > budget:
                    windows.append(cur)
                    cur, n = [], 0
                cur.append(i)
                n += m
            if cur:
                windows.append(cur)
        for win in windows:
            ids, case, pos = [encs[win[0]].input_ids[0]], [0], []
            for i in win:
                pos.append(len(ids))
                ids += encs[i].input_ids[1:-1]
                case += encs[i].case_ids[1:-1]
            ids.append(encs[win[0]].input_ids[-1])
            case.append(0)
            ids, case = np.array([ids], np.int64), np.array([case], np.int64)
            out = self.forward(ids, case, np.ones_like(ids))
            for i, p in zip(win, pos):
                n = len(encs[i].input_ids)
                # re-frame as [CLS] sentence [SEP] so callers index pieces as in run()
                def framed(rows):
                    f = np.zeros((n,) + rows.shape[1:], rows.dtype)
                    f[1:n - 1] = rows[p:p + n - 2]
                    return f

                results[i] = (encs[i], *(framed(out[k][0]) if k in out else None
                                         for k in ("entity_logits", "rel_head", "rel_tail", "rel_context")))
        return results

    def run_any(self, texts, context=1):
        return self.run(texts) if context <= 1 else self.run_context(texts, context)


def word_spans_to_tokens(enc, sent, spans):
    align = align_words_to_tokens(enc, sent.token_starts)
    return [(align[a][0], align[b - 1][0] + 1, t) for a, b, t, *_ in spans]


def eval_conll2003(runner, path, limit=None, context=1, harmonise=True):
    """Each group of `context` consecutive sentences is one document, as in `erx eval`:
    mentions of one name share a label within it unless `harmonise` is off."""
    sents = D.read_conll2003(path)[:limit]
    tags = runner.card["entity_tags"]
    decoded = [(enc, decode_entities(enc, ent, tags))
               for enc, ent, *_ in runner.run_any([s.text for s in sents], context)]
    pred = []
    for g in range(0, len(sents), context):
        group = decoded[g:g + context]
        spans = harmonise_labels(group) if harmonise else [sp for _enc, sp in group]
        pred += [word_spans_to_tokens(enc, sent, sp) for (enc, _), sent, sp in zip(group, sents[g:g + context], spans)]
    return score([s.entities for s in sents], pred, lambda x: x[2]), len(sents)


def conll04_signatures(path):
    sig = {}
    for s in D.read_conll04(path):
        for h, t, label in s.relations:
            pair = (CONLL04_EVAL_TYPES[s.mentions[h][2]], CONLL04_EVAL_TYPES[s.mentions[t][2]])
            sig.setdefault(label, set()).add(pair)
    return {k: sorted(v) for k, v in sig.items()}


def eval_conll04(runner, path, signatures, thresholds=(0.5,), harmonise=True):
    sents = D.read_conll04(path)
    tags = runner.card["entity_tags"]
    rels = runner.card["relations"]
    use = [i for i, r in enumerate(rels) if r["schema"] == "conll04"]
    K = runner.card["relation_rank"]
    gold_e, pred_e, gold_r = [], [], []
    cached = []
    for sent, (enc, ent, head, tail, ctx) in zip(sents, runner.run([s.text for s in sents])):
        typed = [(s, e, CONLL04_EVAL_TYPES[t]) for s, e, t in sent.mentions]
        gold_e.append(typed)
        gold_r.append([(typed[h], typed[t], label) for h, t, label in sent.relations])
        spans = decode_entities(enc, ent, tags)
        read_as = [t for _a, _b, t, _s in spans]  # labels before the vote
        if harmonise:
            [spans] = harmonise_labels([(enc, spans)])
        toks = word_spans_to_tokens(enc, sent, spans)
        pred_e.append(toks)
        R = head.shape[-1] // K if head.ndim == 2 else head.shape[-2]
        probs = score_pairs(enc, head.reshape(len(head), R, K), tail.reshape(len(tail), R, K), spans,
                            ctx, runner.card.get("relation_context"))
        cached.append((toks, probs, read_as))
    out = {"entities": score(gold_e, pred_e, lambda x: x[2]), "sentences": len(sents), "relations_by_threshold": {}}
    if runner.card.get("one_relation_per_pair"):
        # mentions grouped into entities as erx assembles a document; no threshold changes it
        entity_of = [group_mentions([(" ".join(sent.tokens[a:b]), t) for a, b, t in toks])
                     for sent, (toks, _probs, _read_as) in zip(sents, cached)]
        for th in thresholds:
            pred_r = [one_per_pair(toks, probs, read_as, ents, rels, th)
                      for (toks, probs, read_as), ents in zip(cached, entity_of)]
            out["relations_by_threshold"][str(th)] = score(gold_r, pred_r, lambda x: x[2])
        out["relations"] = out["relations_by_threshold"][str(thresholds[0])]
        return out
    for th in thresholds:
        pred_r = []
        for toks, probs, read_as in cached:
            found = []
            for i in range(len(toks)):
                for j in range(len(toks)):
                    if i == j:
                        continue
                    for r in use:
                        label = rels[r]["label"]
                        if probs[i, j, r] < th:
                            continue
                        allowed = {tuple(p) for p in signatures.get(label, [])}
                        # as erx: the pair must fit the label both as read and after the vote
                        if (toks[i][2], toks[j][2]) not in allowed or (read_as[i], read_as[j]) not in allowed:
                            continue
                        found.append((toks[i], toks[j], label))
            pred_r.append(found)
        out["relations_by_threshold"][str(th)] = score(gold_r, pred_r, lambda x: x[2])
    out["relations"] = out["relations_by_threshold"][str(thresholds[0])]
    return out


NEWS_TO_CONLL04 = {"works_for": "Work_For", "lives_in": "Live_In", "based_in": "OrgBased_In",
                   "located_in": "Located_In", "killed": "Kill"}


def one_per_pair(toks, probs, read_as, entity_of, rels, threshold):
    """A v2 model (news labels, `one_relation_per_pair`), as erx decodes it: per ordered
    pair the best label whose card signature allows the pair (as read and after the vote),
    kept if its score reaches the threshold; then, as erx assembles a document (`entity_of`:
    each mention's entity), no relation inside one entity and one per ordered entity pair
    (the highest score); last, the labels that map onto CoNLL04."""
    allowed = [{tuple(p) for p in r.get("signatures", [])} for r in rels]
    found = []
    for i in range(len(toks)):
        for j in range(len(toks)):
            if i == j:
                continue
            # the label is chosen on the types as read; the vote may then rule it out
            ok = [r for r in range(len(rels)) if not allowed[r] or (read_as[i], read_as[j]) in allowed[r]]
            if not ok:
                continue
            best = max(ok, key=lambda r: probs[i, j, r])
            still = not allowed[best] or (toks[i][2], toks[j][2]) in allowed[best]
            if still and probs[i, j, best] >= threshold:
                found.append((i, j, rels[best]["label"], float(probs[i, j, best])))
    kept = one_per_entity_pair(found, entity_of)
    return [(toks[i], toks[j], NEWS_TO_CONLL04[label]) for i, j, label, _ in kept if label in NEWS_TO_CONLL04]


def eval_open(runner, path, threshold=0.5):
    """open/subject-object on silver OIE2016 dev pairs (scripts/silver_oie.py --split dev),
    given the silver mentions: which ordered mention pairs does a predicate link?"""
    rels = runner.card["relations"]
    use = [i for i, r in enumerate(rels) if r["schema"] == "open"]
    if not use:
        return None
    K = runner.card["relation_rank"]
    records = [json.loads(line) for line in open(path, encoding="utf-8")]
    sents = [D.Sentence("oie2016", r["tokens"]) for r in records]
    gold, pred = [], []
    for rec, sent, (enc, _ent, head, tail, *_) in zip(records, sents, runner.run([s.text for s in sents])):
        align = align_words_to_tokens(enc, sent.token_starts)
        spans = []
        for s_, e_, _t in rec["mentions"]:
            ws = [w for w, (ti, _f) in enumerate(align) if s_ <= ti < e_]
            spans.append((min(ws), max(ws) + 1) if ws else None)
        ok = [i for i, sp in enumerate(spans) if sp]
        R = head.shape[-2] if head.ndim == 3 else head.shape[-1] // K
        probs = score_pairs(enc, head.reshape(len(head), R, K), tail.reshape(len(tail), R, K),
                            [spans[i] for i in ok])
        gold.append([(h, t, "subject-object") for h, t, _l in rec["relations"]])
        pred.append([(ok[a], ok[b], "subject-object") for a in range(len(ok)) for b in range(len(ok))
                     if a != b and probs[a, b, use[0]] >= threshold])
    return score(gold, pred, lambda x: x[2])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model folder (erx.json, tokenizer.json, model.onnx)")
    ap.add_argument("--onnx", default=None, help="evaluate this ONNX file instead of the card's (e.g. the fp32 graph)")
    ap.add_argument("--data", default="../shared/datasets")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1,
                    help="sentences per forward pass; 1 (like erx) keeps int8 results independent of batch-mates")
    ap.add_argument("--context", type=int, default=1,
                    help="CoNLL-2003: pack N consecutive sentences into shared windows, as "
                         "`erx eval --context N` does (1: each sentence alone)")
    ap.add_argument("--sentence-labels", action="store_true",
                    help="keep each mention's own label, as `erx eval --sentence-labels` "
                         "(default: one label per name in a document)")
    ap.add_argument("--limit", type=int, default=None, help="first N CoNLL-2003 sentences only")
    ap.add_argument("--sweep", action="store_true", help="also report relation F1 at other thresholds")
    ap.add_argument("--open", default=None, metavar="JSONL",
                    help="also score open/subject-object on silver OIE2016 dev pairs (scripts/silver_oie.py --split dev)")
    ap.add_argument("--out", default=None, help="write the scores as JSON here")
    ap.add_argument("--update-card", action="store_true", help="store dev scores and signatures in erx.json")
    args = ap.parse_args()

    data = Path(args.data)
    t0 = time.time()
    runner = Runner(args.model, args.onnx, args.threads, args.batch)
    harmonise = not args.sentence_labels
    ner, n = eval_conll2003(runner, data / "conll2003/dev.txt", args.limit, args.context, harmonise)
    sigs = conll04_signatures(data / "conll04/train.json")
    ths = (0.5, 0.3, 0.4, 0.6, 0.7) if args.sweep else (0.5,)
    c04 = eval_conll04(runner, data / "conll04/dev.json", sigs, ths, harmonise)
    opened = eval_open(runner, args.open) if args.open else None
    result = {"onnx": args.onnx or runner.card["onnx"]["file"], "conll2003_dev": {"sentences": n, **ner},
              "conll04_dev": c04, "oie2016_dev_open": opened, "seconds": round(time.time() - t0, 1)}
    print(json.dumps({"conll2003_dev_entity_f1": ner["micro"]["f1"],
                      "conll2003_per_type": {k: v["f1"] for k, v in ner["per_label"].items()},
                      "conll04_dev_relation_f1": c04["relations"]["micro"]["f1"],
                      "conll04_relation_per_type": {k: v["f1"] for k, v in c04["relations"]["per_label"].items()},
                      "conll04_dev_entity_f1": c04["entities"]["micro"]["f1"],
                      "sweep": {k: v["micro"]["f1"] for k, v in c04["relations_by_threshold"].items()},
                      "oie2016_dev_open_silver": opened["micro"] if opened else None,
                      "seconds": result["seconds"]}, indent=1))
    if args.out:
        json.dump(result, open(args.out, "w"), indent=1)
    if args.update_card:
        path = Path(args.model) / "erx.json"
        card = json.load(open(path))
        for r in card["relations"]:
            if r["schema"] == "conll04" and r["label"] in sigs:
                r["signatures"] = sigs[r["label"]]
        card["dev_scores"] = {
            "measured_with": "scripts/evaluate.py (onnxruntime, the shipped ONNX file)",
            "conll2003_dev_entities": {"micro": ner["micro"], "per_type": ner["per_label"],
                                       "context_sentences": args.context, "one_label_per_name": harmonise},
            "conll04_dev_relations": {"micro": c04["relations"]["micro"], "per_type": c04["relations"]["per_label"],
                                      "threshold": 0.5},
        }
        if opened:
            card["dev_scores"]["oie2016_dev_open_silver"] = {
                "micro": opened["micro"], "threshold": 0.5,
                "note": "pairs from scripts/silver_oie.py --split dev: gold OIE2016 tuples over this model's entities"}
        json.dump(card, open(path, "w"), indent=2)
        print(f"updated {path}")


if __name__ == "__main__":
    main()
