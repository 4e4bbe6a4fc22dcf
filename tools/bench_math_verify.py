#!/usr/bin/env python3
"""Anchor throughput benchmark: Hugging Face Math-Verify (Python) vs the Rust `lmmr1-rewards` checker.

DEV-ONLY TOOL. Times, on every (gold, pred) row of the conformance fixture
crates/lmmr1-rewards/tests/fixtures/math_verify.jsonl:

  (a) Python: parse(gold) + parse(pred) + verify(gold, pred) with Math-Verify's
      defaults, single process, main thread (Math-Verify uses signal.alarm
      timeouts). Rows marked "timeout" in the fixture are skipped unless
      --include-timeouts (each would cost the 5 s alarm). One cold pass (fresh process, caches empty, first ANTLR use
      included) and then N-1 warm passes. Before every pass the functools
      lru_caches in math_verify.parser (regex builders, parse_latex_cached,
      parse_expr_cached, extract_latex) are cleared, so "warm" means warm
      interpreter/imports, not memoized answers. Within a pass, consecutive rows
      share the gold string, so the small per-string caches do hit inside a
      pass, exactly as they would in a real reward loop. Reports cases/s (cold,
      best warm) and median / p99 per-case latency in ms.
  (b) Rust: runs, from the repository root located relative to this script,
        cargo run --release -q -p lmmr1-rewards --example verify_throughput -- --fixture PATH
      which must print ONE JSON line on stdout such as
        {"cases": 2500, "seconds": 0.05, "cases_per_sec": 50000.0, "agreement": 0.99}
      (optional extra keys are kept). If the example is missing or fails, a
      clear message is printed and the Python numbers are still reported.
  (c) Prints a table and the ratio rust/python cases/s (cold and best warm).

Setup (venv outside the repo; see tools/README.md):
    python3 -m venv /work/venvs/mv
    /work/venvs/mv/bin/pip install math-verify==0.9.0

Run (from anywhere):
    /work/venvs/mv/bin/python tools/bench_math_verify.py [--fixture PATH] [--passes 3] [--json OUT]
    # --skip-rust           only time Python
    # --rust-line JSON      use this line instead of running cargo (to test parsing)
    # --limit N             only the first N rows (quick check)

No network access at run time.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FIXTURE = REPO_ROOT / "crates/lmmr1-rewards/tests/fixtures/math_verify.jsonl"


def load_cases(path: Path, limit: int | None):
    cases = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            cases.append((r["gold"], r["pred"], r.get("verdict"), bool(r.get("timeout", False))))
    if limit:
        cases = cases[:limit]
    return cases


def clear_math_verify_caches() -> int:
    """Clear every functools.lru_cache found in math_verify.* and latex2sympy2_extended.* modules."""
    n = 0
    for name, mod in list(sys.modules.items()):
        if mod is None or not (name.startswith("math_verify") or name.startswith("latex2sympy2_extended")):
            continue
        for attr in list(vars(mod).values()):
            if callable(attr) and hasattr(attr, "cache_clear") and hasattr(attr, "cache_info"):
                attr.cache_clear()
                n += 1
    return n


def percentile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def python_pass(cases, parse, verify):
    lat = []
    agree = 0
    known = 0
    t0 = time.perf_counter()
    for gold, pred, verdict, _ in cases:
        s = time.perf_counter()
        v = verify(parse(gold), parse(pred))
        lat.append(time.perf_counter() - s)
        if verdict is not None:
            known += 1
            agree += int(bool(v) == bool(verdict))
    total = time.perf_counter() - t0
    lat.sort()
    return {
        "seconds": total,
        "cases_per_sec": len(cases) / total if total > 0 else float("inf"),
        "median_ms": statistics.median(lat) * 1e3 if lat else float("nan"),
        "p99_ms": percentile(lat, 0.99) * 1e3,
        "max_ms": lat[-1] * 1e3 if lat else float("nan"),
        "agreement_with_fixture": agree / known if known else None,
    }


def run_python(cases, passes: int):
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # silence timeout warnings
    t_imp = time.perf_counter()
    from math_verify import parse, verify  # noqa: E402

    import_s = time.perf_counter() - t_imp
    results = []
    for i in range(passes):
        cleared = clear_math_verify_caches()
        r = python_pass(cases, parse, verify)
        r["pass"] = i
        r["caches_cleared"] = cleared
        results.append(r)
        print(f"  python pass {i} ({'cold' if i == 0 else 'warm'}): {r['cases_per_sec']:.1f} cases/s, "
              f"median {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.1f} ms, agreement {r['agreement_with_fixture']}",
              file=sys.stderr, flush=True)
    cold = results[0]
    warm = max(results[1:], key=lambda r: r["cases_per_sec"]) if len(results) > 1 else None
    return {"import_seconds": import_s, "passes": results, "cold": cold, "warm_best": warm}


def parse_rust_line(stdout: str):
    """Return the dict from the last stdout line that parses as a JSON object with cases_per_sec."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(d, dict) and "cases_per_sec" in d:
            return d
    raise ValueError("no JSON line with 'cases_per_sec' found in the Rust example's stdout")


