from typing import Optional, Sequence, TypedDict

MAX_INPUT_LEN: int

class MathScore(TypedDict):
    format: float
    accuracy: float
    total: float

class SokobanScore(TypedDict, total=False):
    total: float
    format_ok: bool
    task_reward: float
    action_bonus: float
    thinking_bonus: float
    num_actions: int
    thinking_words: int
    optimal_reward: float
    magebench_score: float

def verify(
    gold: str,
    pred: str,
    *,
    float_rounding: int = 6,
    strict: bool = True,
    allow_set_relation_comp: bool = False,
) -> bool:
    """Whether ``pred`` states the same answer as ``gold`` (Math-Verify's
    ``verify(parse(gold), parse(pred))``, gold first)."""

def parse(text: str) -> list[str]:
    """The answer extracted from ``text``: ``[value, matched text]``, ``[matched text]`` when it
    does not parse, ``[]`` when nothing is found."""

def math_reward(response: str, gold: str) -> MathScore:
    """LMM-R1's math reward: 0.5 for the exact ``<think>…</think><answer>…</answer>`` format
    plus 1.0 for a right answer."""

def format_r1(response: str) -> bool:
    """Whether ``response`` has LMM-R1's exact format."""

def response_from_query(query: str) -> str:
    """The response part of a decoded prompt + response, end-of-turn markers removed."""

def verify_batch(
    golds: Sequence[str],
    preds: Sequence[str],
    num_threads: Optional[int] = None,
    *,
    float_rounding: int = 6,
    strict: bool = True,
    allow_set_relation_comp: bool = False,
) -> list[bool]:
    """``verify`` over pairs on ``num_threads`` threads (all cores by default), GIL released."""

def math_reward_batch(
    responses: Sequence[str], golds: Sequence[str], num_threads: Optional[int] = None
) -> list[MathScore]:
    """``math_reward`` over pairs on ``num_threads`` threads (all cores by default)."""

def sokoban_reward(level_xsb: str, response: str, *, magebench: bool = False) -> SokobanScore:
    """LMM-R1's Sokoban reward on an XSB level; with ``magebench=True`` also MageBench's score.
    Raises ``ValueError`` for a malformed level."""
