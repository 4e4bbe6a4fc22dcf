#!/usr/bin/env python3
"""Record gym-sokoban replay traces and LMM-R1 Sokoban scores as Rust test fixtures.

Writes two JSONL files, one record a line, that `crates/lmmr1-rewards/tests/sokoban_gym.rs`
replays step by step:

* `crates/lmmr1-rewards/tests/fixtures/sokoban_traces.jsonl`: seeded gym-sokoban 0.0.6 episodes
  (generated rooms; random, push-only, move-only, solver and noisy-solver policies; short
  max_steps with actions continuing past done) with gym's per-step reward, done and info flags.
* `crates/lmmr1-rewards/tests/fixtures/sokoban_reverse_play.jsonl`: gym's reverse play
  (`room_utils.reverse_playing`, the deterministic part of level generation) on seeded rooms:
  the solved input room, gym's best room and its score.
* `crates/lmmr1-rewards/tests/fixtures/sokoban_lmmr1_scores.jsonl`: responses scored by a
  faithful transcription of LMM-R1's `openrlhf/models/remote_rm/sokoban_verifier.py`
  (`verify_format`, `check_repeated_substrings`, `verify_sokoban`, `DirectLoadSokobanEnv`),
  run on the real gym-sokoban env.

Exact commands (the venv lives outside the repository):

    python3 -m venv /work/venvs/soko
    /work/venvs/soko/bin/pip install gym-sokoban==0.0.6   # pulls gym 0.26.2, numpy
    /work/venvs/soko/bin/python tools/sokoban_traces.py   # from the repository root, ~2 min

Output is deterministic: Python's `random` and numpy's global RNG are seeded per trace.

Compact trace record: `grid` (XSB rows of the start), `state`/`fixed` (gym's room_state and
room_fixed, one digit per cell, rows joined by '/'), `actions` (one gym id 0-8 per char),
`rewards` (gym's float64 rewards), `done` (one 0/1 per step), `moved` (per step
moved_player + 2*moved_box), `player` (per step row*cols+col after the step), `final` (XSB rows
after the last step).
"""

import json
import os
import random
import re
import sys
from collections import deque

import numpy as np
from gym_sokoban.envs import room_utils
from gym_sokoban.envs.sokoban_env import SokobanEnv

OUT_DIR = os.path.join("crates", "lmmr1-rewards", "tests", "fixtures")
VARIANTS = {
    # name: (dim, num_boxes, max_steps, num_gen_steps) as in gym_sokoban/envs/sokoban_env_variations.py
    "small-v0": ((7, 7), 2, 200, None),
    "small-v1": ((7, 7), 3, 200, None),
    "v0": ((10, 10), 3, 200, None),
}
DELTAS = [(-1, 0), (1, 0), (0, -1), (0, 1)]


def make_env(variant, max_steps=None):
    dim, boxes, default_max, gen_steps = VARIANTS[variant]
    env = SokobanEnv(dim_room=dim, max_steps=max_steps or default_max, num_boxes=boxes,
                     num_gen_steps=gen_steps, reset=False)
    env.render = lambda *a, **k: None  # the observation is not part of the trace
    return env


def seeded_reset(env, seed):
    random.seed(seed)
    np.random.seed(seed)
    env.reset()


def xsb(fixed, state):
    rows = []
    for r in range(state.shape[0]):
        row = ""
        for c in range(state.shape[1]):
            s, f = int(state[r, c]), int(fixed[r, c])
            row += {0: "#", 1: " ", 2: ".", 3: "*", 4: "$"}.get(s) or ("+" if f == 2 else "@")
        rows.append(row.rstrip(" "))
    return rows


def digits(a):
    return "/".join("".join(str(int(v)) for v in row) for row in a)


def bfs_solve(fixed, state, limit=200000):
    """Shortest sequence of push actions (1-4) that solves the room, or None."""
    walls = fixed == 0
    targets = {tuple(p) for p in np.argwhere(fixed == 2)}
    start = (tuple(np.argwhere(state == 5)[0]), frozenset(tuple(p) for p in np.argwhere((state == 3) | (state == 4))))
    prev = {start: None}
    queue = deque([start])
    while queue and len(prev) < limit:
        cur = queue.popleft()
        (pr, pc), boxes = cur
        if boxes <= targets:
            plan = []
            while prev[cur] is not None:
                cur, a = prev[cur]
                plan.append(a)
            return plan[::-1]
        for a, (dr, dc) in enumerate(DELTAS, start=1):
            n = (pr + dr, pc + dc)
            if walls[n]:
                continue
            nb = boxes
            if n in boxes:
                b = (n[0] + dr, n[1] + dc)
                if walls[b] or b in boxes:
                    continue
                nb = (boxes - {n}) | {b}
            nxt = (n, nb)
            if nxt not in prev:
                prev[nxt] = (cur, a)
                queue.append(nxt)
    return None


