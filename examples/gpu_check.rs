//! The checks `tools/gpu_check.sh` runs on a GPU, one binary: each subcommand prints one JSON
//! line on stdout (the script measures the peak GPU memory around it with `nvidia-smi` and
//! prints the table).
//!
//! Run from the repository's root (it reads the parity fixtures and configs there):
//!
//! ```text
//! cargo run --release --features cuda --example gpu_check -- parity --device cuda --dtype bf16
//! cargo run --release --features cuda --example gpu_check -- decode --device cuda --batches 1,16,64
//! cargo run --release --features cuda --example gpu_check -- train-step --device cuda
//! cargo run --release --features cuda --example gpu_check -- fre-text --device cuda --dtype bf16 --out /tmp/ft
//! cargo run --release --features cuda --example gpu_check -- probe-3b --device cuda --what train
//! ```
//!
//! Subcommands:
//! * `parity`: the committed tiny checkpoints' logits against transformers' (the parity
//!   fixtures of `lmmr1-model`; ≤ 1e-4 in f32 with TF32 off, ≤ 3 % of each case's largest
//!   logit in bf16) and greedy generation against transformers' tokens (f32);
//! * `decode`: tokens/s of greedy decoding on the random `100m` preset at several batch sizes;
//! * `train-step`: a forward + backward + AdamW step of the `100m` preset, tokens/s;
//! * `fre-text`: a short `fre_text` run (`configs/fre_text.toml`, a text-only warm start);
//! * `probe-3b`: a random model shaped as Qwen2.5-VL-3B (`configs/models/…/config.json`), bf16
//!   with f32 masters, `visual` frozen: one training step of 1 × 2048 tokens with recompute
//!   (`--what train`), or generation of 64 rows × 512 new tokens (`--what generate`), with the
//!   memory planner's prediction for the same workload.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};
use clap::{Parser, Subcommand};
use lmmr1::model::generate::{generate, SamplingParams};
use lmmr1::model::memory::{plan, KernelPath, Workload};
use lmmr1::model::model::Inputs;
use lmmr1::model::optim::{accumulate_grads, clip_grad_norm, AdamW, AdamWConfig};
use lmmr1::model::{Config, Policy, PolicyOptions, Qwen25VL};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// cpu, cuda, cuda:N.
    #[arg(long, global = true, default_value = "cuda")]
    device: String,
    /// f32 or bf16.
    #[arg(long, global = true, default_value = "f32")]
    dtype: String,
    /// TF32 for f32 matmuls (off by default here: the parity tolerance is for f32 products).
    #[arg(long, global = true)]
    tf32: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Logits and greedy tokens of the tiny checkpoints against transformers.
    Parity,
    /// Greedy decoding tokens/s of the `100m` preset.
    Decode {
        #[arg(long, default_value = "1,16,64")]
        batches: String,
        #[arg(long, default_value_t = 64)]
        prompt_len: usize,
        #[arg(long, default_value_t = 64)]
        new_tokens: usize,
    },
    /// One training step of the `100m` preset.
    TrainStep {
        #[arg(long, default_value_t = 8)]
        batch: usize,
        #[arg(long, default_value_t = 512)]
        seq_len: usize,
    },
    /// A short `fre_text` run.
    FreText {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 12)]
        steps: usize,
    },
    /// A Qwen2.5-VL-3B-shaped random model: one training step or one generation.
    #[command(name = "probe-3b")]
    Probe3b {
        /// `train` or `generate`.
        #[arg(long, default_value = "train")]
        what: String,
        /// The model's `config.json` (another shape for a dry run on a small machine).
        #[arg(
            long,
            default_value = "configs/models/qwen2.5-vl-3b-instruct/config.json"
        )]
        config: PathBuf,
    },
}

/// Files are read relative to the working directory, the repository's root (the binary may
/// have been built on another machine, tools/build_gpu_check.sh).
fn repo(path: &str) -> PathBuf {
    PathBuf::from(path)
}

