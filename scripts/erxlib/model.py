"""The erx network: a BERT encoder (MiniLM-L6 weights) with a word-case embedding and
three heads, exported as one ONNX graph.

Outputs (see models/*/erx.json):
  entity_logits [B, L, E]     BIO tags, read at each word's first piece
  phrase_logits [B, L, 3]     O / B-PRED / I-PRED, read the same way
  rel_head      [B, L, R, K]  per-token head projection (last slot: the label bias)
  rel_tail      [B, L, R, K]  per-token tail projection (last slot: 1)
A relation score for mentions (h, t) and label r is
  sum_k mean_{i in h} rel_head[i, r, k] * mean_{j in t} rel_tail[j, r, k]
so the post-processor scores only candidate mention pairs instead of an L x L table.
"""

import json
import math

import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self, cfg, n_case):
        super().__init__()
        h = cfg["hidden_size"]
        self.n_heads = cfg["num_attention_heads"]
        self.word = nn.Embedding(cfg["vocab_size"], h)
        self.pos = nn.Embedding(cfg["max_position_embeddings"], h)
        self.token_type = nn.Embedding(cfg["type_vocab_size"], h)
        self.case = nn.Embedding(n_case, h) if n_case else None
        if self.case is not None:
            nn.init.normal_(self.case.weight, std=0.02)
        self.ln = nn.LayerNorm(h, eps=cfg["layer_norm_eps"])
        self.drop = nn.Dropout(cfg["hidden_dropout_prob"])
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg["num_hidden_layers"]))

    def forward(self, input_ids, attention_mask, case_ids=None):
        L = input_ids.shape[1]
        pos = torch.arange(L, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.pos(pos) + self.token_type.weight[0]
        if self.case is not None and case_ids is not None:
            x = x + self.case(case_ids)
        x = self.drop(self.ln(x))
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias, self.n_heads)
        return x


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h, i = cfg["hidden_size"], cfg["intermediate_size"]
        self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))
        self.ln1 = nn.LayerNorm(h, eps=cfg["layer_norm_eps"])
        self.ff1, self.ff2 = nn.Linear(h, i), nn.Linear(i, h)
        self.ln2 = nn.LayerNorm(h, eps=cfg["layer_norm_eps"])
        self.drop = nn.Dropout(cfg["hidden_dropout_prob"])

    def forward(self, x, bias, n_heads):
        B, L, H = x.shape
        d = H // n_heads

        def split(t):
            return t.view(B, L, n_heads, d).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
        ctx = (self.drop(att) @ v).transpose(1, 2).reshape(B, L, H)
        x = self.ln1(x + self.drop(self.o(ctx)))
        y = self.ff2(nn.functional.gelu(self.ff1(x)))
        return self.ln2(x + self.drop(y))


