"""Drop-in reward functions for the RL stacks people already run.

Each scores with LMM-R1's math rule (0.5 for the exact ``<think>…</think><answer>…</answer>``
format plus 1.0 for a right answer, Math-Verify semantics) unless told ``format_weight=0``, and
is safe in Ray workers, thread pools and subprocesses: no signals, bounded time.

verl (``custom_reward_function.path=…/adapters.py``, ``custom_reward_function.name=verl_compute_score``)::

    >>> from lmmr1_rewards.adapters import verl_compute_score
    >>> verl_compute_score("math", "<think>.</think><answer>$\\\\boxed{2}$</answer>", "2")
    1.5

TRL (``GRPOTrainer(reward_funcs=[trl_reward])``; the dataset has a ``ground_truth`` column)::

    >>> from lmmr1_rewards.adapters import trl_reward
    >>> trl_reward(["<think>.</think><answer>$3$</answer>"], ground_truth=["3"])
    [1.5]
    >>> trl_reward([[{"role": "assistant", "content": "The answer is $3$."}]], ground_truth=["3"])
    [1.0]

EasyR1 (``worker.reward.reward_function=…/adapters.py:easyr1_compute_score``, batch mode)::

    >>> from lmmr1_rewards.adapters import easyr1_compute_score
    >>> easyr1_compute_score([{"response": "<think>.</think><answer>$2$</answer>", "ground_truth": "2"}])
    [{'overall': 1.5, 'format': 1.0, 'accuracy': 1.0}]

OpenRLHF / LMM-R1 (``--remote_rm_url …/adapters.py``; the file's ``reward_func`` is called)::

    >>> from lmmr1_rewards.adapters import reward_func
    >>> out = reward_func(["<|im_start|>assistant\\n<think>.</think><answer>$2$</answer><|im_end|>"], None, ["2"])
    >>> [float(r) for r in out["rewards"]], [float(a) for a in out["extra_logs"]["acc_rewards"]]
    ([1.5], [1.0])
"""

from typing import Any, Dict, List, Optional, Sequence, Union

from ._native import math_reward, math_reward_batch, response_from_query

Completion = Union[str, Sequence[Dict[str, Any]]]


def _text(completion: Completion) -> str:
    """A completion as text: a string, or the last message's content of a chat completion."""
    if isinstance(completion, str):
        return completion
    if not completion:
        return ""
    content = completion[-1].get("content", "")
    if isinstance(content, list):  # multimodal message parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _total(s: Dict[str, float], format_weight: float) -> float:
    """accuracy + format_weight · [format ok] (LMM-R1: format_weight = 0.5; ``s["format"]`` is
    0.5 or 0)."""
    return s["accuracy"] + 2.0 * format_weight * s["format"]


def verl_compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str,
    extra_info: Optional[Dict[str, Any]] = None,
    format_weight: float = 0.5,
) -> float:
    """verl's ``compute_score(data_source, solution_str, ground_truth, extra_info)``: LMM-R1's
    math reward of the decoded response."""
    return _total(math_reward(solution_str, str(ground_truth)), format_weight)


def trl_reward(
    completions: Sequence[Completion],
    ground_truth: Optional[Sequence[str]] = None,
    format_weight: float = 0.5,
    **kwargs: Any,
) -> List[float]:
    """TRL's ``reward_func(completions, ground_truth, **kwargs)``: plain-text completions or
    conversational ones (lists of messages); ``ground_truth`` is the dataset column."""
    if ground_truth is None:
        raise ValueError("trl_reward needs a `ground_truth` column in the dataset")
    texts = [_text(c) for c in completions]
    scores = math_reward_batch(texts, [str(g) for g in ground_truth])
    return [_total(s, format_weight) for s in scores]


def easyr1_compute_score(
    reward_inputs: Sequence[Dict[str, Any]], format_weight: float = 0.5
) -> List[Dict[str, float]]:
    """EasyR1's batch ``compute_score(reward_inputs)``: each input has ``response`` and
    ``ground_truth``; each output ``overall``, ``format`` (0 or 1) and ``accuracy``, with
    ``overall = accuracy + format_weight · format`` (LMM-R1's rule at 0.5; EasyR1's own math
    reward mixes them as ``(1 − w)·accuracy + w·format`` instead)."""
    responses = [str(x["response"]) for x in reward_inputs]
    golds = [str(x["ground_truth"]) for x in reward_inputs]
    out = []
    for s in math_reward_batch(responses, golds):
        fmt = 1.0 if s["format"] > 0 else 0.0
        out.append({"overall": s["accuracy"] + format_weight * fmt, "format": fmt, "accuracy": s["accuracy"]})
    return out


def reward_func(queries: Sequence[str], prompts: Optional[Sequence[str]], labels: Sequence[str], **kwargs: Any):
    """OpenRLHF's ``reward_func(queries, prompts, labels)`` (``--remote_rm_url`` a Python file):
    ``queries`` are prompt + response decoded with special tokens. Returns ``rewards``,
    ``scores`` and ``extra_logs`` (LMM-R1's ``format_rewards`` / ``acc_rewards``), as torch
    tensors when torch is installed, else lists."""
    responses = []
    for i, q in enumerate(queries):
        if prompts is not None and q.startswith(prompts[i]):
            q = q[len(prompts[i]):]
        responses.append(response_from_query(q))
    scores = math_reward_batch(responses, [str(g) for g in labels])
    rewards = [s["total"] for s in scores]
    logs = {
        "format_rewards": [s["format"] for s in scores],
        "acc_rewards": [s["accuracy"] for s in scores],
    }
    try:
        import torch  # noqa: PLC0415 (optional)

        def as_tensor(v):
            return torch.tensor(v, dtype=torch.float32)
    except ImportError:

        def as_tensor(v):
            return v

    return {
        "rewards": as_tensor(rewards),
        "scores": as_tensor(rewards),
        "extra_logs": {k: as_tensor(v) for k, v in logs.items()},
    }