fn fixtures() -> PathBuf {
    repo("crates/lmmr1-model/tests/fixtures")
}

/// The first id that is not plain text (the vocabulary's end or a vision special token).
fn text_ids_below(cfg: &Config) -> u32 {
    (cfg.vocab_size as u32)
        .min(cfg.vision_start_token_id)
        .min(cfg.vision_end_token_id)
        .min(cfg.image_token_id)
        .min(cfg.video_token_id)
}

fn random_ids(n: usize, below: u32, seed: u64) -> Vec<u32> {
    let mut rng = lmmr1::model::rng::Rng::new(seed);
    (0..n)
        .map(|_| (rng.next_u64() % below as u64) as u32)
        .collect()
}

fn synchronize(device: &Device) -> Result<()> {
    device.synchronize()?;
    Ok(())
}

fn parity(device: &Device, dtype: DType) -> Result<serde_json::Value> {
    let reference =
        candle_core::safetensors::load(fixtures().join("reference.safetensors"), &Device::Cpu)?;
    let get = |k: &str| {
        reference
            .get(k)
            .cloned()
            .with_context(|| format!("fixture {k}"))
    };
    // f32: absolute, as the parity tests; half types: relative to each case's largest logit.
    let tol = if dtype == DType::F32 { 1e-4 } else { 0.03 };
    let mut worst = 0f32;
    let mut greedy_ok = true;
    for (model_name, cases) in [
        ("tiny", vec!["text", "text_leftpad", "image", "image_batch"]),
        ("tiny_tied", vec!["tied_text"]),
    ] {
        let m = Qwen25VL::load(fixtures().join(model_name), dtype, device)?;
        for case in cases {
            let ids = get(&format!("{case}.input_ids"))?;
            let batch = ids.dim(0)?;
            let u32s = |k: &str| -> Result<Vec<u32>> {
                Ok(get(k)?
                    .flatten_all()?
                    .to_vec1::<i64>()?
                    .into_iter()
                    .map(|v| v as u32)
                    .collect())
            };
            let pv = get(&format!("{case}.pixel_values")).ok();
            let grids = match &pv {
                Some(_) => u32s(&format!("{case}.image_grid_thw"))?
                    .chunks(3)
                    .map(|c| [c[0] as usize, c[1] as usize, c[2] as usize])
                    .collect(),
                None => Vec::new(),
            };
            let mask = u32s(&format!("{case}.attention_mask"))?;
            let inp = Inputs::new(
                batch,
                u32s(&format!("{case}.input_ids"))?,
                mask.clone(),
                pv.map(|p| p.to_device(device)).transpose()?,
                grids,
            )?;
            let logits = m
                .forward(&inp)?
                .to_dtype(DType::F32)?
                .to_device(&Device::Cpu)?;
            let want = get(&format!("{case}.logits"))?;
            let v = logits.dim(2)?;
            // bf16: relative to the case's logit scale (the tied checkpoint's reach ±53).
            let scale = if dtype == DType::F32 {
                1.0
            } else {
                want.abs()?.max_all()?.to_scalar::<f32>()?.max(1.0)
            };
            let d = logits.sub(&want)?.abs()?.flatten_all()?.to_vec1::<f32>()?;
            for (p, &m) in mask.iter().enumerate() {
                if m != 0 {
                    let row = d[p * v..(p + 1) * v].iter().copied().fold(0.0, f32::max);
                    worst = worst.max(row / scale);
                }
            }
            let want = u32s(&format!("{case}.greedy"))?;
            let n = want.len() / batch;
            let g = generate(
                &m,
                &inp,
                &SamplingParams {
                    max_new_tokens: n,
                    ..SamplingParams::default()
                },
            )?;
            let got: Vec<u32> = g.tokens.concat();
            if dtype == DType::F32 && got != want {
                greedy_ok = false;
            }
        }
    }
    Ok(json!({
        "check": "parity", "dtype": format!("{dtype:?}").to_lowercase(),
        "max_logit_diff": worst, "relative": dtype != DType::F32, "tolerance": tol,
        "greedy_equal": greedy_ok, "ok": worst <= tol && greedy_ok,
    }))
}

