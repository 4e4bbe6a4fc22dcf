#!/usr/bin/env python3
"""Dev-only: transformers' teacher-forced log-probs and entropies on the committed fixtures, for the
training log-prob parity test of lmmr1-model (`tests/policy.rs`).

Reads (never rewrites) the committed tiny checkpoints and the inputs stored in reference.safetensors
(written by tools/qwen25vl_fixtures.py) and writes tests/fixtures/logprobs.safetensors with, per case,
  <case>.logp      (B, T-1) f32  log_softmax(logits)[:, t, input_ids[:, t+1]]   (entry t is about token t+1)
  <case>.entropy   (B, T-1) f32  -sum_v p_v log p_v of the distribution at position t
computed as the RL trainers do: `logits.float().log_softmax(-1).gather(-1, targets)`.

    /work/venvs/torch/bin/python tools/qwen25vl_logprobs_fixture.py
"""
import argparse, os, sys
import torch
from safetensors.torch import load_file, save_file
from transformers import Qwen2_5_VLForConditionalGeneration

CASES = {  # case -> checkpoint
    "text": "tiny", "text_leftpad": "tiny", "tied_text": "tiny_tied",
    "image": "tiny", "image_multi": "tiny", "image_batch": "tiny", "video": "tiny",
}


def load(path):
    m = Qwen2_5_VLForConditionalGeneration.from_pretrained(path, attn_implementation="eager").eval().float()
    return m


@torch.no_grad()
def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default=os.path.join(here, "..", "crates", "lmmr1-model", "tests", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    ref = load_file(os.path.join(args.fixtures, "reference.safetensors"))
    models = {name: load(os.path.join(args.fixtures, name)) for name in set(CASES.values())}
    out = {}
    for case, ckpt in CASES.items():
        kw = dict(input_ids=ref[f"{case}.input_ids"], attention_mask=ref[f"{case}.attention_mask"],
                  position_ids=ref[f"{case}.position_ids"])
        for k in ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw", "second_per_grid_ts"):
            if f"{case}.{k}" in ref:
                kw[k] = ref[f"{case}.{k}"]
        logits = models[ckpt](**kw).logits.float()
        # Same model and inputs as the committed reference logits: check they are reproduced.
        real = kw["attention_mask"].bool()
        drift = (logits - ref[f"{case}.logits"])[real].abs().max().item()
        assert drift < 1e-5, f"{case}: logits differ from reference.safetensors by {drift}"
        lsm = logits[:, :-1].log_softmax(-1)
        targets = kw["input_ids"][:, 1:]
        out[f"{case}.logp"] = lsm.gather(-1, targets[..., None]).squeeze(-1).contiguous()
        out[f"{case}.entropy"] = -(lsm.exp() * lsm).sum(-1).contiguous()
    path = os.path.join(args.fixtures, "logprobs.safetensors")
    save_file(out, path, metadata={"torch": torch.__version__,
                                   "transformers": __import__("transformers").__version__})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
