#!/usr/bin/env python3
"""Record gym-sokoban's rendering as per-tile mean colours, a Rust parity fixture.

Writes `crates/lmmr1-tasks/tests/fixtures/sokoban_render.json`, which
`crates/lmmr1-tasks/tests/sokoban_tasks.rs` compares with `lmmr1_tasks::sokoban::render`:

* `levels[]`: a few boards (gym-generated Sokoban-small-v0 rooms, some stepped with random push
  actions so boxes land on targets, and hand-made rooms with the player on a target), each with
  `grid` (XSB rows as read from gym's `room_fixed`/`room_state`) and `tile_means` (for every cell,
  row-major, the mean R, G, B of its 16x16 block in `env.render(mode='rgb_array')`, rounded to
  0.01).
* `sprite_means`: the mean colour of each gym surface id (wall, floor, box_target,
  box_on_target, box, player, player_on_target), measured from the rendered frames.

gym-sokoban draws a player standing on a target with its own sprite (`player_on_target.png`,
surface id 6): `room_to_rgb(room_state, room_fixed)` maps `room_state == 5` with
`room_fixed == 2` to it.

Exact commands (the venv lives outside the repository; see tools/sokoban_traces.py):

    /work/venvs/soko/bin/python tools/sokoban_render_fixture.py   # from the repository root

Output is deterministic: Python's `random` and numpy's global RNG are seeded.
"""

import json
import os
import random
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
from gym_sokoban.envs.sokoban_env import SokobanEnv  # noqa: E402

OUT = "crates/lmmr1-tasks/tests/fixtures/sokoban_render.json"
NAMES = ["wall", "floor", "box_target", "box_on_target", "box", "player", "player_on_target"]


def grid_of(fixed, state):
    rows = []
    for r in range(fixed.shape[0]):
        row = ""
        for c in range(fixed.shape[1]):
            f, s = int(fixed[r, c]), int(state[r, c])
            if f == 0:
                row += "#"
            elif s in (3, 4):
                row += "*" if f == 2 else "$"
            elif s == 5:
                row += "+" if f == 2 else "@"
            else:
                row += "." if f == 2 else " "
        rows.append(row)
    return rows


def surface_ids(fixed, state):
    ids = np.array(state, dtype=np.int64)
    ids[(state == 5) & (fixed == 2)] = 6
    return ids


def record(env, sums, counts):
    img = env.render(mode="rgb_array").astype(np.float64)
    fixed, state = env.room_fixed, env.room_state
    h, w = fixed.shape
    assert img.shape == (h * 16, w * 16, 3), img.shape
    ids = surface_ids(fixed, state)
    means = []
    for r in range(h):
        for c in range(w):
            m = img[r * 16:(r + 1) * 16, c * 16:(c + 1) * 16].reshape(-1, 3).mean(axis=0)
            means.append([round(float(x), 2) for x in m])
            sums[ids[r, c]] += m
            counts[ids[r, c]] += 1
    return {"grid": grid_of(fixed, state), "tile_means": means}


def main():
    sums = np.zeros((7, 3))
    counts = np.zeros(7)
    levels = []
    # gym-generated rooms, stepped with random push actions until a box sits on a target.
    for seed in range(4):
        random.seed(seed)
        np.random.seed(seed)
        env = SokobanEnv(dim_room=(7, 7), max_steps=200, num_boxes=2)
        levels.append(record(env, sums, counts))
        for _ in range(400):
            env.step(random.randint(1, 4))
            if (env.room_state == 3).any():
                break
        levels.append(record(env, sums, counts))
    # Hand-made rooms (as many boxes as targets): the player on a target, a box on a target,
    # an empty target.
    for rows in (
        ["######", "#+$  #", "# *.$#", "######"],
        ["#######", "#. $  #", "#  * +#", "#$.  $#", "#######"],
    ):
        width = max(len(r) for r in rows)
        rows = [r.ljust(width) for r in rows]
        fixed = np.array([[0 if ch == "#" else 2 if ch in ".*+" else 1 for ch in r] for r in rows],
                         dtype=np.uint8)
        state = np.array([[{"#": 0, " ": 1, ".": 2, "*": 3, "$": 4, "@": 5, "+": 5}[ch]
                           for ch in r] for r in rows], dtype=np.uint8)
        env = SokobanEnv(dim_room=fixed.shape, num_boxes=int((state == 3).sum() + (state == 4).sum()),
                         reset=False)
        env.room_fixed, env.room_state = fixed, state
        levels.append(record(env, sums, counts))
    assert (counts > 0).all(), counts
    sprite_means = {NAMES[i]: [round(float(x), 2) for x in sums[i] / counts[i]] for i in range(7)}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"source": "gym-sokoban 0.0.6 SokobanEnv.render(mode='rgb_array')",
                   "tile_px": 16, "sprite_means": sprite_means, "levels": levels}, f)
        f.write("\n")
    print(OUT, len(levels), "levels", sprite_means)


if __name__ == "__main__":
    main()