fn decode(
    device: &Device,
    dtype: DType,
    batches: &str,
    prompt: usize,
    new: usize,
) -> Result<serde_json::Value> {
    let cfg = lmmr1::model::config::preset("100m")?;
    let m = Qwen25VL::random(&cfg, 0, dtype, device)?;
    let mut rows = Vec::new();
    for b in batches.split(',') {
        let b: usize = b.trim().parse()?;
        let inp = Inputs::text(b, random_ids(b * prompt, 1000, 1), vec![1; b * prompt])?;
        let p = SamplingParams {
            max_new_tokens: new,
            ..SamplingParams::default()
        };
        generate(&m, &inp, &p)?;
        synchronize(device)?;
        let t = Instant::now();
        generate(&m, &inp, &p)?;
        synchronize(device)?;
        let s = t.elapsed().as_secs_f64();
        rows.push(json!({"batch": b, "tokens_per_s": (b * new) as f64 / s}));
    }
    Ok(
        json!({"check": "decode", "preset": "100m", "prompt_len": prompt, "new_tokens": new, "results": rows}),
    )
}

fn train_step(device: &Device, dtype: DType, batch: usize, t: usize) -> Result<serde_json::Value> {
    let cfg = lmmr1::model::config::preset("100m")?;
    let opts = PolicyOptions {
        freeze: vec!["visual".into()],
        recompute: false,
    };
    let policy = Policy::random(&cfg, 0, dtype, device, &opts)?;
    let mut opt = AdamW::new(policy.trainable_params(), AdamWConfig::default())?;
    let vars = policy.trainable_vars();
    let inp = Inputs::text(batch, random_ids(batch * t, 1000, 2), vec![1; batch * t])?;
    let mut step = || -> Result<()> {
        let (_, g) =
            policy.forward_backward(&inp, 1, false, |lp| Ok(lp.logp.mean_all()?.neg()?))?;
        let mut acc = None;
        accumulate_grads(&mut acc, g, &vars)?;
        let mut g = acc.context("no gradients")?;
        clip_grad_norm(&mut g, &vars, 1.0)?;
        opt.step(&g, 1e-5)?;
        synchronize(device)?;
        Ok(())
    };
    step()?;
    let t0 = Instant::now();
    let reps = 3;
    for _ in 0..reps {
        step()?;
    }
    let s = t0.elapsed().as_secs_f64() / reps as f64;
    Ok(
        json!({"check": "train-step", "preset": "100m", "batch": batch, "seq_len": t,
        "step_s": s, "tokens_per_s": (batch * t) as f64 / s}),
    )
}

fn fre_text(device: &str, dtype: &str, out: &Path, steps: usize) -> Result<serde_json::Value> {
    let overrides: Vec<String> = [
        format!("model.device={device:?}"),
        format!("model.dtype={dtype:?}"),
        "warm_start.steps=400".into(),
        "warm_start.tasks=[\"arith\"]".into(),
        "warm_start.cache=\"\"".into(),
        "optimizer.lr=2e-4".into(),
        format!("train.steps={steps}"),
        "train.eval_every=0".into(),
        "train.eval_prompts=100".into(),
    ]
    .into_iter()
    .collect();
    let cfg_path = repo("configs/fre_text.toml");
    let cfg = lmmr1::trainer::Config::from_file(&cfg_path, &overrides)?;
    let mut opts = lmmr1::trainer::RunOptions::new(out);
    opts.resume = false;
    opts.progress = false;
    let s = lmmr1::trainer::run(&cfg, &opts)?;
    Ok(json!({"check": "fre-text", "dtype": dtype, "steps": steps,
        "accuracy_before": s.accuracy_before, "accuracy_after": s.accuracy_after,
        "mean_reward_before": s.mean_reward_before, "mean_reward_after": s.mean_reward_after,
        "wall_time_s": s.wall_time_s, "ok": s.mean_reward_after > s.mean_reward_before + 0.05}))
}

