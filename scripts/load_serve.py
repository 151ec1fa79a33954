"""Load test of `erx serve`: throughput and latency at several concurrencies, then an
overload run at about twice the measured capacity that checks every request got an
answer (200 or 503), none dropped or hung, and samples the server's peak memory.

    cargo build --release --features serve
    python3 scripts/load_serve.py --model models/erx-news-v2 \\
        --dump ../shared/datasets/articles/bbc-news.jsonl --limit 200

Starts `erx serve` on a free loopback port (or uses --url/--pid of one already running on
loopback), sends one-article requests {"id", "text"} drawn with a seeded generator from
the first --limit articles of the dump, and stops by itself: every phase is bounded in
time. Standard library only (threads + http.client); Linux (/proc) for memory.

Phases:
  levels    closed loop: C clients each send a request, wait for the answer, send the next,
            for --duration seconds, for each C in --levels (default 1, 8, 64). Reported:
            docs/s and words/s of answered documents, p50/p95/p99 latency, answers by status.
  overload  open loop: Poisson arrivals at --overload-factor x the best docs/s of the levels
            (or --capacity) for --overload-duration seconds, sent by a pool of
            --overload-clients threads. Reported: answers by status, requests without an
            answer (must be 0), latency, the server's peak RSS (VmHWM).

Exit status 0 when every request of every phase got an HTTP answer, 200 or 503 in the
overload phase (and the server, if this script started it, exited 0 on SIGTERM); else 1.
"""
import argparse
import http.client
import ipaddress
import json
import math
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host):
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_texts(path, limit, field):
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if len(texts) >= limit:
                break
            if not line.strip():
                continue
            text = json.loads(line).get(field)
            if isinstance(text, str) and text.strip():
                texts.append(text)
    if not texts:
        sys.exit(f"{path}: no documents with a {field!r} field")
    return texts


def percentile(values, p):
    """Nearest-rank percentile of a list (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def memory_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Server:
    """`erx serve` started by this script, on a free loopback port."""

    def __init__(self, erx, model, extra):
        cmd = [erx, "serve", "--addr", "127.0.0.1:0", "--quiet"]
        if model:
            cmd += ["--model", model]
        cmd += extra
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.lines = []
        found = queue.Queue()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                m = re.match(r"erx: listening on http://(\S+)", line)
                if m:
                    found.put(m.group(1))

        threading.Thread(target=read, daemon=True).start()
        try:
            self.addr = found.get(timeout=120)
        except queue.Empty:
            self.proc.kill()
            sys.exit("erx serve did not start:\n" + "\n".join(self.lines[-20:]))
        self.pid = self.proc.pid

    def stop(self, timeout):
        """SIGTERM, then the exit status (None if it had to be killed)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


class Client:
    """One keep-alive connection; reconnects after an error or a closed connection."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def post(self, body):
        """(status, seconds, None) or (None, seconds, why) when no answer came. A failure
        is never retried: it would hide a request the server dropped."""
        start = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request("POST", "/v1/extract", body=body,
                              headers={"Content-Type": "application/json"})
            response = self.conn.getresponse()
            response.read()
            if response.getheader("connection", "").lower() == "close":
                self.close()
            return response.status, time.perf_counter() - start, None
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return None, time.perf_counter() - start, type(e).__name__

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Tally:
    """Answers of one phase, shared by its client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.status = {}
        self.latencies = []  # seconds, requests answered 200
        self.other_latencies = []  # seconds, requests answered otherwise (503 ...)
        self.failures = {}  # why requests got no answer
        self.docs = 0
        self.words = 0
        self.unanswered = 0
        self.sent = 0

    def add(self, status, seconds, words, why=None):
        with self.lock:
            self.sent += 1
            if status is None:
                self.unanswered += 1
                self.failures[why] = self.failures.get(why, 0) + 1
                return
            self.status[status] = self.status.get(status, 0) + 1
            if status == 200:
                self.latencies.append(seconds)
                self.docs += 1
                self.words += words
            else:
                self.other_latencies.append(seconds)

    def report(self, elapsed):
        def ms(s):
            return None if s is None else round(s * 1e3, 1)

        ok = self.latencies
        return {
            "seconds": round(elapsed, 2),
            "requests": self.sent,
            "by_status": {str(k): v for k, v in sorted(self.status.items())},
            "unanswered": self.unanswered,
            "unanswered_why": self.failures,
            "docs_per_s": round(self.docs / elapsed, 2),
            "words_per_s": round(self.words / elapsed, 1),
            "p50_ms": ms(percentile(ok, 50)),
            "p95_ms": ms(percentile(ok, 95)),
            "p99_ms": ms(percentile(ok, 99)),
            "other_p99_ms": ms(percentile(self.other_latencies, 99)),
        }


