#![allow(dead_code)]
//! Shared helpers for the parity tests: the committed fixtures and their reference outputs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use candle_core::{DType, Device, Tensor};
use lmmr1_model::model::Inputs;
use lmmr1_model::rope::Grid;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn reference() -> &'static HashMap<String, Tensor> {
    static R: OnceLock<HashMap<String, Tensor>> = OnceLock::new();
    R.get_or_init(|| {
        candle_core::safetensors::load(fixtures().join("reference.safetensors"), &Device::Cpu)
            .expect("reference.safetensors")
    })
}

pub fn get(key: &str) -> Tensor {
    reference()
        .get(key)
        .unwrap_or_else(|| panic!("reference has no {key}"))
        .clone()
}

pub fn has(key: &str) -> bool {
    reference().contains_key(key)
}

pub fn ints(key: &str) -> Vec<i64> {
    get(key).flatten_all().unwrap().to_vec1::<i64>().unwrap()
}

pub fn u32s(key: &str) -> Vec<u32> {
    ints(key).into_iter().map(|v| v as u32).collect()
}

pub fn inputs(case: &str) -> Inputs {
    let ids = get(&format!("{case}.input_ids"));
    let batch = ids.dim(0).unwrap();
    let pv = if has(&format!("{case}.pixel_values")) {
        Some(get(&format!("{case}.pixel_values")))
    } else {
        None
    };
    let grids: Vec<Grid> = if pv.is_some() {
        ints(&format!("{case}.image_grid_thw"))
            .chunks(3)
            .map(|c| [c[0] as usize, c[1] as usize, c[2] as usize])
            .collect()
    } else {
        Vec::new()
    };
    Inputs::new(
        batch,
        u32s(&format!("{case}.input_ids")),
        u32s(&format!("{case}.attention_mask")),
        pv,
        grids,
    )
    .unwrap()
}

pub fn model(name: &str) -> lmmr1_model::Qwen25VL {
    lmmr1_model::Qwen25VL::load(fixtures().join(name), DType::F32, &Device::Cpu).unwrap()
}

/// max |a − b| over positions whose mask is 1; `a`, `b`: `(B, T, V)`.
pub fn max_diff_masked(a: &Tensor, b: &Tensor, mask: &[u32]) -> f32 {
    let (bsz, t, v) = a.dims3().unwrap();
    assert_eq!(a.dims(), b.dims());
    let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut m = 0f32;
    for p in 0..bsz * t {
        if mask[p] == 0 {
            continue;
        }
        for j in 0..v {
            m = m.max((a[p * v + j] - b[p * v + j]).abs());
        }
    }
    m
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a - b)
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

/// The `video` case (a clip and an image in one sequence).
pub fn video_inputs() -> Inputs {
    let v = |k: &str| get(&format!("video.{k}"));
    let grids = |k: &str| -> Vec<Grid> {
        ints(&format!("video.{k}"))
            .chunks(3)
            .map(|c| [c[0] as usize, c[1] as usize, c[2] as usize])
            .collect()
    };
    let spg: Vec<f64> = v("second_per_grid_ts")
        .to_vec1::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect();
    Inputs::new(
        1,
        u32s("video.input_ids"),
        u32s("video.attention_mask"),
        Some(v("pixel_values")),
        grids("image_grid_thw"),
    )
    .unwrap()
    .with_videos(v("pixel_values_videos"), grids("video_grid_thw"), spg)
    .unwrap()
}

/// Inputs of a fixture case (`video` included).
pub fn case_inputs(case: &str) -> Inputs {
    if case == "video" {
        video_inputs()
    } else {
        inputs(case)
    }
}

/// `(B, T − start)` mask of the tokens from `start` on whose token and predecessor are both real
/// (the positions where log-probs mean something), as f32.
pub fn response_mask(inp: &Inputs, start: usize) -> Tensor {
    let t = inp.seq_len;
    let m: Vec<f32> = inp
        .attention_mask
        .chunks(t)
        .flat_map(|r| (start..t).map(move |j| (r[j] != 0 && r[j - 1] != 0) as u8 as f32))
        .collect();
    Tensor::from_vec(m, (inp.batch, t - start), &Device::Cpu).unwrap()
}

/// Deterministic `N(0, 1)` samples (Box–Muller over the crate's SplitMix64).
pub fn randn_vec(rng: &mut lmmr1_model::rng::Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let (u1, u2) = (rng.uniform().max(1e-300), rng.uniform());
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

/// A deterministic `N(0, 1)` tensor of `shape` in `dtype`.
pub fn randn(rng: &mut lmmr1_model::rng::Rng, shape: &[usize], dtype: DType) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(randn_vec(rng, n), shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

/// A policy-gradient-style loss: `−Σ A·mask·logp / Σ mask − c·Σ mask·entropy / Σ mask`.
pub fn pg_loss(
    lp: &lmmr1_model::LogProbs,
    adv: &Tensor,
    mask: &Tensor,
    entropy_coef: f64,
) -> lmmr1_model::Result<Tensor> {
    let dt = lp.logp.dtype();
    let (adv, mask) = (adv.to_dtype(dt)?, mask.to_dtype(dt)?);
    let n = mask.sum_all()?;
    let mut loss = (&lp.logp * &adv)?.mul(&mask)?.sum_all()?.neg()?;
    if let Some(e) = &lp.entropy {
        loss = (loss - ((e * &mask)?.sum_all()? * entropy_coef)?)?;
    }
    Ok(loss.div(&n)?)
}
