#!/usr/bin/env python3
"""Train erx-news-v2: the v1 encoder with name and value tag heads, one relation head over
the erx news labels, and a pair-conditioned phrase scorer; on the news corpus (data/news),
CoNLL-2003 and CoNLL04 (its five labels mapped one to one onto the news labels, the other
news labels masked). CrossRE and OIE2016 are left out: their label sets do not map.

  .venv/bin/python scripts/train_v2.py --data ../shared/datasets --out runs/v2

By default the encoder and the name head continue from the shipped v1 model, recovered
from its int8 graph (`--init-onnx`); `--from-base` starts from MiniLM instead, and
`--init-run` from an earlier v2 run (every head included).

A smaller, faster student: `--init-run runs/v2f --keep-layers 0,2,4,5 --ffn-size 768` keeps
four of the six encoder layers of that run and, in each, the 768 of its 1,536 FFN neurons that
add most to the residual stream on a sample of the training examples; then it trains on the
same data. `--teacher-run runs/v2f` adds distillation: the mean squared distance between the
student's last hidden states and the teacher's (`--distil-weight`), so the heads, which start
as the teacher's, keep reading what they were trained on.
Writes runs/NAME/{model.pt, labels.json, log.jsonl}; export with
`scripts/export.py --run runs/NAME --out models/erx-news-v2`.
"""

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from erxlib import data as D  # noqa: E402
from erxlib import news as N  # noqa: E402
from erxlib.decode import entity_tags  # noqa: E402
from erxlib.features import CASE_CLASSES, align_words_to_tokens, encode  # noqa: E402
from erxlib.model import (ErxModelV2, ffn_neuron_scores, load_config, load_pretrained,  # noqa: E402
                          pair_context_features, phrase_regions, prune_ffn)
from train import base_model_dir, batches  # noqa: E402

IGNORE = -100


def bio_labels(n, spans, index):
    tags = ["O"] * n
    for s, e, t in spans:
        for i in range(s, e):
            tags[i] = ("B-" if i == s else "I-") + t
    return tags


def featurize(sent, tokenizer, tag_index, value_index, rel_index, max_tokens):
    enc = encode(tokenizer, sent.text, max_tokens)
    align = align_words_to_tokens(enc, sent.token_starts)
    n = len(sent.tokens)
    names = bio_labels(n, sent.entities, tag_index) if sent.entities is not None else None
    if names is not None:
        for s, e in sent.ner_ignore:
            for i in range(s, e):
                names[i] = IGNORE
    values = getattr(sent, "values", None)
    values = bio_labels(n, values, value_index) if values is not None else None

    L = len(enc.input_ids)
    ent_lab, val_lab = [IGNORE] * L, [IGNORE] * L
    for (s, e, ft, lt), (ti, first) in zip(enc.words, align):
        for tags, lab, index in ((names, ent_lab, tag_index), (values, val_lab, value_index)):
            if tags is None or tags[ti] == IGNORE:
                continue
            tag = tags[ti]
            if not first and tag.startswith("B-"):
                tag = "I-" + tag[2:]
            lab[ft] = index[tag]

    # word-level view: first piece and gold token of each pre-tokenizer word
    word_first = [w[2] for w in enc.words]
    word_token = [ti for ti, _f in align]
    words_of_token = {}
    for wi, ti in enumerate(word_token):
        words_of_token.setdefault(ti, []).append(wi)

    # sentence of each gold token: a packed example holds several (see news.pack_articles)
    segments = getattr(sent, "segments", None) or [0] * n
    mentions, mention_segment, mention_words, keep = [], [], [], {}
    for mi, (s, e, _t) in enumerate(sent.mentions):
        ws = [w for i in range(s, e) for w in words_of_token.get(i, [])]
        if ws:
            keep[mi] = len(mentions)
            mentions.append((enc.words[min(ws)][2], enc.words[max(ws)][3]))
            mention_segment.append(segments[s])
            mention_words.append((min(ws), max(ws) + 1))
    rels, phrases = [], []
    for k, (h, t, label) in enumerate(sent.relations):
        if sent.schema == "conll04":
            label = N.CONLL04_TO_NEWS.get(label)
        if h not in keep or t not in keep or label not in rel_index:
            continue
        rels.append((keep[h], keep[t], rel_index[label]))
        if sent.schema == "news":
            span = sent.phrases[k]
            hs, ts = sent.mentions[h], sent.mentions[t]
            regions = phrase_regions(n, hs[:2], ts[:2])
            # the phrase is chosen among the words of the pair's own sentence
            own = [wi for wi, ti in enumerate(word_token) if segments[ti] == segments[hs[0]]]
            target = [1.0 if span and span[0] <= word_token[wi] < span[1] else 0.0 for wi in own]
            phrases.append((keep[h], keep[t], own, [regions[word_token[wi]] for wi in own], target))
    gap, between, ranges = pair_context_features(mention_words)
    return {"ids": enc.input_ids, "case": enc.case_ids, "ent": ent_lab, "val": val_lab,
            "mentions": mentions, "mention_segment": mention_segment, "rels": rels,
            "schema": sent.schema, "word_first": word_first, "phrases": phrases,
            "pair_gap": gap, "pair_between": between, "pair_range": ranges}


