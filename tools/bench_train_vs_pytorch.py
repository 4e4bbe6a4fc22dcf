#!/usr/bin/env python3
"""Dev-only: training-step throughput (forward + backward + AdamW) of lmmr1-model (candle) and
PyTorch/transformers on the same Qwen2.5-VL text configs and batch shapes, in one run, with the
ratios and the share of the matmul ceiling.

    cargo build --release -p lmmr1-model --example bench_train
    /work/venvs/torch/bin/python tools/bench_train_vs_pytorch.py [--presets tiny,100m] [--shapes 4x128,8x256]

Both sides: f32, CPU, random weights, every weight trainable, `--threads` threads (default 2);
inputs = random ids below 1000, no padding; step = loss −mean(log p(next token)) over all
B·(T−1) targets, backward, AdamW (betas 0.9/0.95, eps 1e-8, no weight decay; vision weights get
no gradient from text and are skipped by both optimizers). transformers uses its default (sdpa)
attention and torch.optim.AdamW's default (for-each) implementation. Each measurement runs in its
own process: the best of --reps timings of --steps consecutive steps after one warm-up step.

Ceiling: a training step costs about 6·N·tokens FLOP (N = text parameters, embeddings excluded
as they are a lookup, plus lm_head); the script prints achieved GFLOP/s = 6·N·tok/s against the
nominal 160 GFLOP/s (candle's default gemm on this machine kind, shared/docs/perf-anchors.md) and
against the matmul ceilings it measures in the same run (torch.mm and candle's matmul via the
`matmul_ceiling` mode of the example, 2048³ f32).
"""
import argparse, json, os, resource, subprocess, sys, time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PRESETS = {
    # name: vocab, hidden, ffn, layers, heads, kv heads, mrope_section, tied  (= lmmr1_model::config::preset)
    "tiny": (1024, 64, 128, 2, 4, 2, [2, 3, 3], False),
    "100m": (32000, 768, 2048, 12, 12, 2, [8, 12, 12], True),
}


def matmul_flop_params(preset):
    """Parameters that take part in matmuls per token: decoder layers + lm_head (tied or not)."""
    v, h, i, l, nh, nkv, _, _ = PRESETS[preset]
    hd = h // nh
    per_layer = h * nh * hd + 2 * h * nkv * hd + nh * hd * h + 3 * h * i
    return l * per_layer + v * h


def hf_worker(preset, batch, seq, steps, reps, threads):
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    torch.set_num_threads(threads)
    v, h, i, l, nh, nkv, ms, tied = PRESETS[preset]
    cfg = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=v, hidden_size=h, intermediate_size=i, num_hidden_layers=l,
                         num_attention_heads=nh, num_key_value_heads=nkv, rms_norm_eps=1e-6,
                         rope_parameters={"rope_type": "default", "mrope_section": ms, "rope_theta": 1e6}),
        vision_config=dict(depth=2, hidden_size=32, num_heads=2, intermediate_size=64, out_hidden_size=h,
                           window_size=56, fullatt_block_indexes=[1]),
        image_token_id=1000, video_token_id=1001, vision_start_token_id=1002, vision_end_token_id=1003,
        tie_word_embeddings=tied)
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(cfg).float().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)

    def step(ids):
        t0 = time.perf_counter()
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        lp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        loss = -lp.mean()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        return loss.item(), (t1 - t0, t2 - t1, t3 - t2)

    step(torch.randint(0, 1000, (batch, seq), generator=g))
    best, split = float("inf"), (0, 0, 0)
    for _ in range(max(1, reps)):
        batches = [torch.randint(0, 1000, (batch, seq), generator=g) for _ in range(max(1, steps))]
        t = time.perf_counter()
        acc = [0.0, 0.0, 0.0]
        for ids in batches:
            loss, s = step(ids)
            acc = [x + y for x, y in zip(acc, s)]
        el = time.perf_counter() - t
        if el < best:
            best, split = el, acc
    n = max(1, steps)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"impl": "torch", "preset": preset, "batch": batch, "seq_len": seq, "steps": steps,
                      "step_s": best / n, "fwd_s": split[0] / n, "bwd_s": split[1] / n, "optim_s": split[2] / n,
                      "tok_s": batch * seq * n / best, "loss": loss, "peak_rss_mb": rss,
                      "params": sum(p.numel() for p in model.parameters())}))


