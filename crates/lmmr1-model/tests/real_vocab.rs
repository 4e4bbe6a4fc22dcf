//! The tied real-vocabulary (151936) tiny checkpoint: too large to commit (~40 MB), built by
//! `tools/qwen25vl_fixtures.py --real-vocab DIR`. Run with
//! `LMMR1_REALVOCAB_DIR=DIR cargo test -p lmmr1-model --test real_vocab -- --ignored`.

mod common;

use candle_core::{DType, Device};
use common::max_abs_diff;
use lmmr1_model::generate::{generate, SamplingParams};
use lmmr1_model::model::Inputs;
use lmmr1_model::Qwen25VL;

#[test]
#[ignore = "needs LMMR1_REALVOCAB_DIR from tools/qwen25vl_fixtures.py --real-vocab"]
fn real_vocab_parity() {
    let dir = std::path::PathBuf::from(
        std::env::var("LMMR1_REALVOCAB_DIR").expect("LMMR1_REALVOCAB_DIR"),
    );
    let r =
        candle_core::safetensors::load(dir.join("reference.safetensors"), &Device::Cpu).unwrap();
    let ints = |k: &str| r[k].flatten_all().unwrap().to_vec1::<i64>().unwrap();
    let m = Qwen25VL::load(&dir, DType::F32, &Device::Cpu).unwrap();
    assert!(m.cfg.tie_word_embeddings && m.cfg.vocab_size == 151936);
    let ids: Vec<u32> = ints("image.input_ids").iter().map(|&v| v as u32).collect();
    let g = ints("image.image_grid_thw");
    let inp = Inputs::new(
        1,
        ids.clone(),
        vec![1; ids.len()],
        Some(r["image.pixel_values"].clone()),
        vec![[g[0] as usize, g[1] as usize, g[2] as usize]],
    )
    .unwrap();
    let logits = m.forward(&inp).unwrap();
    let last = logits
        .get(0)
        .unwrap()
        .get(ids.len() - 1)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let d = max_abs_diff(&last, &r["image.last_logits"]);
    eprintln!("real vocab: max |Δ last logits| = {d:.3e}");
    assert!(d <= 1e-4, "{d}");
    let want: Vec<u32> = ints("image.greedy").iter().map(|&v| v as u32).collect();
    let out = generate(
        &m,
        &inp,
        &SamplingParams {
            max_new_tokens: want.len(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(out.tokens[0], want);
}
