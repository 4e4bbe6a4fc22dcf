#![allow(dead_code)]
//! Shared helpers of the optimizer and checkpoint tests: a Var-backed tiny model (as a trainer
//! builds it), SFT batches, and scratch directories.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use lmmr1_model::model::Inputs;
use lmmr1_model::rng::Rng;
use lmmr1_model::{Config, OpsMode, Qwen25VL};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A Var-backed model in differentiable mode with the weights of fixture `name` (`tiny`,
/// `tiny_tied`): VarMap + `VarBuilder::from_varmap` + `Qwen25VL::new` + `varmap.load`.
pub fn trainable(name: &str) -> (Config, VarMap, Qwen25VL) {
    let cfg = Config::from_file(fixtures().join(name).join("config.json")).unwrap();
    let (varmap, model) = trainable_from_config(&cfg);
    let mut varmap = varmap;
    varmap
        .load(fixtures().join(name).join("model.safetensors"))
        .unwrap();
    (cfg, varmap, model)
}

/// The same architecture with fresh (placeholder) variables, to be overwritten.
pub fn trainable_from_config(cfg: &Config) -> (VarMap, Qwen25VL) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let mut model = Qwen25VL::new(cfg, vb).unwrap();
    model.mode = OpsMode::Differentiable;
    (varmap, model)
}

/// The variables, sorted by (hub) name.
pub fn named_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let mut v: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Detached copies of every variable's value.
pub fn snapshot(vars: &[(String, Var)]) -> Vec<(String, Tensor)> {
    vars.iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().detach().copy().unwrap()))
        .collect()
}

/// `rows` token sequences of length `len`, ids below 1000 (no special tokens).
pub fn random_rows(rng: &mut Rng, rows: usize, len: usize) -> Vec<Vec<u32>> {
    (0..rows)
        .map(|_| (0..len).map(|_| (rng.next_u64() % 1000) as u32).collect())
        .collect()
}

/// Left-padded batch of `rows` (pad id 1005) and the loss mask `(B, T−1)` of targets that are
/// real tokens after the first `prompt` real tokens of each row.
pub fn sft_batch(rows: &[Vec<u32>], prompt: usize) -> (Inputs, Tensor) {
    let t = rows.iter().map(|r| r.len()).max().unwrap();
    let (mut ids, mut att, mut mask) = (Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        let pad = t - r.len();
        ids.extend(std::iter::repeat_n(1005, pad).chain(r.iter().copied()));
        att.extend((0..t).map(|j| (j >= pad) as u32));
        // Target j+1 is a response token when it is real and at least `prompt` tokens in.
        mask.extend((0..t - 1).map(|j| (j + 1 >= pad + prompt) as u8 as f32));
    }
    let inp = Inputs::text(rows.len(), ids, att).unwrap();
    let mask = Tensor::from_vec(mask, (rows.len(), t - 1), &Device::Cpu).unwrap();
    (inp, mask)
}

/// `−Σ mask·logp / denom`.
pub fn sft_loss(model: &Qwen25VL, inp: &Inputs, mask: &Tensor, denom: f64) -> Tensor {
    let lp = model.token_logprobs(inp).unwrap();
    ((lp * mask).unwrap().sum_all().unwrap().neg().unwrap() / denom).unwrap()
}

/// A fresh empty directory under the system temp dir, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "lmmr1-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a.to_dtype(DType::F32).unwrap() - b.to_dtype(DType::F32).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

pub fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}
