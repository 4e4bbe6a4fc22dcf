//! Training throughput of a random-weight model: forward + backward + AdamW step on text
//! batches, one JSON line on stdout (used by `tools/bench_train_vs_pytorch.py`, which runs the
//! same step in PyTorch on the same shapes).
//!
//! ```text
//! cargo run --release -p lmmr1-model --example bench_train -- --preset 100m --batch 4 --seq-len 128
//! ```
//!
//! The model is built as a trainer builds it (every weight a `Var`, differentiable ops). One
//! step: `loss = −mean(log p(tokenₜ₊₁ | tokens≤ₜ))` over all `batch × (seq_len − 1)` targets,
//! `backward`, AdamW (betas 0.9/0.95, no weight decay). Inputs are random ids below 1000, no
//! padding. Reported: the best of `--reps` timings of `--steps` consecutive steps (after one
//! warm-up step), tokens/s = `batch · seq_len · steps / seconds`, and the time split into
//! forward / backward / optimizer.

use std::time::Instant;

use anyhow::Result;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use clap::Parser;
use lmmr1_model::model::Inputs;
use lmmr1_model::{AdamW, AdamWConfig, OpsMode, Qwen25VL};

#[derive(Parser)]
struct Args {
    /// tiny or 100m.
    #[arg(long, default_value = "tiny")]
    preset: String,
    #[arg(long, default_value_t = 4)]
    batch: usize,
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
    /// Steps per timing.
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// Timings (the best is reported).
    #[arg(long, default_value_t = 2)]
    reps: usize,
    /// Only measure candle's f32 matmul (2048³, best of 5) and print `{"gflops": …}`.
    #[arg(long)]
    matmul_ceiling: bool,
}

fn matmul_ceiling() -> Result<()> {
    let n = 2048;
    let x = Tensor::randn(0f32, 1.0, (n, n), &Device::Cpu)?;
    let y = Tensor::randn(0f32, 1.0, (n, n), &Device::Cpu)?;
    x.matmul(&y)?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        x.matmul(&y)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{{\"gflops\":{:.1}}}",
        2.0 * (n as f64).powi(3) / best / 1e9
    );
    Ok(())
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

/// Var-backed model with random weights: norms 1, biases 0, matrices `N(0, 1/fan_in)`,
/// embeddings `N(0, 0.02²)`.
fn trainable(cfg: &lmmr1_model::Config) -> Result<(Qwen25VL, Vec<(String, Var)>)> {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let mut model = Qwen25VL::new(cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev))?;
    model.mode = OpsMode::Differentiable;
    let mut vars: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("varmap lock poisoned"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, v) in &vars {
        let dims = v.dims();
        let t = if name.ends_with("bias") {
            Tensor::zeros(dims, DType::F32, &dev)?
        } else if dims.len() == 1 {
            Tensor::ones(dims, DType::F32, &dev)?
        } else {
            let std = if name.contains("embed_tokens") {
                0.02
            } else {
                1.0 / (dims[1..].iter().product::<usize>() as f64).sqrt()
            };
            Tensor::randn(0f32, std as f32, dims, &dev)?
        };
        v.set(&t)?;
    }
    Ok((model, vars))
}

fn main() -> Result<()> {
    let a = Args::parse();
    lmmr1_model::init_threads();
    if a.matmul_ceiling {
        return matmul_ceiling();
    }
    let cfg = lmmr1_model::config::preset(&a.preset)?;
    let (model, vars) = trainable(&cfg)?;
    let trainable_params: usize = vars
        .iter()
        .filter(|(n, _)| !n.starts_with("visual."))
        .map(|(_, v)| v.elem_count())
        .sum();
    let mut opt = AdamW::new(
        vars,
        AdamWConfig {
            lr: 1e-5,
            ..AdamWConfig::default()
        },
    )?;
    let mut state = 12345u64;
    let mut batch = || -> Result<Inputs> {
        let ids: Vec<u32> = (0..a.batch * a.seq_len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) % 1000) as u32
            })
            .collect();
        Ok(Inputs::text(a.batch, ids, vec![1; a.batch * a.seq_len])?)
    };
    let (mut fwd, mut bwd, mut upd) = (0f64, 0f64, 0f64);
    let step = |inp: &Inputs, opt: &mut AdamW, times: &mut (f64, f64, f64)| -> Result<f32> {
        let t0 = Instant::now();
        let loss = model.token_logprobs(inp)?.mean_all()?.neg()?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let value = loss.to_scalar::<f32>()?;
        drop(loss); // frees the graph before the update, as a trainer would
        let t2 = Instant::now();
        opt.step(&grads, 1e-5)?;
        drop(grads);
        let t3 = Instant::now();
        times.0 += (t1 - t0).as_secs_f64();
        times.1 += (t2 - t1).as_secs_f64();
        times.2 += (t3 - t2).as_secs_f64();
        Ok(value)
    };
    let mut best = f64::INFINITY;
    let mut last_loss = 0f32;
    // On one of rayon's workers, as the trainer runs its loop (`lmmr1_model::on_pool`).
    lmmr1_model::on_pool(|| -> Result<()> {
        let mut scratch = (0.0, 0.0, 0.0);
        let warm = batch()?;
        step(&warm, &mut opt, &mut scratch)?;
        for _ in 0..a.reps.max(1) {
            let inputs: Vec<Inputs> = (0..a.steps.max(1))
                .map(|_| batch())
                .collect::<Result<_>>()?;
            let mut times = (0.0, 0.0, 0.0);
            let t = Instant::now();
            for inp in &inputs {
                last_loss = step(inp, &mut opt, &mut times)?;
            }
            let el = t.elapsed().as_secs_f64();
            if el < best {
                best = el;
                (fwd, bwd, upd) = times;
            }
        }
        Ok(())
    })?;
    let n = a.steps.max(1) as f64;
    let tokens = (a.batch * a.seq_len) as f64 * n;
    println!(
        "{{\"impl\":\"candle\",\"preset\":\"{}\",\"params\":{},\"trainable_params\":{},\"batch\":{},\"seq_len\":{},\"steps\":{},\"step_s\":{:.6},\"fwd_s\":{:.6},\"bwd_s\":{:.6},\"optim_s\":{:.6},\"tok_s\":{:.1},\"loss\":{:.4},\"peak_rss_mb\":{:.1}}}",
        a.preset,
        lmmr1_model::weights::num_params(&cfg),
        trainable_params,
        a.batch,
        a.seq_len,
        a.steps,
        best / n,
        fwd / n,
        bwd / n,
        upd / n,
        tokens / best,
        last_loss,
        peak_rss_mb()
    );
    Ok(())
}