def body_for(texts, rng, n):
    i = rng.randrange(len(texts))
    text = texts[i]
    return json.dumps({"id": n, "text": text}).encode(), len(text.split())


def closed_loop(host, port, texts, clients, duration, seed, timeout):
    tally = Tally()
    deadline = time.perf_counter() + duration

    def run(k):
        rng = random.Random(seed * 1000 + k)
        client = Client(host, port, timeout)
        n = 0
        while time.perf_counter() < deadline:
            body, words = body_for(texts, rng, f"c{clients}-{k}-{n}")
            status, seconds, why = client.post(body)
            tally.add(status, seconds, words, why)
            n += 1
        client.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally.report(time.perf_counter() - start)


def open_loop(host, port, texts, rate, duration, clients, seed, timeout):
    """Poisson arrivals at `rate` requests/s for `duration` s, sent by `clients` threads.
    A request waits in a local queue while every thread is busy (its latency counts from
    its arrival), so the offered load does not drop when the server slows down."""
    tally = Tally()
    tickets = queue.Queue()
    rng = random.Random(seed)
    stop = object()

    def run():
        client = Client(host, port, timeout)
        while True:
            ticket = tickets.get()
            if ticket is stop:
                break
            arrival, body, words = ticket
            status, _, why = client.post(body)
            tally.add(status, time.perf_counter() - arrival, words, why)
        client.close()

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    next_arrival, n = start, 0
    while next_arrival < start + duration:
        delay = next_arrival - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        body, words = body_for(texts, rng, f"o-{n}")
        tickets.put((time.perf_counter(), body, words))
        n += 1
        next_arrival += rng.expovariate(rate)
    for _ in threads:
        tickets.put(stop)
    # every request has at most `timeout` seconds to be answered once sent
    for t in threads:
        t.join()
    report = tally.report(time.perf_counter() - start)
    report["offered"] = n
    report["offered_per_s"] = round(rate, 2)
    return report


