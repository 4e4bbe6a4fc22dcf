#!/usr/bin/env python3
"""Kills a short training run with SIGKILL at random moments and checks that nothing is lost.

    python3 tools/kill_test.py target/release/examples/fre_text --kills 20 -- <the run's --set args>

1. An uninterrupted run gives the reference: final weights, metrics, duration.
2. Campaigns: the same command is run in a new directory and SIGKILLed, then rerun, until it
   completes. Half the kills land at a uniformly random moment of the run, half the moment a
   checkpoint write starts (a `.tmp-step-*` directory appears). Every rerun must succeed or be
   killed again; it must resume from the newest checkpoint on disk (or start over when there
   was none). A completed campaign must have every train step in `metrics.jsonl` once, the
   reference's evaluation steps once each, the reference's rewards, and final weights equal to
   the reference's byte for byte (CPU f32).
3. A checkpoint write that fails (`checkpoints/latest` replaced by a directory) ends the run
   with one line naming the failure, the previous checkpoint stays valid, and once the
   obstacle is gone the same command finishes the run.

Prints the numbers (kills, kills during checkpoint writes, resumes, fresh starts, steps redone)
and exits non-zero on the first violation.
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def metric_rows(out):
    rows = []
    path = os.path.join(out, "metrics.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                rows.append(json.loads(line))  # a partial line would be a bug: no try
    return rows


def steps_of(rows, phase):
    return [r["step"] for r in rows if r["phase"] == phase]


def newest_checkpoint(out):
    """The newest complete checkpoint step on disk (manifest present), or 0."""
    root = os.path.join(out, "checkpoints")
    best = 0
    if os.path.isdir(root):
        for name in os.listdir(root):
            m = re.fullmatch(r"step-0*(\d+)", name)
            if m and os.path.isfile(os.path.join(root, name, "checkpoint.json")):
                best = max(best, int(m.group(1)))
    return best


def writing_checkpoint(out):
    root = os.path.join(out, "checkpoints")
    try:
        return any(n.startswith(".tmp-step") for n in os.listdir(root))
    except FileNotFoundError:
        return False


def fail(msg):
    print(f"kill test FAILED: {msg}", flush=True)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])
    extra = argv[cut + 1 :]
    rng = random.Random(a.seed)
    os.environ["RUST_BACKTRACE"] = "0"  # the last line of an error is the message
    work = tempfile.mkdtemp(prefix="kill-test-")

    def command(out):
        return [a.binary, "--out", out, "--quiet"] + extra

    # 1. The reference.
    ref = os.path.join(work, "ref")
    t0 = time.time()
    r = subprocess.run(command(ref) + ["--fresh"], capture_output=True, text=True)
    duration = time.time() - t0
    if r.returncode != 0:
        fail(f"the reference run failed:\n{r.stderr}")
    ref_rows = metric_rows(ref)
    ref_train = steps_of(ref_rows, "train")
    ref_eval = steps_of(ref_rows, "eval")
    ref_weights = sha256(os.path.join(ref, "final", "model.safetensors"))
    ref_reward = {r["step"]: r["reward/mean"] for r in ref_rows if r["phase"] == "train"}
    steps = max(ref_train)
    print(f"reference: {steps} steps in {duration:.1f} s, eval at {ref_eval}", flush=True)

    # 2. Campaigns of kills.
    kills = at_checkpoint = resumes = fresh_starts = redone = campaigns = 0
    while kills < a.kills:
        campaigns += 1
        out = os.path.join(work, f"campaign-{campaigns}")
        while True:
            on_disk = newest_checkpoint(out)
            logged = max(steps_of(metric_rows(out), "train"), default=0) if os.path.isdir(out) else 0
            proc = subprocess.Popen(
                command(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            target_checkpoint = kills % 2 == 1
            deadline = time.time() + rng.uniform(0.0, 1.1 * duration)
            killed = False
            while proc.poll() is None:
                if (target_checkpoint and writing_checkpoint(out)) or (
                    not target_checkpoint and time.time() >= deadline
                ):
                    during = writing_checkpoint(out)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    killed = True
                    kills += 1
                    at_checkpoint += during
                    break
                time.sleep(0.001 if target_checkpoint else 0.005)
            stderr = proc.stderr.read()
            if "panicked" in stderr:
                fail(f"a panic:\n{stderr}")
            m = re.search(r"resuming from \S+ \(step (\d+)\)", stderr)
            if m:
                resumed = int(m.group(1))
                resumes += 1
                if resumed != on_disk:
                    fail(f"resumed from step {resumed}, but step {on_disk} was on disk:\n{stderr}")
                redone += max(0, logged - resumed)
            elif on_disk and not killed:
                fail(f"checkpoint step {on_disk} was on disk but the rerun did not resume:\n{stderr}")
            elif not on_disk:
                fresh_starts += 1
            if not killed:
                if proc.returncode != 0:
                    fail(f"a rerun failed (exit {proc.returncode}):\n{stderr}")
                break
        rows = metric_rows(out)
        if steps_of(rows, "train") != ref_train:
            fail(f"campaign {campaigns}: train steps {steps_of(rows, 'train')} != {ref_train}")
        if steps_of(rows, "eval") != ref_eval:
            fail(f"campaign {campaigns}: eval steps {steps_of(rows, 'eval')} != {ref_eval}")
        got = {r["step"]: r["reward/mean"] for r in rows if r["phase"] == "train"}
        if got != ref_reward:
            fail(f"campaign {campaigns}: rewards {got} != {ref_reward}")
        if sha256(os.path.join(out, "final", "model.safetensors")) != ref_weights:
            fail(f"campaign {campaigns}: final weights differ from the uninterrupted run's")
        shutil.rmtree(out)
    print(
        f"kills {kills} ({at_checkpoint} during a checkpoint write) over {campaigns} campaigns; "
        f"resumes {resumes}, fresh starts {fresh_starts}, steps redone {redone}; every campaign "
        f"ended with the reference's {steps} train steps once each and its final weights (bitwise)",
        flush=True,
    )

    # 3. A failing checkpoint write.
    out = os.path.join(work, "write-error")
    half = command(out) + ["--set", f"train.steps={steps // 2}"]
    if subprocess.run(half, capture_output=True).returncode != 0:
        fail("the first half of the write-error run failed")
    shutil.rmtree(os.path.join(out, "final"))
    os.remove(os.path.join(out, "summary.json"))
    latest = os.path.join(out, "checkpoints", "latest")
    os.remove(latest)
    os.makedirs(os.path.join(latest, "in-the-way"))
    r = subprocess.run(command(out), capture_output=True, text=True)
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    if r.returncode == 0 or "panicked" in r.stderr:
        fail(f"an unwritable checkpoint did not end the run cleanly:\n{r.stderr}")
    if "writing its checkpoint failed" not in last or "latest" not in last:
        fail(f"the last line does not say the checkpoint write failed: {last}")
    if any(os.path.exists(os.path.join(out, f)) for f in ("final", "summary.json")):
        fail("a failed run left final weights or a summary behind")
    kept = newest_checkpoint(out)
    shutil.rmtree(latest)
    r = subprocess.run(command(out), capture_output=True, text=True)
    if r.returncode != 0 or f"(step {kept})" not in r.stderr:
        fail(f"after a failed write the rerun did not resume from step {kept}:\n{r.stderr}")
    if steps_of(metric_rows(out), "train") != ref_train:
        fail("after a failed write the train steps are not each logged once")
    print(f"write error: {last}", flush=True)
    print(f"write error: the rerun resumed from step {kept} and finished", flush=True)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
