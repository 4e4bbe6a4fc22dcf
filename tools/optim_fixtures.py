#!/usr/bin/env python3
"""Dev-only: reference numbers for lmmr1-model's optimizer code (tests/optim.rs), from PyTorch and
transformers.

    /work/venvs/torch/bin/python tools/optim_fixtures.py     # -> crates/lmmr1-model/tests/fixtures/optim.safetensors

Keys:
  adamw.cfg                 f64 [lr0, beta1, beta2, eps, weight_decay]
  adamw.lrs                 f64 [steps]: the learning rate of each step (set on the param group)
  adamw.p{i}.init           f32: the parameters before step 1
  adamw.p{i}.grad{s}        f32: the gradient of step s (absent: no gradient that step; torch skips it)
  adamw.p{i}.after{s}       f32: torch.optim.AdamW's parameters after step s
  adamw.p{i}.exp_avg / .exp_avg_sq / .step   state after the last step
  clip.g{i}                 f32 gradients; clip.max_norms f64; clip.norm f64 (total norm, clip_grad_norm_'s return)
  clip.m{k}.g{i}            f32: gradients after clip_grad_norm_(max_norm = max_norms[k])
  sched.{name}.lrs          f64: lr of the optimizer step after k scheduler steps, k = 0..len-1
  sched.{name}.cfg          f64 [peak_lr, warmup, total, min_lr_ratio]   (min_lr_ratio -1 = constant)
"""
import argparse, os
import torch
import transformers
from safetensors.torch import save_file
from transformers import get_constant_schedule_with_warmup, get_scheduler

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "crates/lmmr1-model/tests/fixtures/optim.safetensors")


def adamw(out):
    g = torch.Generator().manual_seed(0)
    shapes = [(3, 4), (5,), (2, 3)]
    params = [torch.nn.Parameter(torch.randn(s, generator=g)) for s in shapes]
    lr0, betas, eps, wd = 1e-2, (0.9, 0.95), 1e-8, 0.1
    lrs = [1e-2, 5e-3, 2e-2, 1e-3, 1.5e-2, 7e-3]
    out["adamw.cfg"] = torch.tensor([lr0, *betas, eps, wd], dtype=torch.float64)
    out["adamw.lrs"] = torch.tensor(lrs, dtype=torch.float64)
    for i, p in enumerate(params):
        out[f"adamw.p{i}.init"] = p.detach().clone()
    opt = torch.optim.AdamW(params, lr=lr0, betas=betas, eps=eps, weight_decay=wd)
    for s, lr in enumerate(lrs):
        opt.param_groups[0]["lr"] = lr
        for i, p in enumerate(params):
            # Parameter 2 gets no gradient at step 2: torch leaves it (and its step count) alone.
            if i == 2 and s == 2:
                p.grad = None
                continue
            p.grad = torch.randn(p.shape, generator=g) * (0.5 + i)
            out[f"adamw.p{i}.grad{s}"] = p.grad.clone()
        opt.step()
        for i, p in enumerate(params):
            out[f"adamw.p{i}.after{s}"] = p.detach().clone()
    for i, p in enumerate(params):
        st = opt.state[p]
        out[f"adamw.p{i}.exp_avg"] = st["exp_avg"].clone()
        out[f"adamw.p{i}.exp_avg_sq"] = st["exp_avg_sq"].clone()
        out[f"adamw.p{i}.step"] = torch.tensor([float(st["step"])], dtype=torch.float64)


def clip(out):
    g = torch.Generator().manual_seed(1)
    grads = [torch.randn(s, generator=g) for s in [(4, 5), (7,), (3, 3, 2)]]
    for i, t in enumerate(grads):
        out[f"clip.g{i}"] = t.clone()
    max_norms = [1.0, 3.0, 1e3]
    out["clip.max_norms"] = torch.tensor(max_norms, dtype=torch.float64)
    for k, mn in enumerate(max_norms):
        ps = [torch.nn.Parameter(torch.zeros_like(t)) for t in grads]
        for p, t in zip(ps, grads):
            p.grad = t.clone()
        norm = torch.nn.utils.clip_grad_norm_(ps, mn)
        out["clip.norm"] = torch.tensor([float(norm)], dtype=torch.float64)
        for i, p in enumerate(ps):
            out[f"clip.m{k}.g{i}"] = p.grad.clone()


def sched(out):
    cases = {
        # OpenRLHF: get_scheduler("cosine_with_min_lr", ..., min_lr = 0.1 * lr)
        "cosine": (1e-3, 3, 20, 0.1, 25),
        "cosine_nowarmup": (2e-6, 0, 7, 0.1, 9),
        "cosine_zero_min": (5e-4, 2, 10, 0.0, 12),
        "constant": (1e-3, 4, 10, -1.0, 8),
        "constant_nowarmup": (3e-4, 0, 10, -1.0, 3),
    }
    for name, (lr, warm, total, ratio, n) in cases.items():
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=lr)
        if ratio < 0:
            sch = get_constant_schedule_with_warmup(opt, num_warmup_steps=warm)
        else:
            sch = get_scheduler("cosine_with_min_lr", opt, num_warmup_steps=warm, num_training_steps=total,
                                scheduler_specific_kwargs={"min_lr": lr * ratio})
        lrs = []
        for _ in range(n):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sch.step()
        out[f"sched.{name}.lrs"] = torch.tensor(lrs, dtype=torch.float64)
        out[f"sched.{name}.cfg"] = torch.tensor([lr, warm, total, ratio], dtype=torch.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=OUT)
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = {}
    adamw(out)
    clip(out)
    sched(out)
    save_file({k: v.contiguous() for k, v in out.items()}, a.out,
              metadata={"torch": torch.__version__, "transformers": transformers.__version__})
    print(f"wrote {len(out)} tensors to {a.out}")


if __name__ == "__main__":
    main()