def record_trace(tid, seed, variant, policy, max_steps=None):
    env = make_env(variant, max_steps)
    seeded_reset(env, seed)
    rng = random.Random(10_000 + seed)  # the policy's own RNG, independent of generation
    fixed, state = env.room_fixed.copy(), env.room_state.copy()
    n = rng.randint(20, 40)
    if policy == "uniform9":
        actions = [rng.randrange(9) for _ in range(n)]
    elif policy == "push_only":
        actions = [rng.randint(1, 4) for _ in range(n)]
    elif policy == "move_only":
        actions = [rng.randint(5, 8) for _ in range(n)]
    elif policy in ("solver", "solver_then_more", "noisy_solver"):
        plan = bfs_solve(fixed, state)
        if plan is None:
            return None
        if policy == "solver_then_more":
            plan = plan + [rng.randrange(9) for _ in range(5)]
        if policy == "noisy_solver":
            noisy = []
            for a in plan:
                if rng.random() < 0.25:
                    noisy.append(rng.randrange(9))
                noisy.append(a)
            plan = noisy
        actions = plan
    elif policy == "short_max_steps":
        actions = [rng.randrange(9) for _ in range(env.max_steps + 8)]
    else:
        raise ValueError(policy)

    rec = {"id": tid, "seed": seed, "variant": variant, "policy": policy, "max_steps": env.max_steps,
           "num_boxes": env.num_boxes, "grid": xsb(fixed, state), "state": digits(state), "fixed": digits(fixed),
           "actions": "".join(map(str, actions)), "rewards": [], "done": "", "moved": "", "player": []}
    cols = state.shape[1]
    for a in actions:
        _, reward, done, info = env.step(a)
        rec["rewards"].append(float(reward))
        rec["done"] += "1" if done else "0"
        rec["moved"] += str(int(info["action.moved_player"]) + 2 * int(info["action.moved_box"]))
        rec["player"].append(int(env.player_position[0]) * cols + int(env.player_position[1]))
    rec["final"] = xsb(env.room_fixed, env.room_state)
    return rec


# --- LMM-R1 sokoban_verifier.py, transcribed (TideDra/lmm-r1, openrlhf/models/remote_rm) -----------

class DirectLoadSokobanEnv(SokobanEnv):
    def __init__(self, preloaded_room):
        super().__init__(preloaded_room.shape, max_steps=120, num_boxes=np.sum(preloaded_room == 4), reset=False)
        self.penalty_for_step = -0.1
        self.room_fixed = preloaded_room
        self.render = lambda *a, **k: None
        self.reset()

    def reset(self):
        self.num_env_steps = 0
        self.reward_last = 0
        self.boxes_on_target = 0
        self.room_state = np.copy(self.room_fixed)
        self.player_position = np.argwhere(self.room_fixed == 5)[0]
        for p in np.argwhere(self.room_fixed == 4):
            self.room_fixed[tuple(p)] = 1
        self.room_fixed[tuple(self.player_position)] = 1
        self.num_env_steps = 0


def verify_format(content):
    think_count = content.count("<think>")
    answer_count = content.count("<answer>")
    end_think_count = content.count("</think>")
    end_answer_count = content.count("</answer>")
    all_actions = False
    try:
        acts = [act.strip().lower() for act in content.split("<answer>")[1].split("</answer>")[0].split(",")]
        all_actions = all([act in ["left", "right", "up", "down"] for act in acts])
    except Exception:
        pass
    return [end_think_count == 1, end_answer_count == 1, think_count == 1, answer_count == 1, all_actions]