def collate(exs):
    L = max(len(e["ids"]) for e in exs)

    def pad(key, val):
        return torch.tensor([e[key] + [val] * (L - len(e[key])) for e in exs])

    mask = (torch.arange(L)[None, :] < torch.tensor([len(e["ids"]) for e in exs])[:, None]).long()
    return pad("ids", 0), mask, pad("case", 0), pad("ent", IGNORE), pad("val", IGNORE)


def mention_means(x, b, ms):
    return torch.stack([x[b, s:e + 1].mean(0) for s, e in ms])


def pair_context_logits(model, ctx, b, ex):
    """What pair context adds to each pair's logits [M, M, R] (see erxlib.model)."""
    R = ctx.shape[-1] // 2
    rows = ctx[b, torch.tensor(ex["word_first"])]  # [W, 2R]
    W = rows.shape[0]
    ranges = torch.tensor(ex["pair_range"])  # [M, M, 2]
    w = torch.arange(W)
    inside = ((w[None, None, :] >= ranges[..., :1]) & (w[None, None, :] < ranges[..., 1:])).float()
    any_between = (inside.sum(-1, keepdim=True) > 0).float()  # [M, M, 1]
    masked = rows[None, None, :, :] + (inside[..., None] - 1.0) * 1e4  # [M, M, W, 2R]
    top = masked.max(dim=2).values * any_between
    return (model.rel_gap[torch.tensor(ex["pair_gap"])] + model.rel_between[torch.tensor(ex["pair_between"])]
            + top[..., :R] - top[..., R:])


def relation_loss(head, tail, exs, schema_masks, pos_weight, model=None, ctx=None):
    losses = []
    for b, ex in enumerate(exs):
        ms = ex["mentions"]
        if ex["schema"] not in schema_masks or len(ms) < 2:
            continue
        logits = torch.einsum("irk,jrk->ijr", mention_means(head, b, ms), mention_means(tail, b, ms))
        if ctx is not None:
            logits = logits + pair_context_logits(model, ctx, b, ex)
        target = torch.zeros_like(logits)
        for hi, ti, r in ex["rels"]:
            target[hi, ti, r] = 1.0
        seg = torch.tensor(ex["mention_segment"])
        # pairs of one sentence only (a packed example holds several), as decoded
        off_diag = ((seg[:, None] == seg[None, :]).float() * (1 - torch.eye(len(ms))))[:, :, None]
        if off_diag.sum() == 0:
            continue  # no sentence of the example holds two mentions
        lm = schema_masks[ex["schema"]][None, None, :] * off_diag
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, target, reduction="none", pos_weight=torch.tensor(pos_weight))
        losses.append((bce * lm).sum() / off_diag.sum())
    return torch.stack(losses).mean() if losses else None


def phrase_loss(tok, ph, pt, region_bias, exs, pos_weight):
    losses = []
    for b, ex in enumerate(exs):
        if not ex["phrases"]:
            continue
        pos = torch.tensor(ex["word_first"])
        rows = tok[b, pos]  # [W, P+1]
        ms = ex["mentions"]
        hv, tv = mention_means(ph, b, ms), mention_means(pt, b, ms)
        for h, t, own, regions, target in ex["phrases"]:
            q = torch.cat([hv[h] + tv[t], torch.ones(1)])
            score = rows[torch.tensor(own)] @ q + region_bias[torch.tensor(regions)]
            losses.append(torch.nn.functional.binary_cross_entropy_with_logits(
                score, torch.tensor(target), pos_weight=torch.tensor(pos_weight)))
    return torch.stack(losses).mean() if losses else None


