#!/usr/bin/env python3
"""Dev-only: prefill / decode throughput of lmmr1-model (candle) and transformers on the same
Qwen2.5-VL text configs and inputs, in one run, with the ratios and peak memory.

    cargo build --release -p lmmr1-model --example bench_generate
    /work/venvs/torch/bin/python tools/bench_vs_transformers.py [--presets tiny,100m] [--batches 1,16,64]

Both sides: f32, CPU, random weights, a prompt of --prompt-len random ids (no padding) per row,
prefill = one forward filling the KV cache (last-position logits only), decode = --new-tokens
greedy steps with the cache. transformers uses its default (sdpa) attention, 2 torch threads.
Each measurement runs in its own process, so peak RSS (VmHWM / ru_maxrss) is per case.
"""
import argparse, json, os, resource, subprocess, sys, time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PRESETS = {
    # name: vocab, hidden, ffn, layers, heads, kv heads, mrope_section, tied  (= lmmr1_model::config::preset)
    "tiny": (1024, 64, 128, 2, 4, 2, [2, 3, 3], False),
    "100m": (32000, 768, 2048, 12, 12, 2, [8, 12, 12], True),
}


def hf_worker(preset, batch, plen, new, reps):
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
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
    model = Qwen2_5_VLForConditionalGeneration(cfg).eval().float()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 1000, (batch, plen), generator=g)
    mask = torch.ones_like(ids)
    best_p, best_d = float("inf"), float("inf")
    with torch.inference_mode():
        for _ in range(max(1, reps)):
            t = time.perf_counter()
            out = model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
            best_p = min(best_p, time.perf_counter() - t)
            cache, m = out.cache, mask
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            t = time.perf_counter()
            for _ in range(new):
                m = torch.cat([m, torch.ones_like(nxt)], 1)
                out = model(input_ids=nxt, attention_mask=m, cache=cache, use_cache=True)
                cache = out.cache
                nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            best_d = min(best_d, time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"impl": "transformers", "preset": preset, "batch": batch, "prompt_len": plen,
                      "new_tokens": new, "prefill_s": best_p, "decode_s": best_d,
                      "prefill_tok_s": batch * plen / best_p, "decode_tok_s": batch * new / best_d,
                      "peak_rss_mb": rss}))


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="tiny,100m")
    ap.add_argument("--batches", default="1,16,64")
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        p, b, pl, n, r = a.worker
        return hf_worker(p, int(b), int(pl), int(n), int(r))
    exe = os.path.join(ROOT, "target", "release", "examples", "bench_generate")
    if not os.path.exists(exe):
        sys.exit("build first: cargo build --release -p lmmr1-model --example bench_generate")
    # Same thread count on both sides. RAYON_NUM_THREADS also stops candle 0.11.1 from reading
    # /proc/cpuinfo on every matmul (its default thread count is looked up per call).
    threads = os.environ.get("BENCH_THREADS", "2")
    env = dict(os.environ, CANDLE_BARRIER_POOL_SPIN_LIMIT=os.environ.get("CANDLE_BARRIER_POOL_SPIN_LIMIT", "0"),
               RAYON_NUM_THREADS=threads, BENCH_THREADS=threads)
    # glibc malloc tunables for the candle process (candle-notes §3): no mmap/munmap churn on the many
    # short-lived tensors (PyTorch's CPU allocator caches on its own). Prefill of small shapes ~1.3-1.8x.
    candle_env = dict(env, GLIBC_TUNABLES=os.environ.get(
        "GLIBC_TUNABLES",
        "glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=17179869184:glibc.malloc.top_pad=268435456"))
    rows = []
    print(f"{'preset':>6} {'batch':>5} | {'prefill tok/s':>27} | {'decode tok/s':>27} | {'peak RSS MB':>17}")
    print(f"{'':>6} {'':>5} | {'candle':>8} {'hf':>8} {'ratio':>7}  | {'candle':>8} {'hf':>8} {'ratio':>7}  | "
          f"{'candle':>7} {'hf':>7}")
    for preset in a.presets.split(","):
        for b in map(int, a.batches.split(",")):
            args = [str(b), str(a.prompt_len), str(a.new_tokens), str(a.reps)]
            c = run([exe, "--preset", preset, "--batch", args[0], "--prompt-len", args[1], "--new-tokens", args[2],
                     "--reps", args[3]], candle_env)
            h = run([sys.executable, os.path.abspath(__file__), "--worker", preset, *args], env)
            rows.append((c, h))
            print(f"{preset:>6} {b:>5} | {c['prefill_tok_s']:>8.0f} {h['prefill_tok_s']:>8.0f} "
                  f"{c['prefill_tok_s'] / h['prefill_tok_s']:>6.2f}x  | {c['decode_tok_s']:>8.0f} "
                  f"{h['decode_tok_s']:>8.0f} {c['decode_tok_s'] / h['decode_tok_s']:>6.2f}x  | "
                  f"{c['peak_rss_mb']:>7.0f} {h['peak_rss_mb']:>7.0f}", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