def ffn_neuron_scores(model, batches):
    """Importance of each FFN neuron, per layer: mean |GELU(ff1 x)| over the tokens of
    `batches` (tuples of model inputs) times the norm of the neuron's ff2 column, i.e. the
    mean size of what the neuron adds to the residual stream."""
    layers = model.encoder.layers
    sums = [torch.zeros(layer.ff1.out_features) for layer in layers]

    def hook(i):
        def record(_module, _inputs, output):
            sums[i] += nn.functional.gelu(output).abs().reshape(-1, output.shape[-1]).sum(0)
        return record

    handles = [layer.ff1.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    was_training = model.training
    model.eval()
    tokens = 0  # every position of every batch, as the sums take them
    try:
        with torch.no_grad():
            for inputs in batches:
                model(*inputs)
                tokens += inputs[0].numel()
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return [s / max(1, tokens) * layer.ff2.weight.norm(dim=0) for s, layer in zip(sums, layers)]


def prune_ffn(state, scores, size):
    """A state dict whose FFN layers keep their `size` highest-scoring neurons (in their
    original order): rows of ff1, columns of ff2."""
    out = dict(state)
    for i, score in enumerate(scores):
        keep = torch.sort(torch.topk(score, size).indices).values
        prefix = f"encoder.layers.{i}."
        out[prefix + "ff1.weight"] = state[prefix + "ff1.weight"][keep].clone()
        out[prefix + "ff1.bias"] = state[prefix + "ff1.bias"][keep].clone()
        out[prefix + "ff2.weight"] = state[prefix + "ff2.weight"][:, keep].clone()
    return out


# Parameters whose first dimension grows with the relation label list (rel_h/rel_t hold
# `rel_rank` rows per label); labels are only ever appended, so old rows keep their place.
RELATION_TENSORS = ("rel_h.weight", "rel_h.bias", "rel_t.weight", "rel_t.bias", "rel_bias")


class ErxModel(nn.Module):
    def __init__(self, cfg, n_entity_tags, n_relations, rel_rank=32, n_case=6):
        super().__init__()
        h = cfg["hidden_size"]
        self.cfg = cfg
        self.encoder = Encoder(cfg, n_case)
        self.drop = nn.Dropout(0.1)
        self.entity = nn.Linear(h, n_entity_tags)
        self.phrase = nn.Linear(h, 3)
        self.n_rel, self.rank = n_relations, rel_rank
        self.rel_in = nn.Sequential(nn.Linear(h, h), nn.GELU())
        self.rel_h = nn.Linear(h, n_relations * rel_rank)
        self.rel_t = nn.Linear(h, n_relations * rel_rank)
        self.rel_bias = nn.Parameter(torch.full((n_relations,), -3.0))

    def forward(self, input_ids, attention_mask, case_ids=None):
        x = self.encoder(input_ids, attention_mask, case_ids)
        x = self.drop(x)
        head, tail = relation_rows(self, x)
        return self.entity(x), self.phrase(x), head, tail


def relation_rows(model, x, r=None):
    """rel_head and rel_tail [B, L, R, K+1] of either model (rel_in, rel_h, rel_t, rel_bias);
    `r` is rel_in(x) when the caller has it already."""
    B, L, _ = x.shape
    r = model.rel_in(x) if r is None else r
    head = model.rel_h(r).view(B, L, model.n_rel, model.rank)
    tail = model.rel_t(r).view(B, L, model.n_rel, model.rank)
    # fold the label bias into one extra slot so a plain dot product gives the score
    head = torch.cat([head, model.rel_bias.view(1, 1, -1, 1).expand(B, L, -1, 1)], dim=-1)
    tail = torch.cat([tail, torch.ones_like(tail[..., :1])], dim=-1)
    return head, tail


def load_pretrained(model, base_dir):
    from safetensors.torch import load_file

    sd = load_file(f"{base_dir}/model.safetensors")
    enc = model.encoder
    m = {"word.weight": "embeddings.word_embeddings.weight",
         "pos.weight": "embeddings.position_embeddings.weight",
         "token_type.weight": "embeddings.token_type_embeddings.weight",
         "ln.weight": "embeddings.LayerNorm.weight", "ln.bias": "embeddings.LayerNorm.bias"}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "o": "attention.output.dense", "ln1": "attention.output.LayerNorm",
             "ff1": "intermediate.dense", "ff2": "output.dense", "ln2": "output.LayerNorm"}
    for i in range(len(enc.layers)):
        for ours, theirs in names.items():
            for p in ("weight", "bias"):
                m[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    state = {k: sd[v] for k, v in m.items()}
    missing = enc.load_state_dict(state, strict=False)
    assert not [k for k in missing.missing_keys if not k.startswith("case")], missing
    return model


def load_config(base_dir):
    return json.load(open(f"{base_dir}/config.json"))


# Where a token sits relative to the pair whose phrase is being chosen; the phrase scorer
# learns one bias per region, and the Rust post-processor adds the same biases (erx.json
# `phrase.region_bias`), in this order.
PHRASE_REGIONS = ["before", "between", "after", "head", "tail"]


# What a pair's relation logit adds to the bilinear score when the model has pair context
# (erx.json `relation_context`; the Rust decoder computes the same):
#   + gap_bias[gap_bucket(order, words between)]
#   + mentions_between_bias[min(other mentions between, 3)]
#   + max over words between of rel_context[w, :R] - max over them of rel_context[w, R:]
# read at each word's first piece (the last term is 0 when no word lies between). The
# bilinear score alone sees each mention's own context, not what joins the two; these
# terms let "and" between two names, or another name in the way, count against a pair.
GAP_EDGES = (1, 2, 3, 5, 8, 13, 21)
MENTIONS_BETWEEN_BUCKETS = 4


def gap_bucket(head_first, words_between, edges=GAP_EDGES):
    """Index into gap_bias: 8 buckets of words between (0, 1, 2, 3-4, 5-7, 8-12, 13-20,
    21+), the first 8 when the head comes first, the next 8 when the tail does."""
    b = sum(1 for e in edges if words_between >= e)
    return b if head_first else len(edges) + 1 + b


def pair_context_features(spans, edges=GAP_EDGES):
    """For mention spans [(start, end)] in words (end exclusive, sorted or not): gap bucket
    [M, M], mentions-between bucket [M, M] and (lo, hi) word range between each pair."""
    M = len(spans)
    gap = [[0] * M for _ in range(M)]
    between = [[0] * M for _ in range(M)]
    ranges = [[(0, 0)] * M for _ in range(M)]
    for i, (hs, he) in enumerate(spans):
        for j, (ts, te) in enumerate(spans):
            if i == j:
                continue
            head_first = hs < ts
            lo, hi = (he, ts) if head_first else (te, hs)
            hi = max(lo, hi)
            gap[i][j] = gap_bucket(head_first, hi - lo, edges)
            others = sum(1 for k, (s, _e) in enumerate(spans) if k not in (i, j) and lo <= s < hi)
            between[i][j] = min(others, MENTIONS_BETWEEN_BUCKETS - 1)
            ranges[i][j] = (lo, hi)
    return gap, between, ranges


def phrase_regions(n, head, tail):
    """Region index (see PHRASE_REGIONS) of each of n positions for mention spans
    head = (start, end) and tail = (start, end), end exclusive."""
    lo = min(head[0], tail[0])
    hi = max(head[1], tail[1])
    out = []
    for i in range(n):
        if head[0] <= i < head[1]:
            out.append(3)
        elif tail[0] <= i < tail[1]:
            out.append(4)
        elif i < lo:
            out.append(0)
        elif i >= hi:
            out.append(2)
        else:
            out.append(1)
    return out


class ErxModelV2(nn.Module):
    """erx-news-v2: the v1 encoder with four heads.

    Outputs (see models/erx-news-v2/erx.json):
      entity_logits [B, L, E]       name BIO tags (CoNLL-2003 types)
      value_logits  [B, L, V]       value BIO tags (DATE, MONEY, ...)
      rel_head      [B, L, R, K+1]  as in v1, over the news relation labels
      rel_tail      [B, L, R, K+1]
      phrase_token  [B, L, P+1]     per-token phrase projection (last slot: token bias)
      phrase_head   [B, L, P]       per-token projections averaged over the head mention
      phrase_tail   [B, L, P]       ... and over the tail mention
    The phrase score of token i for the pair (h, t) is
      phrase_token[i] . [mean_h phrase_head + mean_t phrase_tail, 1] + region_bias[region(i)]
    so the phrase is chosen per pair without an L x L x L tensor.
    With `pair_context=True` an eighth output follows:
      rel_context   [B, L, 2R]      per-token scores max-pooled over the words between a
                                    pair (see pair_context_features above)
    """

    def __init__(self, cfg, n_entity_tags, n_value_tags, n_relations, rel_rank=32, phrase_rank=32,
                 n_case=6, pair_context=False):
        super().__init__()
        h = cfg["hidden_size"]
        self.cfg = cfg
        self.encoder = Encoder(cfg, n_case)
        self.drop = nn.Dropout(0.1)
        self.entity = nn.Linear(h, n_entity_tags)
        self.value = nn.Linear(h, n_value_tags)
        self.n_rel, self.rank = n_relations, rel_rank
        self.rel_in = nn.Sequential(nn.Linear(h, h), nn.GELU())
        self.rel_h = nn.Linear(h, n_relations * rel_rank)
        self.rel_t = nn.Linear(h, n_relations * rel_rank)
        self.rel_bias = nn.Parameter(torch.full((n_relations,), -3.0))
        self.phrase_in = nn.Sequential(nn.Linear(h, h), nn.GELU())
        self.phrase_tok = nn.Linear(h, phrase_rank + 1)
        self.phrase_h = nn.Linear(h, phrase_rank)
        self.phrase_t = nn.Linear(h, phrase_rank)
        self.phrase_region = nn.Parameter(torch.tensor([-2.0, 0.0, -2.0, -3.0, -3.0]))
        self.pair_context = pair_context
        if pair_context:
            # zero at the start, so a run continued from one without them scores as before
            self.rel_ctx = nn.Linear(h, 2 * n_relations)
            nn.init.zeros_(self.rel_ctx.weight)
            nn.init.zeros_(self.rel_ctx.bias)
            self.rel_gap = nn.Parameter(torch.zeros(2 * (len(GAP_EDGES) + 1), n_relations))
            self.rel_between = nn.Parameter(torch.zeros(MENTIONS_BETWEEN_BUCKETS, n_relations))

    @classmethod
    def from_meta(cls, meta, cfg=None):
        """The network a run's labels.json describes (`cfg` overrides its encoder config)."""
        return cls(cfg or meta["config"], len(meta["tags"]), len(meta["value_tags"]), len(meta["relations"]),
                   rel_rank=meta["rel_rank"] - 1, phrase_rank=meta["phrase_rank"],
                   n_case=len(meta["case_classes"]), pair_context=meta.get("pair_context", False))

    def forward(self, input_ids, attention_mask, case_ids=None):
        return self.heads(self.encoder(input_ids, attention_mask, case_ids))

    def heads(self, x):
        """The outputs from the encoder's last hidden states `x`."""
        x = self.drop(x)
        r = self.rel_in(x)
        head, tail = relation_rows(self, x, r)
        p = self.phrase_in(x)
        out = (self.entity(x), self.value(x), head, tail,
               self.phrase_tok(p), self.phrase_h(p), self.phrase_t(p))
        return out + (self.rel_ctx(r),) if self.pair_context else out


V2_OUTPUTS = ["entity_logits", "value_logits", "rel_head", "rel_tail",
              "phrase_token", "phrase_head", "phrase_tail"]
# the extra output of a model with pair context, [B, L, 2R]
PAIR_CONTEXT_OUTPUT = "rel_context"
