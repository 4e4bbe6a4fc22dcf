//! Supervised fine-tuning memorises a small batch: the tiny model (all parameters trainable,
//! vision tower included) trained with `sft_loss` on the response tokens of an image row and a
//! left-padded text row; the loss falls by more than 100×.

mod common;

use candle_core::{DType, Device};
use common::*;
use lmmr1_model::{sft_loss, AdamW, AdamWConfig, Policy, PolicyOptions};

#[test]
fn sft_memorises_a_small_batch() {
    let p = Policy::from_dir(
        &fixtures().join("tiny"),
        DType::F32,
        &Device::Cpu,
        &PolicyOptions::default(),
    )
    .unwrap();
    let inp = inputs("image_batch");
    let start = 8; // row 0's prompt holds the image; the last 7 tokens are the "response"
    let mask = response_mask(&inp, start);
    let mut opt = AdamW::new(
        p.trainable_vars(),
        AdamWConfig {
            lr: 3e-3,
            ..AdamWConfig::default()
        },
    )
    .unwrap();
    let mut losses = Vec::new();
    for _ in 0..60 {
        let (loss, grads) = p
            .forward_backward(&inp, start, false, |lp| sft_loss(lp, &mask))
            .unwrap();
        losses.push(loss.to_scalar::<f32>().unwrap());
        opt.step(&grads, 3e-3).unwrap();
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    eprintln!("sft loss {first:.4} -> {last:.6} ({:.0}x)", first / last);
    assert!(first > 1.0, "unexpectedly low initial loss {first}");
    assert!(last * 100.0 < first, "loss {first} -> {last}: {losses:?}");
    // The memorised tokens are as likely under the rollout (fused, inference) model.
    let rollout = p.rollout_model().unwrap();
    let lp = rollout
        .token_logprobs(&inp)
        .unwrap()
        .narrow(1, start - 1, inp.seq_len - start)
        .unwrap();
    let nll = (lp * &mask)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
        / mask.sum_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(-nll * 100.0 < first, "rollout model: mean nll {}", -nll);
}