def torch_mm_ceiling(threads, n=2048, reps=5):
    import torch
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"gflops": 2 * n ** 3 / best / 1e9}))


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="tiny,100m")
    ap.add_argument("--shapes", default="4x128,8x256")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    ap.add_argument("--nominal-gflops", type=float, default=160.0)
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--mm-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.mm_worker:
        return torch_mm_ceiling(a.threads)
    if a.worker:
        p, b, s, st, r = a.worker
        return hf_worker(p, int(b), int(s), int(st), int(r), a.threads)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    exe = os.path.join(target, "release", "examples", "bench_train")
    if not os.path.exists(exe):
        sys.exit(f"{exe} missing; build first: cargo build --release -p lmmr1-model --example bench_train")
    env = dict(os.environ, CANDLE_BARRIER_POOL_SPIN_LIMIT=os.environ.get("CANDLE_BARRIER_POOL_SPIN_LIMIT", "0"),
               RAYON_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads))
    # glibc malloc tunables for the candle process (candle-notes §3): no mmap/munmap churn.
    candle_env = dict(env, GLIBC_TUNABLES=os.environ.get(
        "GLIBC_TUNABLES",
        "glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=17179869184:glibc.malloc.top_pad=268435456"))
    me = os.path.abspath(__file__)
    ceil_torch = run([sys.executable, me, "--mm-worker", "--threads", str(a.threads)], env)["gflops"]
    ceil_candle = run([exe, "--matmul-ceiling"], candle_env)["gflops"]
    print(f"matmul ceiling 2048^3 f32, {a.threads} threads: torch {ceil_torch:.0f} GFLOP/s, "
          f"candle {ceil_candle:.0f} GFLOP/s, nominal {a.nominal_gflops:.0f}", flush=True)
    hdr = (f"{'preset':>6} {'shape':>6} | {'tok/s candle':>12} {'torch':>8} {'ratio':>6} | "
           f"{'step s candle (fwd/bwd/opt)':>30} | {'torch (fwd/bwd/opt)':>26} | "
           f"{'GFLOP/s c/t':>11} | {'% nominal c/t':>13} | {'% own mm ceiling c/t':>20} | {'RSS MB c/t':>11}")
    print(hdr)
    rows = []
    for preset in a.presets.split(","):
        nflop = matmul_flop_params(preset)
        for shape in a.shapes.split(","):
            b, s = map(int, shape.split("x"))
            c = run([exe, "--preset", preset, "--batch", str(b), "--seq-len", str(s), "--steps", str(a.steps),
                     "--reps", str(a.reps)], candle_env)
            t = run([sys.executable, me, "--threads", str(a.threads), "--worker", preset, str(b), str(s),
                     str(a.steps), str(a.reps)], env)
            gc, gt = 6 * nflop * c["tok_s"] / 1e9, 6 * nflop * t["tok_s"] / 1e9
            rows.append(dict(preset=preset, shape=shape, candle=c, torch=t, gflops_candle=gc, gflops_torch=gt,
                             ceil_candle=ceil_candle, ceil_torch=ceil_torch, flop_params=nflop))
            print(f"{preset:>6} {shape:>6} | {c['tok_s']:>12.0f} {t['tok_s']:>8.0f} {c['tok_s'] / t['tok_s']:>5.2f}x | "
                  f"{c['step_s']:>8.3f} ({c['fwd_s']:.3f}/{c['bwd_s']:.3f}/{c['optim_s']:.3f}) | "
                  f"{t['step_s']:>6.3f} ({t['fwd_s']:.3f}/{t['bwd_s']:.3f}/{t['optim_s']:.3f}) | "
                  f"{gc:>5.0f}/{gt:<5.0f} | {100 * gc / a.nominal_gflops:>5.0f}/{100 * gt / a.nominal_gflops:<6.0f} | "
                  f"{100 * gc / ceil_candle:>9.0f}/{100 * gt / ceil_torch:<10.0f} | "
                  f"{c['peak_rss_mb']:>5.0f}/{t['peak_rss_mb']:<5.0f}", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
