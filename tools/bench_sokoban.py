#!/usr/bin/env python3
"""Sokoban throughput, gym-sokoban vs lmmr1-rewards, measured in the same run.

Work measured on both sides:
* env steps/s: uniformly random gym actions 0-8 on a Sokoban-small-v0 level, no rendering,
  restoring the level when an episode is done (gym's reset would generate a new level);
* levels/s: level generation (gym's `reset`, our `Generator::next_level`) for
  Sokoban-small-v0 (7x7, 2 boxes) and Sokoban-v0 (10x10, 3 boxes).

Exact commands, from the repository root (the venv lives outside the repository):

    python3 -m venv /work/venvs/soko && /work/venvs/soko/bin/pip install gym-sokoban==0.0.6
    /work/venvs/soko/bin/python tools/bench_sokoban.py [--gym-steps 200000] [--gym-small 100] [--gym-v0 10]

It builds and runs `cargo run --release -p lmmr1-rewards --example sokoban_throughput`, which
prints one JSON line, and prints one JSON line with both sides and the ratios (target >= 100x).
Single process, one core each; run it on an otherwise idle machine.
"""

import argparse
import json
import random
import subprocess
import sys
import time

import numpy as np
from gym_sokoban.envs.sokoban_env import SokobanEnv


def make(dim, boxes, max_steps=200):
    env = SokobanEnv(dim_room=dim, num_boxes=boxes, max_steps=max_steps, reset=False)
    env.render = lambda *a, **k: None  # "no rendering", as in the 66,080 steps/s anchor
    return env


def gym_steps_per_s(n):
    random.seed(0)
    np.random.seed(0)
    env = make((7, 7), 2)
    env.reset()
    fixed, state, player = env.room_fixed.copy(), env.room_state.copy(), env.player_position.copy()
    actions = np.random.randint(0, 9, size=n).tolist()
    t = time.perf_counter()
    for a in actions:
        _, _, done, _ = env.step(a)
        if done:  # restore the level instead of generating a new one
            env.room_fixed, env.room_state = fixed.copy(), state.copy()
            env.player_position = player.copy()
            env.num_env_steps, env.reward_last, env.boxes_on_target = 0, 0, 0
    return n / (time.perf_counter() - t)


def gym_levels_per_s(dim, boxes, n):
    random.seed(1)
    np.random.seed(1)
    env = make(dim, boxes)
    t = time.perf_counter()
    for _ in range(n):
        env.reset()
    return n / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gym-steps", type=int, default=200_000)
    ap.add_argument("--gym-small", type=int, default=100)
    ap.add_argument("--gym-v0", type=int, default=10)
    ap.add_argument("--rust-args", default="20000000 2000 200", help="steps, small levels, v0 levels")
    args = ap.parse_args()

    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):  # gym prints a line per retried room
        gym = {
            "steps_per_s": gym_steps_per_s(args.gym_steps),
            "gen_small_v0_per_s": gym_levels_per_s((7, 7), 2, args.gym_small),
            "gen_v0_per_s": gym_levels_per_s((10, 10), 3, args.gym_v0),
        }
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "lmmr1-rewards", "--example", "sokoban_throughput", "--"]
    out = subprocess.run(cmd + args.rust_args.split(), check=True, capture_output=True, text=True).stdout
    rust = json.loads(out.strip().splitlines()[-1])
    ratios = {k: rust[k] / gym[k] for k in gym}
    print(json.dumps({
        "gym": {k: round(v, 2) for k, v in gym.items()},
        "rust": {k: rust[k] for k in gym},
        "ratio": {k: round(v, 1) for k, v in ratios.items()},
        "target_100x_met": all(v >= 100 for v in ratios.values()),
    }))


if __name__ == "__main__":
    sys.exit(main())
