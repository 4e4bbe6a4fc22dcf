#!/usr/bin/env python3
"""Load on `lmmr1-reward-server` and on a Flask + Math-Verify server, same load, same run.

    cargo build --release -p lmmr1-reward-server
    python3 -m venv /tmp/rs && /tmp/rs/bin/pip install flask math-verify==0.9.0
    /tmp/rs/bin/python tools/bench_reward_server.py [--clients 16] [--batch 128] [--seconds 10]

Both servers get the same requests: `--clients` threads, each with a keep-alive connection,
posting OpenRLHF's `{"query", "prompts", "labels"}` with `--batch` samples (LMM-R1's reward
fixture's responses in a Chat-ML conversation) back to back for `--seconds`. Prints samples
per second, p50/p99 request latency and errors for each, the throughput ratio, and how often
the two servers' rewards agree.
"""

import argparse
import http.client
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "crates/lmmr1-rewards/tests/fixtures/lmm_r1_reward.jsonl"
PROMPT = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nSolve it.<|im_end|>\n<|im_start|>assistant\n"


def wait_ready(port, proc, timeout=60):
    t = time.time()
    while time.time() - t < timeout:
        if proc.poll() is not None:
            sys.exit(f"the server on port {port} exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"no server on port {port} after {timeout} s")


def post(conn, body):
    conn.request("POST", "/get_reward", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def load(port, bodies, clients, seconds):
    lat, errors, samples = [], [0], [0]
    lock = threading.Lock()
    stop = time.time() + seconds

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        k = i
        while time.time() < stop:
            body, n = bodies[k % len(bodies)]
            k += clients
            t = time.perf_counter()
            try:
                status, _ = post(conn, body)
                ok = status == 200
            except OSError:
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            dt = time.perf_counter() - t
            with lock:
                lat.append(dt)
                if ok:
                    samples[0] += n
                else:
                    errors[0] += 1

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    lat.sort()
    return {
        "samples_per_s": samples[0] / wall,
        "requests": len(lat),
        "errors": errors[0],
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=str(ROOT / "target/release/lmmr1-reward-server"))
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(FIXTURE) if l.strip()]
    queries = [PROMPT + r["response"] + "<|im_end|>" for r in rows]
    labels = [r["gold"] for r in rows]
    bodies = []
    for start in range(0, len(rows), 7):  # overlapping windows: many distinct batches
        idx = [(start + j) % len(rows) for j in range(a.batch)]
        body = {"query": [queries[i] for i in idx], "prompts": [PROMPT] * a.batch, "labels": [labels[i] for i in idx]}
        bodies.append((json.dumps(body), a.batch))

    ours = subprocess.Popen([a.server, "--port", "5070", "--reward", "lmm_r1_math"], stderr=subprocess.DEVNULL)
    flask = subprocess.Popen([sys.executable, str(ROOT / "tools/flask_math_verifier.py"), "--port", "5071"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(5070, ours)
        wait_ready(5071, flask)
        # Agreement on every fixture row.
        whole = json.dumps({"query": queries, "prompts": [PROMPT] * len(rows), "labels": labels})
        r_ours = json.loads(post(http.client.HTTPConnection("127.0.0.1", 5070), whole)[1])["rewards"]
        r_flask = json.loads(post(http.client.HTTPConnection("127.0.0.1", 5071, timeout=600), whole)[1])["rewards"]
        agree = sum(x == y for x, y in zip(r_ours, r_flask)) / len(rows)
        print(f"{a.clients} clients, batches of {a.batch}, {a.seconds:.0f} s each, {os.cpu_count()} cores")
        res = {}
        for name, port in (("lmmr1-reward-server", 5070), ("Flask + Math-Verify", 5071)):
            res[name] = load(port, bodies, a.clients, a.seconds)
            r = res[name]
            print(f"{name:20s}: {r['samples_per_s']:10,.0f} samples/s  {r['requests']:6d} requests  "
                  f"p50 {r['p50_ms']:8.1f} ms  p99 {r['p99_ms']:8.1f} ms  errors {r['errors']}")
        ratio = res["lmmr1-reward-server"]["samples_per_s"] / max(res["Flask + Math-Verify"]["samples_per_s"], 1e-9)
        print(f"throughput ratio {ratio:,.0f}x; rewards agree on {agree:.2%} of {len(rows)} fixture rows")
        if res["lmmr1-reward-server"]["errors"]:
            sys.exit("the Rust server had errors")
    finally:
        for p in (ours, flask):
            p.send_signal(signal.SIGINT)
        for p in (ours, flask):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
