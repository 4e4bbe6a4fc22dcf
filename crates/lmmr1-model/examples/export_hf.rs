//! Trains a checkpoint for a few SFT steps with AdamW and exports it with
//! `lmmr1_model::save_hf`, so that `tools/hf_export_check.py` can load the export in
//! transformers and compare logits.
//!
//! ```text
//! cargo run -p lmmr1-model --example export_hf -- --src DIR --out DIR [--steps 2] [--dtype f32]
//! ```
//!
//! The model is built as a trainer builds it (Vars from a `VarMap`, differentiable ops); each
//! step is one AdamW update (lr 1e-2) on the negative log-likelihood of random token rows.

use std::path::PathBuf;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use clap::Parser;
use lmmr1_model::model::Inputs;
use lmmr1_model::rng::Rng;
use lmmr1_model::{AdamW, AdamWConfig, Config, OpsMode, Qwen25VL};

#[derive(Parser)]
struct Args {
    /// Source checkpoint directory (config.json + model.safetensors).
    #[arg(long)]
    src: PathBuf,
    /// Export directory.
    #[arg(long)]
    out: PathBuf,
    /// SFT steps before the export.
    #[arg(long, default_value_t = 2)]
    steps: usize,
    /// Export dtype: f32, bf16, f16.
    #[arg(long, default_value = "f32")]
    dtype: String,
}

fn main() -> Result<()> {
    let a = Args::parse();
    lmmr1_model::init_threads();
    let dev = Device::Cpu;
    let cfg = Config::from_file(a.src.join("config.json"))?;
    let mut varmap = VarMap::new();
    let mut model = Qwen25VL::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev))?;
    let files = lmmr1_model::weights::checkpoint_files(&a.src)?;
    for f in &files {
        varmap
            .load(f)
            .with_context(|| format!("loading {}", f.display()))?;
    }
    model.mode = OpsMode::Differentiable;
    let mut vars: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("varmap lock poisoned"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|x, y| x.0.cmp(&y.0));
    let mut opt = AdamW::new(vars.clone(), AdamWConfig::default())?;
    let mut rng = Rng::new(1);
    let text_vocab = cfg.vocab_size.min(cfg.image_token_id as usize) as u64;
    for step in 0..a.steps {
        let (b, t) = (2, 16);
        let ids: Vec<u32> = (0..b * t)
            .map(|_| (rng.next_u64() % text_vocab) as u32)
            .collect();
        let inp = Inputs::text(b, ids, vec![1; b * t])?;
        let loss = model.token_logprobs(&inp)?.mean_all()?.neg()?;
        let grads = loss.backward()?;
        opt.step(&grads, 1e-2)?;
        eprintln!("step {step}: loss {:.4}", loss.to_scalar::<f32>()?);
    }
    let tensors: Vec<(String, Tensor)> = vars
        .iter()
        .map(|(n, v)| (n.clone(), v.as_detached_tensor()))
        .collect();
    lmmr1_model::save_hf(&a.out, &cfg, &tensors, lmmr1_model::dtype(&a.dtype)?)?;
    eprintln!("exported {} tensors to {}", tensors.len(), a.out.display());
    Ok(())
}