def run_rust(fixture: Path, timeout_s: int):
    cmd = ["cargo", "run", "--release", "-q", "-p", "lmmr1-rewards", "--example", "verify_throughput",
           "--", "--fixture", str(fixture)]
    example = REPO_ROOT / "crates/lmmr1-rewards/examples/verify_throughput.rs"
    if not example.exists():
        return None, (f"Rust example not found ({example.relative_to(REPO_ROOT)}); "
                      "skipping the Rust side. Expected command: " + " ".join(cmd))
    try:
        p = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        return None, "cargo not found on PATH; skipping the Rust side"
    except subprocess.TimeoutExpired:
        return None, f"Rust example timed out after {timeout_s}s"
    if p.returncode != 0:
        tail = (p.stderr or "").strip().splitlines()[-15:]
        return None, f"Rust example failed (exit {p.returncode}):\n    " + "\n    ".join(tail)
    try:
        return parse_rust_line(p.stdout), None
    except ValueError as e:
        return None, f"{e}; stdout was: {p.stdout[-500:]!r}"


def fmt(x, spec=".1f"):
    return "n/a" if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description="Math-Verify (Python) vs lmmr1-rewards (Rust) throughput anchor")
    ap.add_argument("--fixture", default=str(DEFAULT_FIXTURE))
    ap.add_argument("--passes", type=int, default=3, help="total Python passes: 1 cold + (passes-1) warm")
    ap.add_argument("--json", dest="json_out", default=None, help="write all numbers to this JSON file")
    ap.add_argument("--limit", type=int, default=None, help="only the first N fixture rows")
    ap.add_argument("--include-timeouts", action="store_true",
                    help="also time rows marked timeout in the fixture (each costs Math-Verify's 5 s alarm)")
    ap.add_argument("--skip-rust", action="store_true")
    ap.add_argument("--rust-line", default=None, help="use this JSON line as the Rust output (testing)")
    ap.add_argument("--rust-timeout", type=int, default=1800, help="seconds allowed for cargo build + run")
    args = ap.parse_args()

    fixture = Path(args.fixture).resolve()
    cases = load_cases(fixture, args.limit)
    n_timeout = sum(1 for c in cases if c[3])
    if not args.include_timeouts:
        cases = [c for c in cases if not c[3]]
    print(f"fixture: {fixture} ({len(cases)} cases timed in Python; {n_timeout} rows marked timeout "
          f"{'included' if args.include_timeouts else 'excluded'})", file=sys.stderr)
    if args.limit:
        print("note: --limit is set; the Rust side still runs on the whole fixture", file=sys.stderr)

    py = run_python(cases, max(1, args.passes))

    rust, rust_err = None, None
    if args.rust_line is not None:
        try:
            rust = parse_rust_line(args.rust_line)
        except ValueError as e:
            rust_err = str(e)
    elif not args.skip_rust:
        print("  building + running the Rust example (cargo --release) ...", file=sys.stderr, flush=True)
        rust, rust_err = run_rust(fixture, args.rust_timeout)
    else:
        rust_err = "skipped (--skip-rust)"

    cold = py["cold"]["cases_per_sec"]
    warm = py["warm_best"]["cases_per_sec"] if py["warm_best"] else None
    rcps = float(rust["cases_per_sec"]) if rust else None

    print()
    print(f"{'engine':<28}{'cases':>7}{'cases/s':>12}{'median ms':>11}{'p99 ms':>9}{'agreement':>11}")
    print(f"{'python math-verify (cold)':<28}{len(cases):>7}{cold:>12.1f}{py['cold']['median_ms']:>11.2f}"
          f"{py['cold']['p99_ms']:>9.1f}{fmt(py['cold']['agreement_with_fixture'], '.4f'):>11}")
    if py["warm_best"]:
        w = py["warm_best"]
        print(f"{'python math-verify (warm)':<28}{len(cases):>7}{warm:>12.1f}{w['median_ms']:>11.2f}"
              f"{w['p99_ms']:>9.1f}{fmt(w['agreement_with_fixture'], '.4f'):>11}")
    if rust:
        print(f"{'rust lmmr1-rewards':<28}{rust.get('cases', '?')!s:>7}{rcps:>12.1f}{'-':>11}{'-':>9}"
              f"{fmt(rust.get('agreement'), '.4f'):>11}")
        print(f"\nratio rust/python: cold {rcps / cold:.1f}x" + (f", warm {rcps / warm:.1f}x" if warm else ""))
    else:
        print(f"\nRust side: {rust_err}")

    if args.json_out:
        out = {
            "fixture": str(fixture),
            "cases": len(cases),
            "fixture_timeout_rows": n_timeout,
            "python": py,
            "rust": rust,
            "rust_error": rust_err,
            "ratio_cold": rcps / cold if rcps else None,
            "ratio_warm": rcps / warm if (rcps and warm) else None,
            "env": {"python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine()},
        }
        try:
            from importlib.metadata import version

            out["env"].update({p: version(p) for p in ("math-verify", "latex2sympy2_extended", "antlr4-python3-runtime", "sympy")})
        except Exception:  # pragma: no cover
            pass
        Path(args.json_out).write_text(json.dumps(out, indent=2))
        print(f"wrote {args.json_out}", file=sys.stderr)


if __name__ == "__main__":
    main()
