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