def load_v1_onnx(model, onnx_path, base):
    """Encoder, case embedding and name head from the shipped int8 v1 graph."""
    from safetensors.torch import load_file

    from erxlib.from_onnx import dequantized_state, folded_constant

    state = {k: torch.from_numpy(np.array(v)) for k, v in dequantized_state(onnx_path).items()}
    token_type = load_file(f"{base}/model.safetensors")["embeddings.token_type_embeddings.weight"].clone()
    own = model.state_dict()
    taken = []
    for key, value in state.items():
        if key in own and own[key].shape == value.shape and not key.startswith(("rel_", "phrase")):
            own[key] = value
            taken.append(key)
    # the graph folds token_type.weight[0] into one constant added to the embeddings
    folded = folded_constant(state, "onnx::Add", own["encoder.ln.bias"].shape)
    if folded is not None:
        token_type[0] = folded
    own["encoder.token_type.weight"] = token_type
    model.load_state_dict(own)
    return taken


def parse_keep_layers(spec, n_layers):
    """`0,2,5` -> [0, 2, 5], each a layer index below `n_layers`, strictly increasing."""
    try:
        keep = [int(x) for x in spec.split(",")]
    except ValueError:
        raise SystemExit(f"--keep-layers {spec!r}: expected comma-separated layer numbers such as 0,2,5")
    if not keep or keep != sorted(set(keep)) or keep[0] < 0 or keep[-1] >= n_layers:
        raise SystemExit(f"--keep-layers {spec!r}: need increasing layer numbers from 0 to {n_layers - 1}")
    return keep


def keep_layers(state, keep):
    """A state dict whose encoder holds only the layers in `keep`, renumbered 0, 1, ..."""
    out = {}
    for key, value in state.items():
        m = re.match(r"encoder\.layers\.(\d+)\.(.*)", key)
        if m is None:
            out[key] = value
        elif int(m.group(1)) in keep:
            out[f"encoder.layers.{keep.index(int(m.group(1)))}.{m.group(2)}"] = value
    return out


