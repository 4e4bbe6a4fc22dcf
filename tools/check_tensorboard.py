#!/usr/bin/env python3
"""Reads a run's TensorBoard event files with TensorBoard itself and checks them against the
run's metrics.jsonl: every finite metric of every row is a scalar of the same tag at the same
step with the same value (as f32), and the resolved config is a text summary at the first step.

    python tools/check_tensorboard.py OUT        # OUT: a run's output directory (holds tb/)

Needs `pip install tensorboard` (2.x). Exits non-zero on the first mismatch.
"""

import json
import math
import struct
import sys
from pathlib import Path

from tensorboard.backend.event_processing import event_accumulator


def main(out: Path) -> None:
    acc = event_accumulator.EventAccumulator(
        str(out / "tb"), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0}
    )
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: {e.step: e.value for e in acc.Scalars(t)} for t in tags["scalars"]}
    checked = 0
    for line in (out / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        step = row["step"]
        for key, value in row.items():
            if key in ("step", "phase") or value is None or not math.isfinite(value):
                continue
            f32 = struct.unpack("f", struct.pack("f", value))[0]
            got = scalars.get(key, {}).get(step)
            assert got is not None, f"{key} at step {step}: missing from the event files"
            assert got == f32, f"{key} at step {step}: {got} in TensorBoard, {f32} in metrics.jsonl"
            checked += 1
    assert "config" in tags["tensors"], f"no config text summary: {tags}"
    text = acc.Tensors("config")[0].tensor_proto.string_val[0].decode()
    assert "[algorithm]" in text, text[:200]
    print(f"tensorboard {out}: {checked} scalars over {len(scalars)} tags match metrics.jsonl; config text present")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