def check_repeated_substrings(text, n, max_k):
    words = re.findall(r"\b\w[\w']*\b", text.lower())
    result = {k: False for k in range(1, max_k + 1)}
    k_data = {k: {} for k in range(1, max_k + 1)}
    for i in range(len(words)):
        for k in range(1, max_k + 1):
            if i >= k - 1:
                s = i - k + 1
                kgram = tuple(words[s:s + k])
                if kgram in k_data[k]:
                    last_start, current_count = k_data[k][kgram]
                    new_count = current_count + 1 if last_start == s - k else 1
                else:
                    new_count = 1
                k_data[k][kgram] = (s, new_count)
                if new_count > n:
                    result[k] = True
    return any(result.values())


ACT_TO_INT = {"up": 1, "down": 2, "left": 3, "right": 4}


def get_response(q):
    for e in ["<|im_end|>", "<｜end▁of▁sentence｜>", "<|endoftext|>"]:
        q = q.replace(e, "")
    return q.strip()


def lmmr1_score(room_state, response):
    output = get_response(response)
    fm = verify_format(output)
    if not all(fm):
        return {"total": 0.0, "format": 0.0, "task": 0.0, "action_bonus": 0.0, "thinking_bonus": 0.0,
                "num_actions": 0, "thinking_words": 0}
    env = DirectLoadSokobanEnv(np.array(room_state, copy=True))
    reward = 0.0
    best_reward = 0.0
    action_length_encourage = 0.0
    thinking_length_encorage = 0.0
    acts_text = output.split("<answer>")[1].split("</answer>")[0].strip()
    acts = [act.strip().lower() for act in acts_text.split(",")]
    if len(acts) < 20:
        action_length_encourage += len(acts) * 0.05
    else:
        action_length_encourage += 20 * 0.05 - ((len(acts) - 20) / 30) ** 2 * 0.2
    analyze = output.split("<think>")[1].split("</think>")[0].strip()
    ntk = list(filter(lambda x: len(x) > 1, analyze.split(" ")))
    if len(ntk) < 200:
        thinking_length_encorage += len(ntk) * 0.001
    else:
        thinking_length_encorage += 200 * 0.001
    if check_repeated_substrings(acts_text, 7, 5):
        action_length_encourage = min(0, action_length_encourage - 0.2)
    for act in acts[:50]:
        _, sreward, done, _ = env.step(ACT_TO_INT[act])
        reward += sreward
        if reward > best_reward:
            best_reward = reward
        if done or sreward > 3:
            break
    total = best_reward + 1.0 * 0.5 + action_length_encourage + thinking_length_encorage
    return {"total": float(total), "format": 1.0, "task": float(best_reward),
            "action_bonus": float(action_length_encourage), "thinking_bonus": float(thinking_length_encorage),
            "num_actions": len(acts), "thinking_words": len(ntk)}


NAMES = ["Up", "Down", "Left", "Right"]
WORDS = "the box is left of the target so I push it right then go up and around to reach it".split()


def responses_for(rng, plan, long_think):
    """A mix of well-formed, malformed, repetitive and long answers for one level."""
    def think(nwords, sep=" "):
        return sep.join(rng.choice(WORDS) for _ in range(nwords))

    def answer(acts, sep=", ", style=lambda s: s):
        return sep.join(style(NAMES[a - 1]) for a in acts)

    rand_acts = lambda n: [rng.randint(1, 4) for _ in range(n)]
    plan = plan or rand_acts(6)
    out = [
        f"<think>{think(6)}</think><answer>{answer(plan)}</answer>",
        f"<think>{think(4)}</think><answer>{answer(plan + rand_acts(3), ',', str.lower)}</answer><|im_end|>",
        f"<think>{think(5)}</think>\n<answer> {answer(plan, ' ,  ', str.upper)} </answer>",
        f"<think>{think(rng.randint(190, 260) if long_think else rng.randint(0, 12), rng.choice([' ', '  ', chr(10), ' a ']))}</think><answer>{answer(rand_acts(rng.randint(1, 100)))}</answer>",
        f"<think>x</think><answer>{answer(rand_acts(rng.randint(15, 60)), ',')}</answer>",
        f"<think>{think(3)}</think><answer>{answer([3] * rng.randint(6, 10))}</answer>",
        f"<think>{think(3)}</think><answer>{answer([1, 2] * rng.randint(6, 10))}</answer>",
        f"<think>{think(3)}</think><answer>{answer([1, 4, 2] * 9 + rand_acts(3))}</answer>",
        f"<think>{think(3)}</think><answer>{answer(plan)}, Jump</answer>",
        f"<think>{think(3)}</think><answer>{answer(plan)},</answer>",
        f"<think>{think(3)}</think><answer></answer>",
        f"<think>{think(3)}<answer>{answer(plan)}</answer>",
        f"<think>a</think><think>b</think><answer>{answer(plan)}</answer>",
        f"{think(3)}<think>{think(4)}</think>tail<answer>{answer(plan)}</answer>more",
        f"<answer>{answer(plan)}</answer><think>{think(4)}</think>",
        f"<think>\u3000{think(9)}\u00a0x\u2003yy </think><answer>\tleft\u00a0,\u2009RIGHT,uP\u3000, dOwN</answer>",
    ]
    return out


