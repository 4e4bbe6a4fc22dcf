#!/usr/bin/env python3
"""The anchor for `lmmr1-reward-server`: a Flask + Math-Verify reward server equivalent to
LMM-R1's `openrlhf/models/remote_rm/math_verifier.py` (its Flask version, and the process pool
of its current FastAPI version: Math-Verify's signal-based timeouts need each check to run in a
process's main thread).

    python tools/flask_math_verifier.py --port 5001 [--workers N]

`POST /get_reward` with `{"query": [...], "labels": [...]}` (OpenRLHF) → `{"rewards": [...]}`:
0.5·format + accuracy with LMM-R1's extraction settings (gold: LaTeX, first match; prediction:
boxed first, anchors required, no nits or malformed-operator repairs). Needs flask and
math-verify==0.9.0.
"""

import argparse
import os
import re
from concurrent.futures import ProcessPoolExecutor

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler

FORMAT = re.compile(r"^<think>(?:(?!</think>).)*</think><answer>(?:(?!</answer>).)*</answer>\Z", re.DOTALL)
ENDS = ["<|im_end|>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "<|endoftext|>"]
PREFIX = "<|im_start|>assistant\n"


def response_of(query):
    i = query.find(PREFIX)
    r = query[i + len(PREFIX):] if i >= 0 else query
    for e in ENDS:
        r = r.replace(e, "")
    return r.strip()


def score(pair):
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse, verify

    query, label = pair
    response = response_of(query)
    fmt = float(bool(FORMAT.match(response)) and response.count("<think>") == 1 and response.count("<answer>") == 1)
    gold = label if label.startswith("$") else f"${label}$"
    gold_parsed = parse(gold, extraction_mode="first_match", extraction_config=[LatexExtractionConfig()])
    if not gold_parsed:
        return 0.5 * fmt + 1.0
    norm = NormalizationConfig(nits=False, malformed_operators=False, basic_latex=True, equations=True, boxed=True, units=True)
    pred = parse(
        response,
        extraction_config=[LatexExtractionConfig(normalization_config=norm, boxed_match_priority=0, try_extract_without_anchor=False)],
        extraction_mode="first_match",
    )
    try:
        acc = float(verify(pred, gold_parsed))
    except Exception:
        acc = 1.0
    return 0.5 * fmt + acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=5001)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    a = ap.parse_args()
    pool = ProcessPoolExecutor(max_workers=a.workers)
    app = Flask(__name__)

    @app.post("/get_reward")
    def get_reward():
        body = request.get_json()
        rewards = list(pool.map(score, zip(body["query"], body["labels"]), chunksize=8))
        return jsonify({"rewards": rewards, "scores": rewards})

    @app.get("/health")
    def health():
        return jsonify({"status": "ok"})

    WSGIRequestHandler.protocol_version = "HTTP/1.1"  # keep-alive, as the Rust server
    app.run(host="127.0.0.1", port=a.port, threaded=True)


if __name__ == "__main__":
    main()
