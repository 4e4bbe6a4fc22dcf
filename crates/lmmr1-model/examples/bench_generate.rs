//! Prefill and decode throughput of a random-weight model, one JSON line on stdout
//! (used by `tools/bench_vs_transformers.py`, which runs transformers on the same shapes).
//!
//! ```text
//! cargo run --release -p lmmr1-model --example bench_generate -- --preset 100m --batch 16 --prompt-len 64 --new-tokens 32
//! ```
//!
//! Inputs: random token ids below 1000, no padding. Prefill = one forward over the prompt with
//! the KV cache filled; decode = `new_tokens` greedy steps, timed separately. Peak RSS is
//! `VmHWM` from `/proc/self/status`.
//!
//! Set `RAYON_NUM_THREADS`: without it candle 0.11.1 asks for the physical core count on every
//! matmul, which reads `/proc/cpuinfo` each time (2.5× slower decoding of the tiny model).

use std::time::Instant;

use anyhow::Result;
use candle_core::{DType, Device};
use clap::Parser;
use lmmr1_model::kv_cache::KvCache;
use lmmr1_model::model::Inputs;
use lmmr1_model::Qwen25VL;

#[derive(Parser)]
struct Args {
    /// tiny or 100m.
    #[arg(long, default_value = "tiny")]
    preset: String,
    #[arg(long, default_value_t = 1)]
    batch: usize,
    #[arg(long, default_value_t = 64)]
    prompt_len: usize,
    #[arg(long, default_value_t = 32)]
    new_tokens: usize,
    /// Timed repetitions (the best is reported).
    #[arg(long, default_value_t = 2)]
    reps: usize,
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() -> Result<()> {
    let a = Args::parse();
    lmmr1_model::init_threads();
    let cfg = lmmr1_model::config::preset(&a.preset)?;
    let dev = Device::Cpu;
    let model = Qwen25VL::random(&cfg, 0, DType::F32, &dev)?;
    let mut state = 12345u64;
    let ids: Vec<u32> = (0..a.batch * a.prompt_len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 1000) as u32
        })
        .collect();
    let inp = Inputs::text(a.batch, ids, vec![1; a.batch * a.prompt_len])?;
    let (mut prefill, mut decode) = (f64::INFINITY, f64::INFINITY);
    let argmax = |row: &[f32]| {
        (0..row.len())
            .max_by(|&i, &j| row[i].total_cmp(&row[j]))
            .unwrap_or(0) as u32
    };
    // On one of rayon's workers, as `generate::generate` runs its loop.
    lmmr1_model::on_pool(|| -> Result<()> {
        for _ in 0..a.reps.max(1) {
            let t = Instant::now();
            let mut cache = KvCache::new(model.text.num_layers());
            let (mut logits, deltas) = model.prefill(&inp, &mut cache)?;
            prefill = prefill.min(t.elapsed().as_secs_f64());
            // Greedy decode steps (argmax on the host), as in the transformers loop of the script.
            let t = Instant::now();
            let mut mask = vec![1u32; a.batch * a.prompt_len];
            for s in 0..a.new_tokens {
                let next: Vec<u32> = logits.to_vec2::<f32>()?.iter().map(|r| argmax(r)).collect();
                mask = (0..a.batch)
                    .flat_map(|r| {
                        let l = a.prompt_len + s;
                        let mut row = mask[r * l..(r + 1) * l].to_vec();
                        row.push(1);
                        row
                    })
                    .collect();
                logits = model.decode_step(&next, &mask, &deltas, &mut cache)?;
            }
            decode = decode.min(t.elapsed().as_secs_f64());
        }
        Ok(())
    })?;
    println!(
        "{{\"impl\":\"candle\",\"preset\":\"{}\",\"params\":{},\"batch\":{},\"prompt_len\":{},\"new_tokens\":{},\"prefill_s\":{:.6},\"decode_s\":{:.6},\"prefill_tok_s\":{:.1},\"decode_tok_s\":{:.1},\"peak_rss_mb\":{:.1}}}",
        a.preset,
        lmmr1_model::weights::num_params(&cfg),
        a.batch,
        a.prompt_len,
        a.new_tokens,
        prefill,
        decode,
        (a.batch * a.prompt_len) as f64 / prefill,
        (a.batch * a.new_tokens) as f64 / decode,
        peak_rss_mb()
    );
    Ok(())
}
