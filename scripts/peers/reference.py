#!/usr/bin/env python3
"""Python reference pipeline: the erx model run the way a user would in Python, with HF
`tokenizers` + `onnxruntime` (same ONNX file, same intra-op threads, ORT_ENABLE_ALL).
Entities only (no relations, no phrases).

Each document is tokenised whole (scripts/erxlib/features.py: input_ids, word-shape
case_ids), its word pieces cut into consecutive chunks of max_tokens-2, each chunk wrapped
in [CLS] ... [SEP]; chunks are padded to the longest in their batch and run 32 at a time;
the logits go back to document positions and words are decoded with
scripts/erxlib/decode.py (word-level BIO, Viterbi).

  .venv-peers/bin/python scripts/peers/reference.py bench --limit 200 --threads 2
  .venv-peers/bin/python scripts/peers/reference.py eval --conll ../shared/datasets/conll2003/dev.txt
"""

from pathlib import Path

import numpy as np

import common
from erxlib.decode import decode_entities
from erxlib.features import CASE_PAD, encode


class Reference:
    """Chunking, batching and decoding; `forward(ids, mask, case) -> entity logits`
    is the part a runtime supplies (ONNX Runtime here, PyTorch in torch_peer.py)."""

    def __init__(self, model_dir, tags, max_tokens, batch_chunks=32):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.no_truncation()
        self.tags, self.max_tokens, self.batch_chunks = tags, max_tokens, batch_chunks
        self.pad_id = self.tok.token_to_id("[PAD]") or 0

    def entities(self, texts):
        encs = [encode(self.tok, t) for t in texts]
        chunks = []  # (doc, offset of the chunk's first piece in the doc's input_ids)
        body = self.max_tokens - 2
        for d, e in enumerate(encs):
            chunks += [(d, 1 + o) for o in range(0, len(e.input_ids) - 2, body)]
        logits = [None] * len(encs)
        for b in range(0, len(chunks), self.batch_chunks):
            batch = chunks[b:b + self.batch_chunks]
            rows = []
            for d, o in batch:
                e = encs[d]
                end = min(o + body, len(e.input_ids) - 1)
                rows.append(([e.input_ids[0]] + e.input_ids[o:end] + [e.input_ids[-1]],
                             [CASE_PAD] + e.case_ids[o:end] + [CASE_PAD]))
            L = max(len(r[0]) for r in rows)
            ids = np.full((len(rows), L), self.pad_id, dtype=np.int64)
            case = np.full((len(rows), L), CASE_PAD, dtype=np.int64)
            mask = np.zeros((len(rows), L), dtype=np.int64)
            for i, (r_ids, r_case) in enumerate(rows):
                ids[i, :len(r_ids)], case[i, :len(r_ids)], mask[i, :len(r_ids)] = r_ids, r_case, 1
            out = self.forward(ids, mask, case)
            for i, (d, o) in enumerate(batch):
                if logits[d] is None:
                    logits[d] = np.zeros((len(encs[d].input_ids), out.shape[-1]), dtype=np.float32)
                n = len(rows[i][0]) - 2
                logits[d][o:o + n] = out[i, 1:1 + n]
        result = []
        for e, lg in zip(encs, logits):
            spans = decode_entities(e, lg, self.tags) if e.words else []
            result.append([(e.words[a][0], e.words[b - 1][1], t) for a, b, t, _p in spans])
        return result


class OnnxReference(Reference):
    def __init__(self, model_dir, threads):
        import onnxruntime as ort

        card = common.model_card(model_dir)
        super().__init__(model_dir, card["entity_tags"], card["max_tokens"])
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(Path(model_dir) / card["onnx"]["file"]), so,
                                         providers=["CPUExecutionProvider"])
        self.names = card["inputs"]
        self.out = card["outputs"]["entity_logits"]
        self.info = {"model": str(model_dir), "runtime": f"onnxruntime {ort.__version__}",
                     "precision": card["onnx"].get("precision")}

    def forward(self, ids, mask, case):
        feeds = {self.names["input_ids"]: ids, self.names["attention_mask"]: mask}
        if self.names.get("case_ids"):
            feeds[self.names["case_ids"]] = case
        return self.sess.run([self.out], feeds)[0]


def add_args(ap):
    ap.add_argument("--model", default=common.MODEL, help="erx model folder")


if __name__ == "__main__":
    common.main("reference", add_args, lambda a: OnnxReference(a.model, a.threads), __doc__)
