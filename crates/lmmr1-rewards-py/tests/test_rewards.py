"""The Python package against the fixtures Math-Verify and LMM-R1's verifier produced, from many
threads and processes, and on inputs that hang Math-Verify.

Run: ``pip install crates/lmmr1-rewards-py pytest && pytest crates/lmmr1-rewards-py/tests``.
"""

import concurrent.futures as cf
import doctest
import json
import pathlib
import threading
import time

import pytest

import lmmr1_rewards as rw
import lmmr1_rewards.adapters as adapters

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "lmmr1-rewards" / "tests" / "fixtures"

# The cases where the Rust checker departs from Math-Verify on purpose (the list the Rust
# fixture test keeps, `crates/lmmr1-rewards/tests/math_verify_fixture.rs`).
KNOWN = {432, 1334, 1335, 1337, 1360, 1361, 1362}


def rows(name):
    with open(FIXTURES / name) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def math_rows():
    return [r for r in rows("math_verify.jsonl") if not r.get("timeout")]


def test_verify_agrees_with_math_verify_except_the_listed_cases(math_rows):
    differ = {r["id"] for r in math_rows if rw.verify(r["gold"], r["pred"]) != r["verdict"]}
    assert differ == KNOWN, sorted(differ ^ KNOWN)
    agreement = 1 - len(differ) / len(math_rows)
    print(f"agreement with Math-Verify 0.9.0: {agreement:.4%} of {len(math_rows)}")
    assert agreement >= 0.997


def test_the_batch_api_gives_the_single_calls_verdicts(math_rows):
    golds = [r["gold"] for r in math_rows]
    preds = [r["pred"] for r in math_rows]
    single = [rw.verify(g, p) for g, p in zip(golds, preds)]
    assert rw.verify_batch(golds, preds) == single
    assert rw.verify_batch(golds, preds, 3) == single


def test_math_reward_is_lmm_r1s_on_its_fixture():
    cases = rows("lmm_r1_reward.jsonl")
    assert len(cases) >= 400
    whole = 0
    for r in cases:
        # The format rule sees the raw response; the reward cleans end markers first, so the
        # whole reward is compared on the rows that cleaning leaves as they are.
        assert rw.format_r1(r["response"]) == (r["format"] == 0.5), r["id"]
        if rw.response_from_query(r["response"]) != r["response"]:
            continue
        whole += 1
        s = rw.math_reward(r["response"], r["gold"])
        assert (s["format"], s["accuracy"]) == (r["format"], r["accuracy"]), r["id"]
        assert s["total"] == s["format"] + s["accuracy"]
    assert whole > len(cases) // 2
    batch = rw.math_reward_batch([r["response"] for r in cases], [r["gold"] for r in cases])
    assert batch == [rw.math_reward(r["response"], r["gold"]) for r in cases]


def test_sokoban_reward_is_lmm_r1s_on_its_fixture():
    levels = {t["id"]: "\n".join(t["grid"]) for t in rows("sokoban_traces.jsonl")}
    cases = rows("sokoban_lmmr1_scores.jsonl")
    assert len(cases) >= 500
    for r in cases:
        s = rw.sokoban_reward(levels[r["trace"]], r["response"])
        assert s["format_ok"] == (r["format"] == 1.0)
        assert (s["total"], s["task_reward"]) == (r["total"], r["task"]), r
        assert (s["action_bonus"], s["thinking_bonus"]) == (r["action_bonus"], r["thinking_bonus"])
        assert (s["num_actions"], s["thinking_words"]) == (r["num_actions"], r["thinking_words"])


def test_sokoban_magebench_score_and_bad_levels():
    level = "######\n#@$ .#\n######"
    s = rw.sokoban_reward(level, "<think>push it</think><answer>right, right</answer>", magebench=True)
    assert s["format_ok"] and s["magebench_score"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="level_xsb"):
        rw.sokoban_reward("#####\n#@$ #\n#####", "x")


def test_eight_threads_score_as_one(math_rows):
    pairs = [(r["gold"], r["pred"]) for r in math_rows[:800]]
    expected = [rw.verify(g, p) for g, p in pairs]
    results = [None] * 8
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        results[i] = [rw.verify(g, p) for g, p in pairs]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results)


def _verify_chunk(pairs):
    import lmmr1_rewards

    return [lmmr1_rewards.verify(g, p) for g, p in pairs]


def test_a_process_pool_works(math_rows):
    pairs = [(r["gold"], r["pred"]) for r in math_rows[:400]]
    chunks = [pairs[i::4] for i in range(4)]
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        got = list(pool.map(_verify_chunk, chunks))
    assert got == [[rw.verify(g, p) for g, p in c] for c in chunks]


# Inputs that make Math-Verify (sympy) run for seconds or hang (Math-Verify issues #50, #65:
# towers of powers, huge factorials, deeply nested expressions).
HANGS = [
    ("$9^{9^{9^{9}}}$", "$9^{9^{9^{9}}} + 1$"),
    ("$2^{2^{2^{2^{2^{2}}}}}$", "$4^{4^{4^{4}}}$"),
    ("$(10^{10^{10}})!$", "$10^{10^{11}}$"),
    ("$" + "(" * 400 + "1" + ")" * 400 + "$", "$1$"),
    ("$" + "+".join(f"x^{{{i}}}" for i in range(3000)) + "$", "$x$"),
]


@pytest.mark.parametrize("gold,pred", HANGS)
def test_inputs_that_hang_math_verify_return_within_10_ms(gold, pred):
    rw.verify("$1$", "$1$")  # warm
    t = time.perf_counter()
    rw.verify(gold, pred)
    rw.parse(pred)
    assert time.perf_counter() - t < 0.010


def test_parse_follows_math_verify():
    assert rw.parse("The answer is $\\boxed{\\frac{3}{4}}$.") == ["(3/4)", "\\frac{3}{4}"]
    assert rw.parse("no answer here") == []


def test_settings_reach_the_checker():
    assert rw.verify("$0.333333$", "$\\frac{1}{3}$")
    assert not rw.verify("$0.3333$", "$\\frac{1}{3}$", float_rounding=6)
    assert rw.verify("$0.3333$", "$\\frac{1}{3}$", float_rounding=4)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="golds has 2 items but preds has 1"):
        rw.verify_batch(["1", "2"], ["1"])
    with pytest.raises(ValueError, match="num_threads"):
        rw.verify_batch(["1"], ["1"], 0)


def test_adapters_score_like_lmm_r1():
    good = "<think>so</think><answer>$\\boxed{2}$</answer>"
    assert adapters.verl_compute_score("math", good, "2") == 1.5
    assert adapters.verl_compute_score("math", "2", "2", format_weight=0.0) == 0.0  # no anchor
    assert adapters.trl_reward([good, "<answer>$3$</answer>"], ground_truth=["2", "2"]) == [1.5, 0.0]
    chat = [[{"role": "assistant", "content": [{"type": "text", "text": good}]}]]
    assert adapters.trl_reward(chat, ground_truth=["2"]) == [1.5]
    out = adapters.easyr1_compute_score([{"response": good, "ground_truth": "2", "response_length": 9}])
    assert out == [{"overall": 1.5, "format": 1.0, "accuracy": 1.0}]
    prompt = "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
    res = adapters.reward_func([prompt + good + "<|im_end|>"], [prompt], ["2"])
    assert [float(x) for x in res["rewards"]] == [1.5]
    assert [float(x) for x in res["extra_logs"]["format_rewards"]] == [0.5]


def test_the_documented_examples_run():
    for module in (rw, adapters):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__
