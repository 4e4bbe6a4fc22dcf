#!/usr/bin/env python3
"""Build data/sokoban/microban.sok from Debian's cavepacker-data (Microban I and II, with solutions).

Each of cavepacker's `microban0N_XXXX.sok` boards is written with `Title`, `Author` and
`Solution` (its `.sol` file, a run-length LURD string) lines. Exact commands, from the
repository root:

    cd /tmp && apt-get download cavepacker-data && dpkg -x cavepacker-data_*_all.deb cavepacker
    python3 tools/sokoban_microban.py /tmp/cavepacker/usr/share/games/cavepacker/maps

The Rust test `crates/lmmr1-rewards/tests/sokoban_levels.rs` replays every solution.
"""

import os
import sys


def main(maps):
    names = sorted(f[:-4] for f in os.listdir(maps) if f.startswith("microban") and f.endswith(".sok"))
    out = ["; Microban I (155 levels) and Microban II (135 levels) by David W. Skinner.",
           "; Taken from Debian's cavepacker-data 2.5.2-1 (via KSokoban); see NOTICE.", ""]
    for name in names:
        with open(os.path.join(maps, name + ".sok")) as f:
            rows = [line.rstrip("\n").rstrip() for line in f if line.strip() and not line.startswith(";")]
        with open(os.path.join(maps, name + ".sol")) as f:
            solution = "".join(f.read().split())
        out += rows + [f"Title: {name}", "Author: David W. Skinner", f"Solution: {solution}", ""]
    path = os.path.join("data", "sokoban", "microban.sok")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out))
    print(f"{len(names)} levels -> {path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
