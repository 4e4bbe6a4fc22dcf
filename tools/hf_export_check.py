#!/usr/bin/env python3
"""Dev-only (not run in CI): checks that a directory written by lmmr1_model::save_hf loads in
transformers (`Qwen2_5_VLForConditionalGeneration.from_pretrained`) and gives the logits our
model gives on the same export.

    /work/venvs/torch/bin/python tools/hf_export_check.py [--steps 2]

For each committed fixture model (tiny, tiny_tied): the Rust example `export_hf` trains it for
--steps AdamW steps and exports it (f32 and bf16); the example `logits` computes our logits from
the f32 export on a text batch (with left padding) and an image batch; transformers loads both
exports and computes its logits on the same inputs (positions from its get_rope_index). Prints the
max |difference| over real positions.
"""
import argparse, json, os, subprocess, sys, tempfile
import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import Qwen2_5_VLForConditionalGeneration

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIX = os.path.join(ROOT, "crates/lmmr1-model/tests/fixtures")
IMG, VSTART, VEND, PAD = 1000, 1002, 1003, 1005


def cargo_example(name, *args):
    cmd = ["cargo", "run", "-q", "-p", "lmmr1-model", "--example", name, "--", *args]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-3000:]}")
    return out.stderr


def cases():
    g = torch.Generator().manual_seed(0)
    text = torch.randint(0, 1000, (3, 14), generator=g)
    tmask = torch.ones_like(text)
    tmask[1, :4] = 0
    tmask[2, :9] = 0
    text = text.masked_fill(tmask == 0, PAD)
    # Image rows: grids 1x8x12 (24 merged tokens) and 1x4x4 (4), second row left-padded.
    rows, grids = [], [[1, 8, 12], [1, 4, 4]]
    for n, lead in [(24, 0), (4, 20)]:
        body = [5, 17, VSTART] + [IMG] * n + [VEND] + torch.randint(0, 1000, (6,), generator=g).tolist()
        rows.append([PAD] * lead + body)
    width = max(map(len, rows))
    rows = [[PAD] * (width - len(r)) + r for r in rows]
    ids = torch.tensor(rows)
    mask = (ids != PAD).long()
    npatch = sum(t * h * w for t, h, w in grids)
    pv = torch.randn(npatch, 1176, generator=g)
    return {"text": dict(input_ids=text, attention_mask=tmask),
            "image": dict(input_ids=ids, attention_mask=mask, pixel_values=pv,
                          image_grid_thw=torch.tensor(grids))}


def hf_logits(model, inp):
    ids, mask = inp["input_ids"], inp["attention_mask"]
    if "pixel_values" in inp:
        mm = (ids == IMG).int()
        pos, _ = model.model.get_rope_index(ids, mm_token_type_ids=mm, image_grid_thw=inp["image_grid_thw"],
                                            attention_mask=mask)
        kw = dict(pixel_values=inp["pixel_values"], image_grid_thw=inp["image_grid_thw"])
    else:
        pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)[None].expand(3, -1, -1)
        kw = {}
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, position_ids=pos, **kw).logits.float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(2)
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ["tiny", "tiny_tied"]:
            exp = {dt: os.path.join(tmp, f"{name}-{dt}") for dt in ["f32", "bf16"]}
            for dt, d in exp.items():
                cargo_example("export_hf", "--src", os.path.join(FIX, name), "--out", d,
                              "--steps", str(a.steps), "--dtype", dt)
            ref = Qwen2_5_VLForConditionalGeneration.from_pretrained(os.path.join(FIX, name), dtype=torch.float32)
            for dt, d in exp.items():
                hf = Qwen2_5_VLForConditionalGeneration.from_pretrained(d, dtype=torch.float32,
                                                                        attn_implementation="eager").eval()
                for case, inp in cases().items():
                    inpf = os.path.join(tmp, f"{case}.in.safetensors")
                    outf = os.path.join(tmp, f"{name}-{dt}-{case}.out.safetensors")
                    save_file({k: v.contiguous() for k, v in inp.items()}, inpf)
                    cargo_example("logits", "--model", d, "--inputs", inpf, "--out", outf)
                    ours = load_file(outf)["logits"]
                    theirs = hf_logits(hf, inp)
                    m = inp["attention_mask"].bool()
                    diff = (ours - theirs).abs()[m].max().item()
                    moved = (hf_logits(ref, inp) - theirs).abs()[m].max().item()
                    report.append(dict(model=name, export_dtype=dt, case=case, max_abs_diff=diff,
                                       max_logit=theirs[m].abs().max().item(), diff_vs_untrained=moved))
                    print(f"{name:>9} {dt:>4} {case:>5}: max |ours - transformers| = {diff:.3g} "
                          f"(max |logit| {report[-1]['max_logit']:.3g}; training moved logits by {moved:.3g})",
                          flush=True)
    print(json.dumps(report))
    worst = max(r["max_abs_diff"] for r in report)
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    main()
