#!/usr/bin/env python3
"""Build the tiny test models: random weights, the real input/output contract, a small
WordPiece vocabulary and a short max length (so tests exercise windowing). The Rust tests
use them so they never depend on training. `models/fixture` has the v1 contract
(predicate tagger, several schemas); `models/fixture-v2` the v2 one (value head, news
relations one per pair with pair context, pair-conditioned phrase scorer).

  .venv/bin/python scripts/make_fixture.py --out models/fixture
  .venv/bin/python scripts/make_fixture.py --v2 --out models/fixture-v2
"""

import argparse
import json
import string
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export as E  # noqa: E402
from erxlib.features import CASE_CLASSES  # noqa: E402
from erxlib.model import ErxModel, ErxModelV2  # noqa: E402

WORDS = ("the a an of to in on at for by with from and or but is was were has had said says "
         "state department north south korea kim jong nam choe son hui visa denied minister "
         "president government police city news report year week monday tuesday").split()


def build_tokenizer(path):
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += list(string.ascii_lowercase) + list(string.digits) + list(string.punctuation)
    vocab += ["##" + c for c in string.ascii_lowercase + string.digits]
    vocab += WORDS
    ids = {t: i for i, t in enumerate(dict.fromkeys(vocab))}
    tok = Tokenizer(WordPiece(ids, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])])
    tok.decoder = decoders.WordPiece()
    tok.save(str(path))
    return len(ids)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models/fixture")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--v2", action="store_true", help="the v2 contract (see the module docs)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vocab_size = build_tokenizer(out / "tokenizer.json")

    cfg = {"hidden_size": 32, "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 64,
           "vocab_size": vocab_size, "max_position_embeddings": 512, "type_vocab_size": 2,
           "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.0}
    tags = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    if args.v2:
        return write_v2(args, out, cfg, tags)
    relations = [["conll04", "Work_For"], ["conll04", "Live_In"], ["crossre", "role"]]
    model = ErxModel(cfg, len(tags), len(relations), rel_rank=4, n_case=len(CASE_CLASSES))
    with torch.no_grad():
        # make random outputs lively: entities from Title-case words, and some relations
        model.encoder.case.weight.normal_(0, 1.0)
        model.entity.weight.normal_(0, 0.5)
        model.rel_bias.fill_(0.5)
    model.eval()
    meta = {"tags": tags, "relations": relations, "case": True, "case_classes": CASE_CLASSES,
            "rel_rank": 5, "config": cfg, "max_tokens": args.max_tokens,
            "args": {"seed": args.seed}}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.onnx"
        names, outs = E.export_onnx(model, meta, fp32)
        final = out / "model.onnx"
        final.write_bytes(fp32.read_bytes())
    ns = argparse.Namespace(name="erx-fixture", precision="fp32", relation_threshold=0.5,
                            schema_threshold=None, run=str(out))
    card = E.write_card(out, meta, names, outs, ns, final,
                        {"signatures": {"conll04": {"Work_For": [["PER", "ORG"]]}}})
    card["description"] = "Test fixture: random weights, real contract. Not a usable model."
    card["provenance"] = {"script": "scripts/make_fixture.py", "seed": args.seed}
    json.dump(card, open(out / "erx.json", "w"), indent=2)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.2f} MB)")


def write_v2(args, out, cfg, tags):
    value_tags = ["O", "B-DATE", "I-DATE", "B-CARDINAL", "I-CARDINAL"]
    relations = ["works_for", "based_in", "action"]
    model = ErxModelV2(cfg, len(tags), len(value_tags), len(relations), rel_rank=4, phrase_rank=4,
                       n_case=len(CASE_CLASSES), pair_context=True)
    with torch.no_grad():
        # lively random outputs: names from Title-case words, values from digits, relations
        # and phrases often above threshold
        model.encoder.case.weight.normal_(0, 1.0)
        model.entity.weight.normal_(0, 0.5)
        model.value.weight.normal_(0, 0.5)
        model.rel_bias.fill_(0.5)
        model.phrase_tok.bias.normal_(0, 1.0)
        model.phrase_region.copy_(torch.tensor([-0.5, 1.0, -0.5, -2.0, -2.0]))
        model.rel_ctx.weight.normal_(0, 0.2)
        model.rel_gap.normal_(0, 0.5)
        model.rel_between.normal_(0, 0.5)
    model.eval()
    meta = {"format": "erx-v2", "tags": tags, "value_tags": value_tags, "relations": relations,
            "case": True, "case_classes": CASE_CLASSES, "rel_rank": 5, "phrase_rank": 4, "pair_context": True, "config": cfg,
            "max_tokens": args.max_tokens, "args": {"seed": args.seed}}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.onnx"
        names, outs = E.export_onnx(model, meta, fp32)
        final = out / "model.onnx"
        final.write_bytes(fp32.read_bytes())
    ns = argparse.Namespace(name="erx-fixture-v2", precision="fp32", relation_threshold=0.5,
                            label_threshold=None, run=str(out))
    card = E.write_card_v2(out, model, meta, names, outs, ns, final, {})
    card["description"] = "Test fixture (v2 contract): random weights. Not a usable model."
    card["provenance"] = {"script": "scripts/make_fixture.py --v2", "seed": args.seed}
    json.dump(card, open(out / "erx.json", "w"), indent=2)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
