//! Logits of a checkpoint on given inputs, for parity checks against transformers.
//!
//! ```text
//! cargo run --release -p lmmr1-model --example logits -- --model DIR --inputs IN.safetensors --out OUT.safetensors
//! ```
//!
//! IN holds `input_ids` (i64 `[B,T]`), `attention_mask` (i64 `[B,T]`) and, with images,
//! `pixel_values` (f32 `[N,1176]`) and `image_grid_thw` (i64 `[n,3]`). OUT gets `logits`
//! (f32 `[B,T,V]`). Positions (M-RoPE, `get_rope_index`) are computed from these inputs.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Tensor};
use clap::Parser;
use lmmr1_model::model::Inputs;
use lmmr1_model::Qwen25VL;

#[derive(Parser)]
struct Args {
    /// Checkpoint directory (config.json + safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Input safetensors.
    #[arg(long)]
    inputs: PathBuf,
    /// Output safetensors.
    #[arg(long)]
    out: PathBuf,
    /// Weight dtype: f32, bf16, f16.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// cpu, cuda, cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
}

fn ints(t: &Tensor, name: &str, rank: usize) -> Result<(Vec<usize>, Vec<i64>)> {
    if t.rank() != rank {
        bail!("{name} must have rank {rank}, has shape {:?}", t.dims());
    }
    let v = t
        .to_dtype(DType::I64)?
        .flatten_all()?
        .to_vec1::<i64>()
        .with_context(|| format!("{name}: not integer"))?;
    Ok((t.dims().to_vec(), v))
}

fn main() -> Result<()> {
    let a = Args::parse();
    lmmr1_model::init_threads();
    // Every error ends in one line naming the argument or file at fault.
    let device = lmmr1_model::device(&a.device).map_err(|e| anyhow!("--device: {e}"))?;
    let dtype = lmmr1_model::dtype(&a.dtype).map_err(|e| anyhow!("--dtype: {e}"))?;
    let cfg = lmmr1_model::Config::from_file(a.model.join("config.json"))?;
    let model = Qwen25VL::load(&a.model, dtype, &device)?;
    let inp = lmmr1_model::weights::read_safetensors(&a.inputs, &candle_core::Device::Cpu)?;
    let get = |k: &str| {
        inp.get(k)
            .with_context(|| format!("{} has no `{k}`", a.inputs.display()))
    };
    let (shape, ids) = ints(get("input_ids")?, "input_ids", 2)?;
    let (mshape, mask) = ints(get("attention_mask")?, "attention_mask", 2)?;
    if shape != mshape {
        bail!("attention_mask shape {mshape:?} != input_ids shape {shape:?}");
    }
    let vocab = cfg.vocab_size as i64;
    if let Some(v) = ids.iter().find(|&&v| v < 0 || v >= vocab) {
        bail!("input_ids: id {v} is outside the model's vocabulary (0..{vocab})");
    }
    let (pv, grids) = match (inp.get("pixel_values"), inp.get("image_grid_thw")) {
        (Some(pv), Some(g)) => {
            let (gshape, gv) = ints(g, "image_grid_thw", 2)?;
            if gshape[1] != 3 || gv.iter().any(|&v| v <= 0) {
                bail!("image_grid_thw must be [n,3] of positive ints, got {gshape:?}");
            }
            let grids = gv
                .chunks(3)
                .map(|c| [c[0] as usize, c[1] as usize, c[2] as usize])
                .collect();
            (Some(pv.to_dtype(DType::F32)?), grids)
        }
        (None, None) => (None, Vec::new()),
        _ => bail!("pixel_values and image_grid_thw must be given together"),
    };
    let inputs = Inputs::new(
        shape[0],
        ids.iter().map(|&v| v as u32).collect(),
        mask.iter().map(|&v| u32::from(v != 0)).collect(),
        pv,
        grids,
    )?;
    let logits = model
        .forward(&inputs)?
        .to_dtype(DType::F32)?
        .to_device(&candle_core::Device::Cpu)?;
    let mut out = HashMap::new();
    out.insert("logits".to_string(), logits);
    candle_core::safetensors::save(&out, &a.out)
        .map_err(|e| anyhow!("writing {}: {e}", a.out.display()))?;
    eprintln!(
        "wrote logits {:?} to {}",
        out["logits"].dims(),
        a.out.display()
    );
    Ok(())
}
