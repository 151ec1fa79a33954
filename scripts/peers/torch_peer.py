#!/usr/bin/env python3
"""PyTorch peer: the same fine-tuned weights (a training run folder, model.pt +
labels.json, loaded as scripts/export.py does) run by PyTorch in fp32 on the CPU, with the
reference pipeline's chunking, batching and decoding (reference.py). Needs the training
environment (.venv, torch); compare.py skips this peer when that or the run is missing.

  .venv/bin/python scripts/peers/torch_peer.py bench --run runs/soup45 --limit 200 --threads 2
  .venv/bin/python scripts/peers/torch_peer.py eval --run runs/soup45
"""

from pathlib import Path

import common
from reference import Reference


class TorchPeer(Reference):
    def __init__(self, run, model_dir, threads):
        import torch

        if not (Path(run) / "model.pt").is_file():
            raise SystemExit(f"error: no {run}/model.pt; it is written by "
                             f"`.venv/bin/python scripts/train.py --out {run}`")
        from export import load_run

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        self.torch = torch
        self.model, meta = load_run(run)
        self.use_case = bool(meta["case"])
        super().__init__(model_dir, meta["tags"], meta["max_tokens"])
        self.info = {"model": str(run), "runtime": f"torch {torch.__version__}", "precision": "fp32"}

    def forward(self, ids, mask, case):
        t = self.torch
        args = [t.from_numpy(ids), t.from_numpy(mask)] + ([t.from_numpy(case)] if self.use_case else [])
        with t.inference_mode():
            return self.model(*args)[0].numpy()


def add_args(ap):
    ap.add_argument("--run", default="runs/soup45", help="training run folder (model.pt, labels.json)")
    ap.add_argument("--model", default=common.MODEL, help="erx model folder (for tokenizer.json)")


if __name__ == "__main__":
    common.main("torch", add_args, lambda a: TorchPeer(a.run, a.model, a.threads), __doc__)
