"""Words per second of the Python package's `pipe` against the erx CLI, in one run.

Both read the same first N articles of a dump, with the same threads. The CLI is timed
as a whole process, and once more on a one-record file to take out its start and model
load; the package's load is timed apart from its `pipe`. Runs alternate, medians are
printed.

    python scripts/bench_python.py --dump ../shared/datasets/articles/bbc-news.jsonl --limit 200
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import erx


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dump", required=True, help="JSONL articles with id and text")
    ap.add_argument("--limit", type=int, default=200, help="first N articles [200]")
    ap.add_argument("--model", default="models/erx-news-v2")
    ap.add_argument("--erx-bin", default="target/release/erx")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads in all [2]")
    ap.add_argument("--batch-size", type=int, default=128, help="pipe batch size [128]")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each [3]")
    return ap.parse_args()


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main():
    args = parse_args()
    with open(args.dump, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()][:args.limit]
    words = sum(len(r["text"].split()) for r in records)
    tmp = tempfile.mkdtemp()
    articles = os.path.join(tmp, "articles.jsonl")
    one = os.path.join(tmp, "one.jsonl")
    with open(articles, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with open(one, "w", encoding="utf-8") as f:
        f.write(json.dumps({"id": "x", "text": "Paris."}) + "\n")

    load, extractor = timed(lambda: erx.Extractor(args.model, threads=args.threads))

    def cli(path):
        # the same ONNX Runtime library as the package loaded; exit 2 = some records failed
        proc = subprocess.run([args.erx_bin, "extract", "--quiet", "--threads", str(args.threads),
                               "--model", args.model, "--ort-library", extractor.runtime_library, path],
                              stdout=subprocess.DEVNULL)
        if proc.returncode not in (0, 2):
            raise SystemExit(f"erx extract failed with exit status {proc.returncode}")
    cli_runs, cli_loads, pipe_runs = [], [], []
    for _ in range(args.repeat):
        cli_runs.append(timed(lambda: cli(articles))[0])
        cli_loads.append(timed(lambda: cli(one))[0])
        seconds, out = timed(lambda: sum(1 for _ in extractor.pipe(records, batch_size=args.batch_size)))
        assert out == len(records)
        pipe_runs.append(seconds)
    cli_total, cli_load, pipe = (statistics.median(x) for x in (cli_runs, cli_loads, pipe_runs))
    print(json.dumps({
        "articles": len(records), "words": words, "threads": args.threads,
        "onnxruntime": extractor.runtime_library,
        "cli_seconds": round(cli_total, 3), "cli_start_and_load_seconds": round(cli_load, 3),
        "cli_words_per_s": round(words / cli_total, 1),
        "cli_words_per_s_after_load": round(words / (cli_total - cli_load), 1),
        "python_load_seconds": round(load, 3), "pipe_seconds": round(pipe, 3),
        "pipe_words_per_s": round(words / pipe, 1),
        "runs": {"cli": cli_runs, "cli_load": cli_loads, "pipe": pipe_runs},
    }, indent=1))


if __name__ == "__main__":
    main()
