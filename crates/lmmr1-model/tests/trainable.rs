//! The differentiable path: a model built on `Var`s (as a trainer builds it) gives the reference
//! logits with `OpsMode::Differentiable`, and every variable receives a gradient.

mod common;

use candle_core::{DType, Device, Var};
use candle_nn::{VarBuilder, VarMap};
use common::*;
use lmmr1_model::{Config, OpsMode, Qwen25VL};

#[test]
fn var_backed_model_matches_and_every_var_gets_a_gradient() {
    let dev = Device::Cpu;
    let cfg = Config::from_file(fixtures().join("tiny/config.json")).unwrap();
    let mut varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let mut m = Qwen25VL::new(&cfg, vb).unwrap();
    // Checkpoint values into the variables (in place: the model sees them through live views).
    varmap
        .load(fixtures().join("tiny/model.safetensors"))
        .unwrap();
    m.mode = OpsMode::Differentiable;
    let inp = inputs("image_batch");
    let logits = m.forward(&inp).unwrap();
    let d = max_diff_masked(&logits, &get("image_batch.logits"), &inp.attention_mask);
    assert!(d <= 1e-4, "{d}");
    // A loss touching every output: sum of log-softmax at the real positions.
    let mask = candle_core::Tensor::from_vec(
        inp.attention_mask
            .iter()
            .map(|&v| v as f32)
            .collect::<Vec<_>>(),
        (inp.batch, inp.seq_len, 1),
        &dev,
    )
    .unwrap();
    let lp = candle_nn::ops::log_softmax(&logits, candle_core::D::Minus1).unwrap();
    let loss = lp.broadcast_mul(&mask).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let data = varmap.data().lock().unwrap();
    let mut missing: Vec<&String> = data
        .iter()
        .filter(|(_, v): &(&String, &Var)| grads.get(v.as_tensor()).is_none())
        .map(|(k, _)| k)
        .collect();
    missing.sort();
    assert!(missing.is_empty(), "no gradient for {missing:?}");
    assert_eq!(
        data.len(),
        lmmr1_model::weights::expected_tensors(&cfg).len()
    );
}
