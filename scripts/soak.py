"""Soak test: stream an article dump through `erx extract` N times in one process and
sample its resident memory every second. Passes when the peak over the whole run is at
most 1.2 x the peak during the first pass, and every input record got its output line.

    python3 scripts/soak.py --dump ../shared/datasets/articles/bbc-news.jsonl --passes 10

Standard library only; Linux (/proc). Writes the samples as CSV under scripts/out/soak/.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dump", required=True, help="JSONL article dump")
    ap.add_argument("--passes", type=int, default=10)
    ap.add_argument("--erx", default="target/release/erx")
    ap.add_argument("--model", default="models/erx-news-v2")
    ap.add_argument("--out", default="scripts/out/soak")
    ap.add_argument("--limit", type=float, default=1.2, help="allowed peak / first-pass peak")
    args = ap.parse_args()

    with open(args.dump, "rb") as f:
        dump = f.read()
    lines = [line for line in dump.split(b"\n") if line.strip()]
    records = len(lines)
    words = sum(len(json.loads(line).get("text", "").split()) for line in lines)
    os.makedirs(args.out, exist_ok=True)
    out_path = os.path.join(args.out, "extract.jsonl")
    cmd = [args.erx, "extract", "--quiet", "--model", args.model, "-o", out_path]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)

    def feed():
        try:
            for _ in range(args.passes):
                proc.stdin.write(dump if dump.endswith(b"\n") else dump + b"\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    samples, lines, offset = [], 0, 0
    start = time.time()
    first_pass_peak = None
    while proc.poll() is None:
        time.sleep(1.0)
        try:
            rss = rss_kib(proc.pid)
        except FileNotFoundError:
            break
        with open(out_path, "rb") as f:
            f.seek(offset)
            chunk = f.read()
        offset += len(chunk)
        lines += chunk.count(b"\n")
        samples.append((round(time.time() - start, 1), rss, lines))
        if first_pass_peak is None and lines >= records:
            first_pass_peak = max(s[1] for s in samples)
        if samples and len(samples) % 60 == 0:
            print(f"{samples[-1][0]:.0f}s: {lines} lines, RSS {rss / 1024:.0f} MiB", file=sys.stderr)
    code = proc.wait()
    with open(out_path, "rb") as f:
        total_lines = f.read().count(b"\n")
    with open(os.path.join(args.out, "rss.csv"), "w") as f:
        f.write("seconds,rss_kib,output_lines\n")
        f.writelines(f"{t},{r},{n}\n" for t, r, n in samples)
    peak = max(s[1] for s in samples) if samples else 0
    first_pass_peak = first_pass_peak or peak
    ratio = peak / first_pass_peak if first_pass_peak else float("nan")
    print(f"erx exit {code}; {args.passes} passes of {records} records ({words * args.passes:,} "
          f"words); {total_lines} output lines (expected {records * args.passes}); "
          f"{time.time() - start:.0f} s")
    print(f"peak RSS first pass {first_pass_peak / 1024:.1f} MiB, whole run {peak / 1024:.1f} MiB, "
          f"ratio {ratio:.3f} (limit {args.limit})")
    ok = code in (0, 2) and total_lines == records * args.passes and ratio <= args.limit
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