def load_teacher(run):
    """A v2 run's model, frozen, in eval mode (no dropout), for distillation."""
    meta = json.load(open(Path(run) / "labels.json"))
    if meta.get("format") != "erx-v2":
        raise SystemExit(f"--teacher-run {run}: not a v2 run (labels.json format {meta.get('format')!r})")
    teacher = ErxModelV2.from_meta(meta)
    teacher.load_state_dict(torch.load(Path(run) / "model.pt", map_location="cpu"))
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="datasets folder (conll2003/, conll04/, articles/)")
    ap.add_argument("--news", default="data/news/train.jsonl", help="news corpus split to train on")
    ap.add_argument("--out", required=True, help="run folder to write")
    ap.add_argument("--init-onnx", default="runs/erx-news-v1.onnx",
                    help="continue from this int8 erx model (encoder and name head); v1 is in the git "
                         "history: git show cbfb330:models/erx-news-v1/model.onnx > runs/erx-news-v1.onnx")
    ap.add_argument("--from-base", action="store_true", help="start from MiniLM instead of --init-onnx")
    ap.add_argument("--init-run", help="start from this v2 run's model.pt (all heads) instead of --init-onnx")
    ap.add_argument("--keep-layers", help="with --init-run: comma-separated encoder layers to keep, in order "
                                          "(e.g. 0,2,5 for a three-layer student of a six-layer run)")
    ap.add_argument("--ffn-size", type=int, help="with --init-run: FFN neurons to keep per layer, chosen by "
                    "mean |activation| x output weight norm over --ffn-sample training examples")
    ap.add_argument("--ffn-sample", type=int, default=512, help="examples that score the FFN neurons")
    ap.add_argument("--teacher-run", help="distil from this v2 run: match its last hidden states")
    ap.add_argument("--distil-weight", type=float, default=1.0, help="weight of the hidden-state distance")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--rel-rank", type=int, default=32)
    ap.add_argument("--phrase-rank", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--oversample-news", type=int, default=2)
    ap.add_argument("--oversample-conll04", type=int, default=2)
    ap.add_argument("--pack-news", type=float, default=0.6,
                    help="share of news examples made of consecutive sentences of one article")
    ap.add_argument("--pack-words", type=int, default=80, help="most words in a packed news example")
    ap.add_argument("--conll2003-share", type=float, default=0.35,
                    help="share of the (packed) CoNLL-2003 examples drawn afresh each epoch")
    ap.add_argument("--rel-pos-weight", type=float, default=2.0)
    ap.add_argument("--phrase-pos-weight", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--pair-context", action="store_true",
                    help="relation logits also see the pair's gap, the mentions and the words between "
                         "(new parameters start at zero, so --init-run from a run without them works)")
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

    base = base_model_dir()
    tokenizer = Tokenizer.from_file(f"{base}/tokenizer.json")
    tokenizer.no_padding()
    tokenizer.no_truncation()

    tags = entity_tags(D.ENTITY_TYPES)
    value_tags = entity_tags(N.VALUE_TYPES)
    tag_index = {t: i for i, t in enumerate(tags)}
    value_index = {t: i for i, t in enumerate(value_tags)}
    rel_index = {label: i for i, label in enumerate(N.RELATION_LABELS)}
    mapped = set(N.CONLL04_TO_NEWS.values())
    schema_masks = {"news": torch.ones(len(N.RELATION_LABELS)),
                    "conll04": torch.tensor([1.0 if lab in mapped else 0.0 for lab in N.RELATION_LABELS])}

    root = Path(args.data)
    t0 = time.time()
    news_sentences = N.read_news(args.news, root / "articles/bbc-news.jsonl")
    # each copy of the news split is packed afresh, so the copies hold different windows
    news = [N.pack_articles(news_sentences, random.Random(args.seed + k), share=args.pack_news,
                            max_words=args.pack_words) for k in range(args.oversample_news)]
    conll04 = D.read_conll04(root / "conll04/train.json")
    conll03 = D.pack_consecutive(D.read_conll2003(root / "conll2003/train.txt"), random.Random(args.seed))

    def feats(sents):
        return [featurize(s, tokenizer, tag_index, value_index, rel_index, args.max_tokens) for s in sents]

    fixed = [f for copy in news for f in feats(copy)] + feats(conll04) * args.oversample_conll04
    conll03_feats = feats(conll03)
    print(f"news {len(news_sentences)} sentences in {sum(map(len, news))} examples "
          f"({args.oversample_news} packings), conll04 {len(conll04)} x{args.oversample_conll04}, "
          f"conll2003 {len(conll03)} (share {args.conll2003_share}); featurised in {time.time() - t0:.1f}s",
          flush=True)

    cfg = load_config(base)
    keep = parse_keep_layers(args.keep_layers, cfg["num_hidden_layers"]) if args.keep_layers else None
    if keep is not None and not args.init_run:
        raise SystemExit("--keep-layers needs --init-run (the run whose layers to keep)")
    if args.ffn_size is not None and not args.init_run:
        raise SystemExit("--ffn-size needs --init-run (the run whose FFN neurons to keep)")
    if args.ffn_size is not None and not 0 < args.ffn_size <= cfg["intermediate_size"]:
        raise SystemExit(f"--ffn-size {args.ffn_size}: expected 1 to {cfg['intermediate_size']}")
    if keep is not None:
        cfg = {**cfg, "num_hidden_layers": len(keep)}
    teacher = load_teacher(args.teacher_run) if args.teacher_run else None

    def build(cfg):
        return ErxModelV2(cfg, len(tags), len(value_tags), len(N.RELATION_LABELS), rel_rank=args.rel_rank,
                          phrase_rank=args.phrase_rank, n_case=len(CASE_CLASSES), pair_context=args.pair_context)

    model = build(cfg)
    load_pretrained(model, base)
    if args.init_run:
        state = torch.load(Path(args.init_run) / "model.pt", map_location="cpu")
        if keep is not None:
            state = keep_layers(state, keep)
        missing, unexpected = model.load_state_dict(state, strict=False)
        new = [k for k in missing if not k.startswith(("rel_ctx.", "rel_gap", "rel_between"))]
        if new or unexpected:
            raise SystemExit(f"--init-run {args.init_run}: tensors missing {new}, unexpected {unexpected}")
        print(f"continued from {args.init_run}" + (f", encoder layers {keep}" if keep else ""), flush=True)
        if args.ffn_size is not None:
            sample = rng.sample(fixed, min(args.ffn_sample, len(fixed)))
            scores = ffn_neuron_scores(model, [collate(sample[i:i + args.batch])[:3]
                                               for i in range(0, len(sample), args.batch)])
            cfg = {**cfg, "intermediate_size": args.ffn_size}
            pruned = build(cfg)
            pruned.load_state_dict(prune_ffn(model.state_dict(), scores, args.ffn_size))
            model = pruned
            print(f"FFN pruned to {args.ffn_size} neurons per layer (scored on {len(sample)} examples)",
                  flush=True)
    elif not args.from_base:
        if not Path(args.init_onnx).exists():
            raise SystemExit(f"--init-onnx {args.init_onnx} not found: extract v1 from the git history with "
                             "`git show cbfb330:models/erx-news-v1/model.onnx > runs/erx-news-v1.onnx`, "
                             "or start from MiniLM with --from-base")
        taken = load_v1_onnx(model, args.init_onnx, base)
        print(f"continued from {args.init_onnx}: {len(taken)} tensors", flush=True)
    enc_ids = {id(p) for p in model.encoder.parameters()}
    head_params = [p for p in model.parameters() if id(p) not in enc_ids]
    opt = torch.optim.AdamW([{"params": list(model.encoder.parameters()), "lr": args.lr},
                             {"params": head_params, "lr": args.head_lr}], weight_decay=0.01)
    per_epoch = len(fixed) + int(len(conll03_feats) * args.conll2003_share)
    total = (per_epoch + args.batch - 1) // args.batch * args.epochs
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))

    meta = {"format": "erx-v2", "tags": tags, "value_tags": value_tags, "relations": N.RELATION_LABELS,
            "case_classes": CASE_CLASSES, "rel_rank": args.rel_rank + 1, "phrase_rank": args.phrase_rank,
            "pair_context": args.pair_context,
            "config": cfg, "max_tokens": args.max_tokens, "args": vars(args),
            "news_articles": len({s.article for s in news_sentences})}
    json.dump(meta, open(out / "labels.json", "w"), indent=1)
    log = open(out / "log.jsonl", "a")
    step, start = 0, time.time()
    ce = torch.nn.functional.cross_entropy
    for epoch in range(args.epochs):
        model.train()
        examples = fixed + rng.sample(conll03_feats, int(len(conll03_feats) * args.conll2003_share))
        sums, counts = {}, {}
        for idx in batches(examples, args.batch, rng):
            exs = [examples[i] for i in idx]
            ids, mask, case, ent, val = collate(exs)
            hidden = model.encoder(ids, mask, case)
            ent_logits, val_logits, head, tail, ptok, ph, pt, *rest = model.heads(hidden)
            ctx = rest[0] if rest else None
            losses = {}
            if (ent != IGNORE).any():
                losses["ent"] = ce(ent_logits.reshape(-1, ent_logits.shape[-1]), ent.reshape(-1), ignore_index=IGNORE)
            if (val != IGNORE).any():
                losses["val"] = ce(val_logits.reshape(-1, val_logits.shape[-1]), val.reshape(-1), ignore_index=IGNORE)
            rl = relation_loss(head, tail, exs, schema_masks, args.rel_pos_weight, model, ctx)
            if rl is not None:
                losses["rel"] = rl
            pl = phrase_loss(ptok, ph, pt, model.phrase_region, exs, args.phrase_pos_weight)
            if pl is not None:
                losses["phrase"] = pl
            if teacher is not None:
                with torch.no_grad():
                    target = teacher.encoder(ids, mask, case)
                tokens = mask.unsqueeze(-1).to(hidden.dtype)
                dist = ((hidden - target) ** 2 * tokens).sum() / (tokens.sum() * hidden.shape[-1])
                losses["distil"] = args.distil_weight * dist
            loss = sum(losses.values())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
                counts[k] = counts.get(k, 0) + 1
            if step % 50 == 0:
                rec = {"epoch": epoch, "step": step, "of": total, "elapsed_s": round(time.time() - start, 1),
                       **{k: round(v / counts[k], 4) for k, v in sums.items()}}
                print(json.dumps(rec), flush=True)
                log.write(json.dumps(rec) + "\n")
                log.flush()
            if args.limit_steps and step >= args.limit_steps:
                break
        torch.save(model.state_dict(), out / "model.pt")
        print(f"epoch {epoch} done at {time.time() - start:.0f}s, checkpoint saved", flush=True)
        if args.limit_steps and step >= args.limit_steps:
            break
    meta["train_seconds"] = round(time.time() - start, 1)
    meta["steps"] = step
    json.dump(meta, open(out / "labels.json", "w"), indent=1)
    print(f"training done in {meta['train_seconds']}s ({step} steps)", flush=True)


if __name__ == "__main__":
    main()