fn probe_3b(device: &Device, what: &str, config: &Path) -> Result<serde_json::Value> {
    let cfg = Config::from_file(config)?;
    let dtype = DType::BF16;
    let freeze = vec!["visual".to_string()];
    let (rows, prompt, new) = match what {
        "train" => (1, 1024, 1024),
        "generate" => (64, 64, 512),
        other => bail!("--what {other:?}: expected train or generate"),
    };
    let w = Workload {
        dtype,
        path: KernelPath::Portable,
        freeze: freeze.clone(),
        reference: false,
        critic: false,
        recompute: true,
        micro_batch: 1,
        micro_batches_per_update: 1,
        prompt_len: prompt,
        max_new_tokens: new,
        generation_batch: rows,
        images_per_row: 0,
        patches_per_image: 0,
        filtered_sampling: false,
    };
    let p = plan(&cfg, &w);
    let fixed = p.static_bytes();
    let opts = PolicyOptions {
        freeze,
        recompute: true,
    };
    let t0 = Instant::now();
    let policy = Policy::random(&cfg, 0, dtype, device, &opts)?;
    let mut opt = AdamW::new(policy.trainable_params(), AdamWConfig::default())?;
    let built_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let predicted = match what {
        "train" => {
            let t = prompt + new;
            let inp = Inputs::text(1, random_ids(t, text_ids_below(&cfg), 3), vec![1; t])?;
            let vars = policy.trainable_vars();
            let (loss, g) = policy
                .forward_backward(&inp, prompt, false, |lp| Ok(lp.logp.mean_all()?.neg()?))?;
            let mut acc = None;
            accumulate_grads(&mut acc, g, &vars)?;
            let mut g = acc.context("no gradients")?;
            clip_grad_norm(&mut g, &vars, 1.0)?;
            opt.step(&g, 1e-6)?;
            synchronize(device)?;
            anyhow::ensure!(
                loss.to_dtype(DType::F32)?.to_scalar::<f32>()?.is_finite(),
                "loss is not finite"
            );
            fixed + p.training_bytes
        }
        _ => {
            let model = policy.rollout_model()?;
            let inp = Inputs::text(
                rows,
                random_ids(rows * prompt, text_ids_below(&cfg), 4),
                vec![1; rows * prompt],
            )?;
            let g = generate(
                &model,
                &inp,
                &SamplingParams {
                    temperature: 1.0,
                    max_new_tokens: new,
                    ..SamplingParams::default()
                },
            )?;
            synchronize(device)?;
            anyhow::ensure!(g.tokens.iter().all(|r| r.len() == new));
            fixed + p.generation_bytes
        }
    };
    Ok(
        json!({"check": "probe-3b", "what": what, "rows": rows, "prompt": prompt, "new_tokens": new,
        "build_s": built_s, "run_s": t1.elapsed().as_secs_f64(),
        "predicted_bytes": predicted}),
    )
}

fn main() -> Result<()> {
    let a = Args::parse();
    lmmr1::model::init_threads();
    let device = lmmr1::model::device(&a.device)?;
    let dtype = lmmr1::model::dtype(&a.dtype)?;
    lmmr1::model::set_tf32(a.tf32);
    let out = match &a.cmd {
        Cmd::Parity => parity(&device, dtype)?,
        Cmd::Decode {
            batches,
            prompt_len,
            new_tokens,
        } => decode(&device, dtype, batches, *prompt_len, *new_tokens)?,
        Cmd::TrainStep { batch, seq_len } => train_step(&device, dtype, *batch, *seq_len)?,
        Cmd::FreText { out, steps } => fre_text(&a.device, &a.dtype, out, *steps)?,
        Cmd::Probe3b { what, config } => probe_3b(&device, what, config)?,
    };
    println!("{out}");
    Ok(())
}
