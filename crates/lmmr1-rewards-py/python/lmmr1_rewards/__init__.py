r"""Verifiable rewards for R1-style RL, in Rust.

A Math-Verify-compatible answer checker (``verify``, ``parse``) that is safe to call from any
thread or process (no signals, bounded time), LMM-R1's math and Sokoban rewards, batch versions
that release the GIL and score on all cores, and drop-in reward functions for verl, TRL,
EasyR1 and OpenRLHF (``lmmr1_rewards.adapters``).

>>> import lmmr1_rewards as rw
>>> rw.verify("$\\frac{1}{2}$", "The answer is $0.5$.")
True
>>> rw.math_reward("<think>2+2</think><answer>$\\boxed{4}$</answer>", "4")
{'format': 0.5, 'accuracy': 1.0, 'total': 1.5}
"""

from ._native import (
    MAX_INPUT_LEN,
    format_r1,
    math_reward,
    math_reward_batch,
    parse,
    response_from_query,
    sokoban_reward,
    verify,
    verify_batch,
)

__all__ = [
    "MAX_INPUT_LEN",
    "format_r1",
    "math_reward",
    "math_reward_batch",
    "parse",
    "response_from_query",
    "sokoban_reward",
    "verify",
    "verify_batch",
]