def record_reverse_play(seed, variant):
    dim, boxes, _, gen_steps = VARIANTS[variant]
    random.seed(seed)
    np.random.seed(seed)
    while True:  # gym's reset retries rooms that cannot hold the boxes
        room = room_utils.room_topology_generation(dim, 0.35, gen_steps or int(1.7 * (dim[0] + dim[1])))
        try:
            room = room_utils.place_boxes_and_player(room, num_boxes=boxes, second_player=False)
            break
        except RuntimeError:
            continue
    structure = np.copy(room)
    structure[structure == 5] = 1
    state = room.copy()
    state[state == 2] = 4
    solved = state.copy()
    solved[(solved == 4)] = 3  # XSB/gym code for a box on its target
    best, score, _ = room_utils.reverse_playing(state, structure)
    best = best.copy()
    best[best == 3] = 4
    return {"seed": seed, "variant": variant, "solved": xsb(structure, solved), "score": int(score),
            "best": xsb(structure, best)}


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    plays = [record_reverse_play(s, "small-v0") for s in range(40)]
    plays += [record_reverse_play(s, "small-v1") for s in range(40, 70)]
    plays += [record_reverse_play(s, "v0") for s in range(70, 76)]
    with open(os.path.join(OUT_DIR, "sokoban_reverse_play.jsonl"), "w") as f:
        for rec in plays:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
    print(f"{len(plays)} reverse plays", file=sys.stderr)
    plan_policies = [
        ("small-v0", "uniform9", 30), ("small-v1", "uniform9", 30), ("small-v0", "push_only", 20),
        ("small-v1", "move_only", 20), ("small-v0", "solver", 20), ("small-v1", "solver", 20),
        ("small-v0", "noisy_solver", 20), ("small-v1", "solver_then_more", 10),
        ("small-v0", "short_max_steps", 20), ("v0", "uniform9", 10),
    ]
    traces = []
    seed = 0
    for variant, policy, count in plan_policies:
        made = 0
        while made < count:
            max_steps = random.Random(seed).randint(5, 25) if policy == "short_max_steps" else None
            rec = record_trace(len(traces), seed, variant, policy, max_steps)
            seed += 1
            if rec is not None:
                traces.append(rec)
                made += 1
        print(f"{variant} {policy}: {count} traces", file=sys.stderr)
    with open(os.path.join(OUT_DIR, "sokoban_traces.jsonl"), "w") as f:
        for rec in traces:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
    steps = sum(len(t["actions"]) for t in traces)
    wins = sum(1 for t in traces if any(r > 3 for r in t["rewards"]))
    print(f"{len(traces)} traces, {steps} steps, {wins} winning", file=sys.stderr)

    scores = []
    for i, t in enumerate(traces[:32]):
        state = np.array([[int(ch) for ch in row] for row in t["state"].split("/")])
        fixed = np.array([[int(ch) for ch in row] for row in t["fixed"].split("/")])
        rng = random.Random(20_000 + i)
        plan = bfs_solve(fixed, state) if i % 2 == 0 else None
        for resp in responses_for(rng, plan, long_think=i % 8 == 0):
            scores.append({"trace": t["id"], "response": resp, **lmmr1_score(state, resp)})
    with open(os.path.join(OUT_DIR, "sokoban_lmmr1_scores.jsonl"), "w") as f:
        for rec in scores:
            f.write(json.dumps(rec, separators=(",", ":"), ensure_ascii=False) + "\n")
    print(f"{len(scores)} scored responses", file=sys.stderr)


if __name__ == "__main__":
    main()
