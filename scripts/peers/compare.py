#!/usr/bin/env python3
"""erx against its peers: throughput on the same article documents and CoNLL-2003 dev
entity F1, in one table, a results JSON and a words/s-vs-F1 scatter (PNG).

Systems: erx (the release binary: `erx bench --json`, `erx eval --json`), reference
(Python tokenizers + onnxruntime, same model and threads; reference.py), spacy
(en_core_web_md, NER only; spacy_peer.py) and torch (the training run's weights in
PyTorch; torch_peer.py, run by .venv/bin/python, skipped when that or the run is missing).

Every system gets the same first --limit documents; rounds alternate the systems (erx,
reference, spacy, torch, erx, ...), each run is a fresh process that loads its model,
warms up on the first --warmup documents and then times all documents. words/s = the
documents' whitespace-separated words / timed seconds; each system's figure is the median
over --rounds. "erx x" = erx words/s / the system's words/s.

  bash scripts/peers/run.sh                          # setup + this script, defaults
  .venv-peers/bin/python scripts/peers/compare.py --limit 20 --rounds 1 --conll-limit 200

Relative paths are taken from the repository root.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
from spacy_peer import MAPPING_NOTE  # noqa: E402


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "load_avg_1m": os.getloadavg()[0]}


def run_json(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"`{' '.join(map(str, cmd))}` failed ({p.returncode}):\n{p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout)


def systems(args):
    """name -> (bench command, eval command, env); plus notes on skipped peers."""
    env = dict(os.environ)
    env.setdefault("ORT_DYLIB_PATH", str(ROOT / ".ort/libonnxruntime.so"))
    common_args = ["--threads", str(args.threads)]
    dump_args = [str(args.dump), "--limit", str(args.limit), "--warmup", str(args.warmup)]
    conll_limit = ["--limit", str(args.conll_limit)] if args.conll_limit else []
    out = {"erx": ([args.erx, "bench", *dump_args, "--json", "--model", args.model, *common_args],
                   [args.erx, "eval", "--format", "conll2003", str(args.conll_dev), "--json",
                    "--model", args.model, *common_args, *conll_limit], env)}
    for spec in args.also_model or []:
        label, _, folder = spec.partition("=")
        out[f"erx-{label}"] = ([args.erx, "bench", *dump_args, "--json", "--model", folder, *common_args],
                               [args.erx, "eval", "--format", "conll2003", str(args.conll_dev), "--json",
                                "--model", folder, *common_args, *conll_limit], env)

    def peer(py, script, *extra):
        base = [py, str(HERE / script)]
        opts = ["--json", "--seed", str(args.seed), *common_args, *extra]
        return ([*base, "bench", "--dump", *dump_args, *opts],
                [*base, "eval", "--conll", str(args.conll_dev), *conll_limit, *opts], None)

    out["reference"] = peer(sys.executable, "reference.py", "--model", args.model)
    out["spacy"] = peer(sys.executable, "spacy_peer.py")
    notes = []
    torch_py = Path(args.torch_python)
    if not torch_py.exists():
        notes.append(f"torch peer skipped: no {torch_py} (the training venv, scripts/requirements.txt)")
    elif not (Path(args.torch_run) / "model.pt").is_file():
        notes.append(f"torch peer skipped: no {args.torch_run}/model.pt (written by scripts/train.py)")
    elif subprocess.run([str(torch_py), "-c", "import torch"], capture_output=True).returncode:
        notes.append(f"torch peer skipped: {torch_py} cannot import torch")
    else:
        out["torch"] = peer(str(torch_py), "torch_peer.py", "--run", args.torch_run, "--model", args.model)
    if args.only:
        out = {name: cmd for name, cmd in out.items() if name == "erx" or name.startswith("erx-")
               or name in args.only}
    return out, notes


def plot(rows, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, r in enumerate(sorted(rows, key=lambda r: r["words_per_s"])):
        ax.scatter(r["words_per_s"], r["f1"], s=60, color="C3" if r["system"] == "erx" else "C0")
        ax.annotate(f"{r['system']}\n{r['words_per_s']:,.0f} w/s, F1 {r['f1']:.3f}",
                    (r["words_per_s"], r["f1"]), textcoords="offset points", fontsize=8,
                    xytext=(7, 5 if i % 2 == 0 else -24))  # alternate sides: close points stay legible
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("words/s (log scale, median of rounds)")
    ax.set_ylabel("CoNLL-2003 dev entity F1 (strict)")
    ax.set_title(title, fontsize=9)
    ax.margins(x=0.35, y=0.15)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump", default=common.DUMP, help="JSONL article dump")
    ap.add_argument("--limit", type=int, default=200, help="first N documents of the dump")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads (erx, reference, torch)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=8, help="documents run before timing")
    ap.add_argument("--conll-dev", default=common.CONLL_DEV, help="CoNLL-2003 dev file")
    ap.add_argument("--conll-limit", type=int, default=None, help="score only the first N sentences")
    ap.add_argument("--model", default=common.MODEL, help="erx model folder")
    ap.add_argument("--also-model", action="append", metavar="LABEL=DIR",
                    help="also run erx with this model, reported as erx-LABEL (repeatable)")
    ap.add_argument("--only", action="append", choices=["reference", "spacy", "torch"],
                    help="run only these peers besides erx (repeatable; default: every peer)")
    ap.add_argument("--erx", default="target/release/erx", help="erx binary")
    ap.add_argument("--torch-run", default="runs/soup45", help="training run for the torch peer")
    ap.add_argument("--torch-python", default=".venv/bin/python", help="Python with torch")
    ap.add_argument("--out", default="scripts/out/peers", help="output folder")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    os.chdir(ROOT)
    card = common.model_card(args.model)
    for spec in args.also_model or []:
        label, sep, folder = spec.partition("=")
        if not sep or not label or not (Path(folder) / "erx.json").is_file():
            sys.exit(f"error: --also-model {spec!r}: expected LABEL=DIR with DIR/erx.json")
    if not Path(args.erx).is_file():
        sys.exit(f"error: no erx binary at {args.erx}; build it with `cargo build --release`")
    for p in (args.dump, args.conll_dev):
        if not Path(p).is_file():
            sys.exit(f"error: {p} not found")
    texts = common.read_dump(args.dump, args.limit)
    words = common.count_words(texts)
    mach = machine()
    cmds, notes = systems(args)
    print(f"machine: {mach['cpu']}, {mach['cores']} cores (load avg {mach['load_avg_1m']:.2f}); "
          f"threads: {args.threads}", flush=True)
    print(f"input: first {len(texts)} documents of {args.dump} ({words} words), {args.rounds} rounds; "
          f"model {args.model} ({card.get('name')}, {card['onnx'].get('precision')})", flush=True)

    runs, failed = {s: [] for s in cmds}, {}
    for r in range(args.rounds):
        for s, (bench, _ev, env) in cmds.items():
            if s in failed:
                continue
            try:
                res = run_json(bench, env)
            except RuntimeError as e:
                if s == "erx":
                    sys.exit(str(e))
                failed[s] = str(e)
                print(f"  {s}: FAILED, dropped\n{e}", file=sys.stderr)
                continue
            note = f"{s} counted {res['words']} words, compare.py {words}"
            if res["words"] != words and note not in notes:
                notes.append(note)
            res["words_per_s"] = words / res["seconds"]
            runs[s].append(res)
            print(f"  round {r + 1}/{args.rounds} {s:<9} {res['words_per_s']:>9.0f} words/s "
                  f"({res['seconds']:.2f}s)", flush=True)
    rows = []
    for s, (_b, ev, env) in cmds.items():
        if s in failed or not runs[s]:
            continue
        print(f"  scoring {s} on {args.conll_dev} ...", flush=True)
        try:
            scores = run_json(ev, env)
        except RuntimeError as e:
            failed[s] = str(e)
            print(f"  {s}: eval FAILED\n{e}", file=sys.stderr)
            continue
        last = runs[s][-1]
        rows.append({"system": s, "words_per_s": statistics.median(x["words_per_s"] for x in runs[s]),
                     "rounds_words_per_s": [x["words_per_s"] for x in runs[s]],
                     "f1": scores["entities"]["micro"]["f1"], "entities": scores["entities"],
                     "conll_sentences": scores["sentences"], "peak_rss_mb": last.get("peak_rss_mb"),
                     **{k: last[k] for k in ("runtime", "model", "precision", "provider", "pipes",
                                             "label_mapping") if k in last}})
    erx_wps = next((r["words_per_s"] for r in rows if r["system"] == "erx"), None)
    for r in rows:
        r["erx_times_faster"] = erx_wps / r["words_per_s"] if erx_wps else None
    notes += [f"{s} failed: {e.splitlines()[0]}" for s, e in failed.items()]
    if "spacy" in cmds:
        notes.append(f"spacy: en_core_web_md, NER only, 1 process; labels {MAPPING_NOTE}")
    notes.append("erx runs entities + relations + phrases; the peers entities only")

    n_sent = rows[0]["conll_sentences"] if rows else 0
    print(f"\n{'system':<10} {'words/s':>10} {'erx x':>7} {'F1':>7} {'peak RSS MB':>12}")
    for r in rows:
        rss = f"{r['peak_rss_mb']:.0f}" if r.get("peak_rss_mb") else "-"
        print(f"{r['system']:<10} {r['words_per_s']:>10.0f} {r['erx_times_faster']:>6.2f}x "
              f"{r['f1']:>7.4f} {rss:>12}")
    print(f"(words/s: median of {args.rounds} rounds over {len(texts)} documents, {words} words, "
          f"{args.threads} threads; F1: strict entity micro F1 on {n_sent} CoNLL-2003 dev sentences)")
    for n in notes:
        print(f"note: {n}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"machine": mach, "threads": args.threads, "rounds": args.rounds, "warmup": args.warmup,
              "seed": args.seed, "dump": str(args.dump), "documents": len(texts), "words": words,
              "conll_dev": str(args.conll_dev), "conll_sentences": n_sent, "model": args.model,
              "model_name": card.get("name"), "systems": rows, "notes": notes}
    json.dump(result, open(out / "results.json", "w"), indent=2)
    plot(rows, out / "peers.png", f"{len(texts)} docs, {args.threads} threads, {mach['cpu']}")
    print(f"wrote {out / 'results.json'} and {out / 'peers.png'}")


if __name__ == "__main__":
    main()
