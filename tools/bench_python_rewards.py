#!/usr/bin/env python3
"""Math-Verify and lmmr1_rewards through Python, on the same corpus, in the same run.

    python3 -m venv /tmp/rw && /tmp/rw/bin/pip install math-verify==0.9.0 ./crates/lmmr1-rewards-py
    /tmp/rw/bin/python tools/bench_python_rewards.py [--limit N]

The corpus is the conformance fixture's (gold, prediction) pairs
(`crates/lmmr1-rewards/tests/fixtures/math_verify.jsonl`, rows Math-Verify did not time out on).
Timed: Math-Verify's `verify(parse(gold), parse(pred))` on one thread; `lmmr1_rewards.verify` on
one thread; `lmmr1_rewards.verify_batch` on all cores. Prints pairs per second, the ratios and
the agreement of the two verdicts.
"""

import argparse
import json
import os
import pathlib
import time

import lmmr1_rewards
from math_verify import parse, verify

FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "crates/lmmr1-rewards/tests/fixtures/math_verify.jsonl"


def timed(f, reps=1):
    best = float("inf")
    out = None
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return out, best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="pairs used (0 = all)")
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(FIXTURE) if l.strip()]
    rows = [r for r in rows if not r.get("timeout")]
    if a.limit:
        rows = rows[: a.limit]
    golds = [r["gold"] for r in rows]
    preds = [r["pred"] for r in rows]
    n = len(rows)

    mv, t_mv = timed(lambda: [verify(parse(g), parse(p)) for g, p in zip(golds, preds)])
    ours, t_ours = timed(lambda: [lmmr1_rewards.verify(g, p) for g, p in zip(golds, preds)], reps=5)
    batch, t_batch = timed(lambda: lmmr1_rewards.verify_batch(golds, preds), reps=5)
    assert batch == ours
    agree = sum(x == y for x, y in zip(mv, ours)) / n
    cores = os.cpu_count()
    print(f"{n} pairs, {cores} cores (`lscpu` names the CPU)")
    print(f"math_verify parse+verify, 1 thread : {n / t_mv:12,.0f} pairs/s")
    print(f"lmmr1_rewards.verify, 1 thread     : {n / t_ours:12,.0f} pairs/s  ({t_mv / t_ours:,.0f}x)")
    print(f"lmmr1_rewards.verify_batch, {cores} cores: {n / t_batch:12,.0f} pairs/s  ({t_mv / t_batch:,.0f}x)")
    print(f"verdicts agree on {agree:.2%}")


if __name__ == "__main__":
    main()
