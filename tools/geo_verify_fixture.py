#!/usr/bin/env python3
"""Score geometry answer pairs with Math-Verify for the Rust geometry checker's parity test.

DEV-ONLY TOOL. The Rust tests never run it; they read the JSON file it writes (committed).

Output: crates/lmmr1-rewards/tests/fixtures/geo_math_verify.json
    {"generator", "math_verify", "latex2sympy2_extended", "sympy", "cases": [
        {"id", "pred", "gold", "choices", "math_verify", "differs"}, ...]}

* `math_verify` is Math-Verify's verdict the way LMM-R1 and R1-V use it on geometry: the gold is
  wrapped as `$gold$` (Geometry3K / GeoQA golds carry no delimiters), both sides go through
  `parse` with its defaults, and `verify(parse(gold), parse(pred))` with its defaults.
* `differs` is null where Math-Verify's semantics are the intended ones: the Rust checker
  (`lmmr1_rewards::geometry::geo_equivalent`, or `geo_choice_equivalent` when `choices` is not
  null) must give the same verdict. Otherwise it is a hand-written reason why the Rust checker
  deliberately gives the opposite verdict (degree signs, `√`, decimal tolerance, choice letters
  and values); the Rust test asserts that the verdicts do differ there. These reasons are the
  policy of `shared/docs/rewards-anchors.md` §4, not Math-Verify output.

Pairs are hand-written in Geometry3K (spaced LaTeX) and GeoQA (`40°`, `2√{3}cm`) style.

Run (from the repository root; about 5 s):
    /work/venvs/mv/bin/python tools/geo_verify_fixture.py
The output is deterministic.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import logging
from pathlib import Path

from math_verify import parse, verify

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "crates/lmmr1-rewards/tests/fixtures/geo_math_verify.json"

DEGREE = "Unicode degree sign in a prediction: dropped (Math-Verify fails on `\\boxed{120°}`)"
RADICAL = "Unicode radical: `√x` / `√{x}` read as `\\sqrt{x}` (Math-Verify reads `4√3` as 4)"
APPROX = "exact gold: a decimal counts only when exactly equal (Math-Verify rounds to 6 decimals)"
TOLERANCE = "decimal gold with d decimals: |pred - gold| <= 0.5*10^-d"
LETTER = "bare or labelled choice letter (Math-Verify extracts no bare letter)"
CHOICE_VALUE = "multiple choice: the gold choice's value answers the letter"
UNIT = "unit words dropped (`米`, `厘米`)"
GEO3K = ["2 \\sqrt { 221 }", "\\frac { 40 } { 3 }", "12 \\pi", "374.1"]
GEOQA = ["60°", "70°", "80°", "90°"]

# (pred, gold, choices or None, reason for a deliberate difference or None)
CASES = [
    # Geometry3K spaced LaTeX golds.
    ("\\boxed{2\\sqrt{221}}", "2 \\sqrt { 221 }", None, None),
    ("$2\\sqrt{221}$", "2 \\sqrt { 221 }", None, None),
    ("\\boxed{\\sqrt{884}}", "2 \\sqrt { 221 }", None, None),
    ("\\boxed{2\\sqrt{222}}", "2 \\sqrt { 221 }", None, None),
    ("\\boxed{29.73}", "2 \\sqrt { 221 }", None, None),
    ("\\boxed{29.732137}", "2 \\sqrt { 221 }", None, APPROX),
    ("\\boxed{\\frac{40}{3}}", "\\frac { 40 } { 3 }", None, None),
    ("\\boxed{\\dfrac{80}{6}}", "\\frac { 40 } { 3 }", None, None),
    ("\\boxed{\\frac{3}{40}}", "\\frac { 40 } { 3 }", None, None),
    ("\\boxed{13.33}", "\\frac { 40 } { 3 }", None, None),
    ("\\boxed{13.333333}", "\\frac { 40 } { 3 }", None, APPROX),
    ("\\boxed{12\\pi}", "12 \\pi", None, None),
    ("$12 \\pi$", "12 \\pi", None, None),
    ("\\boxed{6\\pi}", "12 \\pi", None, None),
    ("\\boxed{37.7}", "12 \\pi", None, None),
    ("\\boxed{37.699112}", "12 \\pi", None, APPROX),
    ("\\boxed{374.1}", "374.1", None, None),
    ("\\boxed{374.12}", "374.1", None, TOLERANCE),
    ("\\boxed{374.2}", "374.1", None, None),
    ("\\boxed{374}", "374.1", None, None),
    ("\\boxed{12\\pi}", "37.7", None, TOLERANCE),
    ("\\boxed{\\frac{7}{2}}", "3.5", None, None),
    ("\\boxed{108.5}", "108.5", None, None),
    ("\\boxed{0.5}", "\\frac { 1 } { 2 }", None, None),
    ("\\boxed{120.0}", "120", None, None),
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac { \\sqrt { 3 } } { 2 }", None, None),
    ("\\boxed{\\frac{1}{\\sqrt{3}}}", "\\frac { \\sqrt { 3 } } { 3 }", None, None),
    ("\\boxed{25\\sqrt{3}}", "25 \\sqrt { 3 }", None, None),
    ("\\boxed{-3}", "3", None, None),
    # Degrees.
    ("\\boxed{120^\\circ}", "120", None, None),
    ("\\boxed{120^{\\circ}}", "120", None, None),
    ("$120^\\circ$", "120", None, None),
    ("120 degrees", "120", None, None),
    ("29 degrees", "29", None, None),
    ("\\boxed{121^\\circ}", "121", None, None),
    ("\\boxed{121^\\circ}", "120", None, None),
    ("\\boxed{120°}", "120", None, DEGREE),
    ("$120°$", "120", None, None),
    ("\\boxed{40}", "40°", None, None),
    ("\\boxed{40°}", "40", None, DEGREE),
    ("\\boxed{40°}", "40°", None, None),
    ("\\boxed{50°}", "40°", None, None),
    ("\\boxed{40^\\circ}", "40^\\circ", None, None),
    ("\\boxed{40}", "40^\\circ", None, None),
    ("$\\angle ABC = 40^\\circ$", "40", None, None),
    ("The answer is $24$.", "24", None, None),
    # Radicals and units.
    ("\\boxed{4\\sqrt{3}}", "4 \\sqrt { 3 }", None, None),
    ("\\boxed{\\sqrt{48}}", "4 \\sqrt { 3 }", None, None),
    ("$4√3$", "4\\sqrt{3}", None, RADICAL),
    ("\\boxed{2√{3}}", "2\\sqrt{3}", None, RADICAL),
    ("\\boxed{2\\sqrt{3}}", "2√{3}cm", None, RADICAL),
    ("\\boxed{3\\sqrt{2}}", "2√{3}cm", None, None),
    ("\\boxed{2\\sqrt{3}}", "2\\sqrt{3}", None, None),
    ("\\boxed{3\\sqrt{2}}", "2\\sqrt{3}", None, None),
    ("\\boxed{12\\text{ cm}}", "12", None, None),
    ("\\boxed{16\\text{ cm}^2}", "16", None, None),
    ("\\boxed{16 \\text{ square units}}", "16", None, None),
    ("\\boxed{16 square units}", "16", None, None),
    ("\\boxed{5米}", "5", None, UNIT),
    ("\\boxed{2√{3}cm}", "2√{3}cm", None, None),
    # Choice letters.
    ("\\boxed{(B)}", "B", None, None),
    ("\\boxed{B}", "B", None, None),
    ("$B$", "B", None, None),
    ("\\boxed{C}", "B", None, None),
    ("B", "B", None, LETTER),
    ("(B)", "B", None, LETTER),
    ("B: 70", "B", None, LETTER),
    ("\\boxed{B}", "B", GEOQA, None),
    ("\\boxed{C}", "B", GEOQA, None),
    ("\\boxed{70^\\circ}", "B", GEOQA, CHOICE_VALUE),
    ("\\boxed{80^\\circ}", "B", GEOQA, None),
    ("\\boxed{\\frac{80}{6}}", "B", GEO3K, CHOICE_VALUE),
    ("\\boxed{29.73}", "A", GEO3K, None),
    ("\\boxed{A}", "A", GEO3K, None),
    ("\\boxed{D}", "A", GEO3K, None),
]


def main() -> None:
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    cases = []
    for i, (pred, gold, choices, reason) in enumerate(CASES):
        verdict = bool(verify(parse(f"${gold}$"), parse(pred)))
        cases.append(
            {
                "id": i,
                "pred": pred,
                "gold": gold,
                "choices": choices,
                "math_verify": verdict,
                "differs": reason,
            }
        )
    doc = {
        "generator": "tools/geo_verify_fixture.py",
        "math_verify": md.version("math-verify"),
        "latex2sympy2_extended": md.version("latex2sympy2_extended"),
        "sympy": md.version("sympy"),
        "cases": cases,
    }
    lines = ",\n".join("    " + json.dumps(c, ensure_ascii=False) for c in cases)
    head = json.dumps({k: v for k, v in doc.items() if k != "cases"}, ensure_ascii=False)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(head[:-1] + ', "cases": [\n' + lines + "\n]}\n", encoding="utf-8")
    n_diff = sum(c["differs"] is not None for c in cases)
    print(f"wrote {OUT.relative_to(REPO_ROOT)}: {len(cases)} cases, {n_diff} deliberate differences")


if __name__ == "__main__":
    main()