def print_level(name, r):
    def p(v):
        return "-" if v is None else f"{v:.1f}"

    print(f"  {name:<12} {r['docs_per_s']:>8.1f} {r['words_per_s']:>10.0f} "
          f"{p(r['p50_ms']):>9} {p(r['p95_ms']):>9} {p(r['p99_ms']):>9}  "
          f"{r['requests']:>6}  {json.dumps(r['by_status'])}  unanswered {r['unanswered']}",
          flush=True)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after `--` go to `erx serve` (e.g. -- --threads 2 --batch-wait-ms 2).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--erx", default="target/release/erx",
                    help="erx binary built with --features serve [%(default)s]")
    ap.add_argument("--model", help="model folder for the server [erx's default]")
    ap.add_argument("--url", help="use this running server (loopback only) instead of starting one")
    ap.add_argument("--pid", type=int, help="with --url: the server's PID, for its memory")
    ap.add_argument("--dump", default="../shared/datasets/articles/bbc-news.jsonl",
                    help="JSONL articles [%(default)s]")
    ap.add_argument("--field", default="text", help="text field of the dump [%(default)s]")
    ap.add_argument("--limit", type=int, default=200, help="use the first N articles [%(default)s]")
    ap.add_argument("--levels", default="1,8,64", help="client concurrencies [%(default)s]")
    ap.add_argument("--duration", type=float, default=20.0,
                    help="seconds per concurrency level [%(default)s]")
    ap.add_argument("--warmup", type=float, default=3.0,
                    help="seconds of load before measuring [%(default)s]")
    ap.add_argument("--overload-duration", type=float, default=60.0,
                    help="seconds of overload; 0 skips it [%(default)s]")
    ap.add_argument("--overload-factor", type=float, default=2.0,
                    help="offered load / capacity in the overload phase [%(default)s]")
    ap.add_argument("--capacity", type=float,
                    help="docs/s the server sustains [default: the best docs/s of the levels]")
    ap.add_argument("--overload-clients", type=int, default=256,
                    help="sending threads in the overload phase [%(default)s]")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds a request may wait for its answer before it counts as "
                         "unanswered [%(default)s]")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the results to this file")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args, server_args = ap.parse_args(argv[:split]), argv[split + 1:]
    levels = [int(c) for c in args.levels.split(",") if c.strip()]

    texts = load_texts(args.dump, args.limit, args.field)
    server = None
    if args.url:
        parsed = urllib.parse.urlsplit(args.url)
        host, port, pid = parsed.hostname, parsed.port or 80, args.pid
    else:
        server = Server(args.erx, args.model, server_args)
        host, port = server.addr.rsplit(":", 1)
        port, pid = int(port), server.pid
    if not is_loopback(host):
        sys.exit(f"{host} is not a loopback address: this load test only targets this machine")

    peak = {"VmHWM": None}
    sampling = threading.Event()

    def sample():
        while not sampling.wait(0.5):
            if pid:
                hwm = memory_kib(pid, "VmHWM")
                if hwm is not None:
                    peak["VmHWM"] = max(hwm, peak["VmHWM"] or 0)

    threading.Thread(target=sample, daemon=True).start()

    words = sum(len(t.split()) for t in texts)
    print(f"load_serve: {len(texts)} articles ({words / len(texts):.0f} words each on average) "
          f"from {args.dump}; server http://{host}:{port}", flush=True)
    results = {"server": f"http://{host}:{port}", "articles": len(texts), "levels": {}}
    print(f"  {'clients':<12} {'docs/s':>8} {'words/s':>10} {'p50 ms':>9} {'p95 ms':>9} "
          f"{'p99 ms':>9}  {'reqs':>6}  answers", flush=True)
    answered_all = True
    if args.warmup > 0:
        closed_loop(host, port, texts, max(levels or [1]), args.warmup, args.seed + 99, args.timeout)
    for c in levels:
        r = closed_loop(host, port, texts, c, args.duration, args.seed, args.timeout)
        results["levels"][str(c)] = r
        answered_all &= r["unanswered"] == 0
        print_level(str(c), r)

    if args.overload_duration > 0:
        capacity = args.capacity or max(
            (r["docs_per_s"] for r in results["levels"].values()), default=0)
        if capacity <= 0:
            sys.exit("no capacity to overload: pass --capacity or run some --levels")
        rate = args.overload_factor * capacity
        r = open_loop(host, port, texts, rate, args.overload_duration, args.overload_clients,
                      args.seed, args.timeout)
        unexpected = {s: n for s, n in r["by_status"].items() if s not in ("200", "503")}
        r["unexpected_statuses"] = unexpected
        r["every_request_answered"] = r["unanswered"] == 0 and r["requests"] == r["offered"]
        answered_all &= r["every_request_answered"] and not unexpected
        results["overload"] = r
        print_level(f"overload x{args.overload_factor:g}", r)
        print(f"  overload: offered {r['offered']} requests at {rate:.1f}/s; answered "
              f"{r['requests'] - r['unanswered']} ({json.dumps(r['by_status'])}), "
              f"unanswered {r['unanswered']}, other statuses {unexpected or 'none'}", flush=True)

    sampling.set()
    if pid:
        hwm = memory_kib(pid, "VmHWM")
        if hwm is not None:
            peak["VmHWM"] = max(hwm, peak["VmHWM"] or 0)
    results["peak_rss_mib"] = None if peak["VmHWM"] is None else round(peak["VmHWM"] / 1024, 1)
    rss = "-" if results["peak_rss_mib"] is None else f"{results['peak_rss_mib']:.0f} MiB"
    print(f"  server peak RSS (VmHWM): {rss}", flush=True)

    if server is not None:
        code = server.stop(timeout=args.timeout + 10)
        results["server_exit"] = code
        print(f"  server exit status after SIGTERM: {code}", flush=True)
        answered_all &= code == 0
    results["ok"] = answered_all
    print(f"load_serve: {'OK' if answered_all else 'FAILED'}: every request "
          f"{'got' if answered_all else 'did NOT get'} an answer", flush=True)
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0 if answered_all else 1


if __name__ == "__main__":
    sys.exit(main())
