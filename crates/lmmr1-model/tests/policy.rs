//! The trainable policy and critic on the committed fixtures: the training forward equals the
//! inference (fused) forward and transformers' log-probs; every trainable parameter gets a
//! gradient and frozen ones none; activation recomputation gives the same gradients; the rollout
//! model follows in-place updates.

mod common;

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use common::*;
use lmmr1_model::generate::{generate, SamplingParams};
use lmmr1_model::rng::Rng;
use lmmr1_model::weights::{expected_tensors, TakeOnce};
use lmmr1_model::{Config, LogProbs, Policy, PolicyOptions, Qwen25VL, ValueModel};

const CASES: [(&str, &str); 7] = [
    ("tiny", "text"),
    ("tiny", "text_leftpad"),
    ("tiny_tied", "tied_text"),
    ("tiny", "image"),
    ("tiny", "image_multi"),
    ("tiny", "image_batch"),
    ("tiny", "video"),
];

fn policy(name: &str, freeze: &[&str], recompute: bool) -> Policy {
    let opts = PolicyOptions {
        freeze: freeze.iter().map(|s| s.to_string()).collect(),
        recompute,
    };
    Policy::from_dir(&fixtures().join(name), DType::F32, &Device::Cpu, &opts).unwrap()
}

/// max |a − b| where `mask` is 1; `a`, `b`, `mask`: `(B, N)`.
fn max_diff_where(a: &Tensor, b: &Tensor, mask: &Tensor) -> f32 {
    let d = (a - b).unwrap().abs().unwrap();
    (d * mask)
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// `max(1, max |t|)`.
fn scale_of(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
        .max(1.0)
}

fn l2(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
        .sqrt()
}

#[test]
fn policy_matches_inference() {
    for (name, case) in CASES {
        let fused = model(name);
        let inp = case_inputs(case);
        for recompute in [false, true] {
            let p = policy(name, &[], recompute);
            // Logits of the training forward against the fused inference forward, within 1e-5
            // relative to the logit scale (the tied checkpoint's logits reach ±53, where 1e-5
            // is 3 f32 ulps; the others stay within ±5).
            let want = fused.forward(&inp).unwrap();
            let scale = scale_of(&want);
            let d = max_diff_masked(&p.logits(&inp).unwrap(), &want, &inp.attention_mask);
            assert!(
                d <= 1e-5 * scale,
                "{case}: max |Δlogits| = {d} (scale {scale})"
            );
            // Log-probs (without and with a graph) against the fused model's teacher forcing.
            let start = inp.seq_len / 2;
            let n = inp.seq_len - start;
            let mask = response_mask(&inp, start);
            let want = fused
                .token_logprobs(&inp)
                .unwrap()
                .narrow(1, start - 1, n)
                .unwrap();
            let lp = p.log_probs(&inp, start, true).unwrap();
            assert_eq!(lp.logp.dims(), [inp.batch, n]);
            let d = max_diff_where(&lp.logp, &want, &mask);
            assert!(d <= 1e-5 * scale, "{case}: max |Δlogp| = {d}");
            let mut seen = None;
            p.forward_backward(&inp, start, true, |lp: &LogProbs| {
                seen = Some(lp.clone());
                Ok(lp.logp.sum_all()?)
            })
            .unwrap();
            let seen = seen.unwrap();
            let d = max_diff_where(&seen.logp, &want, &mask);
            assert!(
                d <= 1e-5 * scale,
                "{case} (training forward): max |Δlogp| = {d}"
            );
            let de = max_diff_where(
                seen.entropy.as_ref().unwrap(),
                lp.entropy.as_ref().unwrap(),
                &mask,
            );
            assert!(de <= 1e-5, "{case}: entropy differs by {de}");
        }
    }
}

/// `tools/qwen25vl_logprobs_fixture.py`: transformers' `log_softmax(logits).gather(targets)` and
/// entropy on the same checkpoints and inputs.
#[test]
fn log_probs_match_transformers() {
    let want =
        candle_core::safetensors::load(fixtures().join("logprobs.safetensors"), &Device::Cpu)
            .unwrap();
    let mut worst = 0f32;
    for (name, case) in CASES {
        let p = policy(name, &["visual"], false);
        let inp = case_inputs(case);
        for start in [1, inp.seq_len / 2] {
            let n = inp.seq_len - start;
            let lp = p.log_probs(&inp, start, true).unwrap();
            let mask = response_mask(&inp, start);
            let r = |k: &str| {
                want[&format!("{case}.{k}")]
                    .narrow(1, start - 1, n)
                    .unwrap()
            };
            let d = max_diff_where(&lp.logp, &r("logp"), &mask);
            let de = max_diff_where(lp.entropy.as_ref().unwrap(), &r("entropy"), &mask);
            assert!(
                d <= 1e-4 && de <= 1e-4,
                "{case} start {start}: |Δlogp| {d}, |Δentropy| {de}"
            );
            worst = worst.max(d).max(de);
        }
    }
    eprintln!("max |Δ| vs transformers (logp, entropy): {worst:.2e}");
}

#[test]
fn rollout_model_follows_in_place_updates() {
    let p = policy("tiny", &["visual"], false);
    let rollout = p.rollout_model().unwrap();
    let inp = inputs("image_batch");
    let before = rollout.forward(&inp).unwrap();
    let mut rng = Rng::new(7);
    for (_, v) in p.trainable_vars() {
        let noise = (randn(&mut rng, v.dims(), DType::F32) * 0.05).unwrap();
        v.set(&(v.as_tensor() + noise).unwrap()).unwrap();
    }
    let after = rollout.forward(&inp).unwrap();
    assert!(!after.track_op(), "the rollout model recorded a graph");
    // A fused model built from copies of the new weights.
    let copies: HashMap<String, Tensor> = p
        .named_tensors()
        .into_iter()
        .map(|(n, t)| (n, t.copy().unwrap()))
        .collect();
    let vb = VarBuilder::from_backend(Box::new(TakeOnce::new(copies)), DType::F32, Device::Cpu);
    let fresh = Qwen25VL::new(p.config(), vb).unwrap();
    let want = fresh.forward(&inp).unwrap();
    let d = max_diff_masked(&after, &want, &inp.attention_mask);
    assert!(d <= 1e-5, "rollout vs fresh: {d}");
    let moved = max_diff_masked(&after, &before, &inp.attention_mask);
    assert!(
        moved > 1e-2,
        "the update did not reach the rollout model ({moved})"
    );
    // Generation reads the same weights.
    let sp = SamplingParams {
        max_new_tokens: 6,
        ..SamplingParams::default()
    };
    let a = generate(&rollout, &inp, &sp).unwrap();
    let b = generate(&fresh, &inp, &sp).unwrap();
    assert_eq!(a.tokens, b.tokens);
}

#[test]
fn freeze_prefixes() {
    let cfg = Config::from_file(fixtures().join("tiny/config.json")).unwrap();
    let all = expected_tensors(&cfg);
    let n_visual = all.iter().filter(|(n, _)| n.starts_with("visual.")).count();
    let p = policy("tiny", &["visual", "model.layers.1."], false);
    let vars = p.trainable_vars();
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "not sorted");
    assert!(names
        .iter()
        .all(|n| !n.starts_with("visual.") && !n.starts_with("model.layers.1.")));
    assert_eq!(vars.len(), all.len() - n_visual - 12);
    // Export covers every weight, frozen ones as plain tensors.
    let named = p.named_tensors();
    assert_eq!(named.len(), all.len());
    assert!(named.iter().all(|(_, t)| !t.is_variable() && !t.track_op()));
    // Prefixes match on `.` boundaries, and one that matches nothing is an error naming it.
    for bad in ["visua", "model.layers.1.mlp.gate", "nothing"] {
        let opts = PolicyOptions {
            freeze: vec![bad.into()],
            recompute: false,
        };
        let e = Policy::from_dir(&fixtures().join("tiny"), DType::F32, &Device::Cpu, &opts)
            .unwrap_err()
            .to_string();
        assert!(e.contains(bad), "{e}");
    }
}

/// Names of the trainable variables without a finite, non-zero gradient.
fn bad_grads(vars: &[(String, Var)], grads: &GradStore) -> Vec<String> {
    vars.iter()
        .filter(|(_, v)| {
            grads.get(v.as_tensor()).is_none_or(|g| {
                let g = g.to_dtype(DType::F64).unwrap();
                let finite = g
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap()
                    .iter()
                    .all(|x| x.is_finite());
                !finite || l2(&g) == 0.0
            })
        })
        .map(|(n, _)| n.clone())
        .collect()
}

fn advantages(inp: &lmmr1_model::model::Inputs, start: usize, seed: u64) -> Tensor {
    randn(
        &mut Rng::new(seed),
        &[inp.batch, inp.seq_len - start],
        DType::F32,
    )
}

#[test]
fn every_trainable_parameter_gets_a_gradient() {
    // Image row and text row in one batch.
    let inp = inputs("image_batch");
    let start = 2;
    let mask = response_mask(&inp, start);
    let adv = advantages(&inp, start, 1);
    for freeze in [vec!["visual"], vec![]] {
        let p = policy("tiny", &freeze, false);
        let vars = p.trainable_vars();
        let (loss, grads) = p
            .forward_backward(&inp, start, true, |lp| pg_loss(lp, &adv, &mask, 0.01))
            .unwrap();
        assert!(loss.to_scalar::<f32>().unwrap().is_finite());
        assert!(!loss.track_op());
        let bad = bad_grads(&vars, &grads);
        assert!(
            bad.is_empty(),
            "freeze {freeze:?}: no usable gradient for {bad:?}"
        );
        // Only the trainable variables have entries.
        assert_eq!(grads.get_ids().count(), vars.len());
        let frozen = p.named_tensors().len() - vars.len();
        assert_eq!(frozen > 0, !freeze.is_empty());
    }
    // Tied embeddings: one variable, fed by both the lookup and the head.
    let p = policy("tiny_tied", &["visual"], false);
    let inp = inputs("tied_text");
    let mask = response_mask(&inp, start);
    let adv = advantages(&inp, start, 2);
    let (_, grads) = p
        .forward_backward(&inp, start, false, |lp| pg_loss(lp, &adv, &mask, 0.0))
        .unwrap();
    let bad = bad_grads(&p.trainable_vars(), &grads);
    assert!(bad.is_empty(), "tied: {bad:?}");
}

/// Mixed precision (bf16 and f16 compute, f32 masters), with and without recompute: every
/// trainable parameter gets a finite, non-zero gradient through the half-precision forward, in
/// its variable's dtype, and the loss and log-probs are f32.
#[test]
fn every_trainable_parameter_gets_a_gradient_in_half_precision() {
    let inp = inputs("image_batch");
    let start = 2;
    let mask = response_mask(&inp, start);
    let adv = advantages(&inp, start, 3);
    for dtype in [DType::BF16, DType::F16] {
        for recompute in [false, true] {
            let opts = PolicyOptions {
                freeze: Vec::new(),
                recompute,
            };
            let p = Policy::from_dir(&fixtures().join("tiny"), dtype, &Device::Cpu, &opts).unwrap();
            let params = p.trainable_params();
            assert!(params.iter().all(
                |q| q.var.dtype() == dtype && q.master.as_ref().unwrap().dtype() == DType::F32
            ));
            let (loss, grads) = p
                .forward_backward(&inp, start, true, |lp| {
                    assert_eq!(lp.logp.dtype(), DType::F32);
                    pg_loss(lp, &adv, &mask, 0.01)
                })
                .unwrap();
            assert_eq!(loss.dtype(), DType::F32);
            assert!(loss.to_scalar::<f32>().unwrap().is_finite());
            let vars = p.trainable_vars();
            let bad = bad_grads(&vars, &grads);
            assert!(bad.is_empty(), "{dtype:?} recompute {recompute}: {bad:?}");
            assert!(vars
                .iter()
                .all(|(_, v)| grads.get(v.as_tensor()).unwrap().dtype() == dtype));
        }
    }
}

fn value_loss(v: &Tensor, mask: &Tensor) -> lmmr1_model::Result<Tensor> {
    let target = (mask * 0.5)?;
    Ok((v - target)?.sqr()?.mul(mask)?.sum_all()?)
}

#[test]
fn every_critic_parameter_gets_a_gradient() {
    let inp = inputs("image_batch");
    let start = 2;
    let mask = response_mask(&inp, start);
    for freeze in [vec!["visual"], vec![]] {
        let opts = PolicyOptions {
            freeze: freeze.iter().map(|s| s.to_string()).collect(),
            recompute: false,
        };
        let c = ValueModel::from_dir(&fixtures().join("tiny"), DType::F32, &Device::Cpu, &opts, 3)
            .unwrap();
        let vars = c.trainable_vars();
        assert!(vars.iter().any(|(n, _)| n == "score.weight"));
        assert!(vars.iter().all(|(n, _)| n != "lm_head.weight"));
        let (_, grads) = c
            .forward_backward(&inp, start, |v| value_loss(v, &mask))
            .unwrap();
        let bad = bad_grads(&vars, &grads);
        assert!(bad.is_empty(), "critic, freeze {freeze:?}: {bad:?}");
        assert_eq!(grads.get_ids().count(), vars.len());
    }
}

/// Largest per-variable `‖a − b‖ / ‖a‖` between the gradients of two models with the same
/// variables (matched by name); every variable must have both.
fn max_rel_diff(va: &[(String, Var)], ga: &GradStore, vb: &[(String, Var)], gb: &GradStore) -> f64 {
    assert_eq!(va.len(), vb.len());
    let mut worst = 0f64;
    for ((n, a), (m, b)) in va.iter().zip(vb) {
        assert_eq!(n, m);
        let (a, b) = (ga.get(a.as_tensor()), gb.get(b.as_tensor()));
        let (a, b) = (
            a.unwrap_or_else(|| panic!("{n}")),
            b.unwrap_or_else(|| panic!("{n}")),
        );
        worst = worst.max(l2(&(a - b).unwrap()) / l2(a));
    }
    worst
}

#[test]
fn recompute_gives_the_same_gradients() {
    let inp = inputs("image_batch");
    let start = 3;
    let mask = response_mask(&inp, start);
    let adv = advantages(&inp, start, 4);
    let plain = policy("tiny", &[], false);
    let recomp = policy("tiny", &[], true);
    let run = |p: &Policy| {
        p.forward_backward(&inp, start, true, |lp| pg_loss(lp, &adv, &mask, 0.01))
            .unwrap()
    };
    let (la, ga) = run(&plain);
    let (lb, gb) = run(&recomp);
    let (va, vb) = (plain.trainable_vars(), recomp.trainable_vars());
    assert_eq!(gb.get_ids().count(), vb.len());
    let d = max_rel_diff(&va, &ga, &vb, &gb);
    eprintln!("recompute: max relative gradient difference {d:.2e}");
    assert!(d <= 1e-5, "policy: {d}");
    let dl = (la - lb)
        .unwrap()
        .abs()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(dl <= 1e-6, "losses differ by {dl}");
    // The critic too.
    let opts = |recompute| PolicyOptions {
        freeze: vec!["visual".into()],
        recompute,
    };
    let dir = fixtures().join("tiny");
    let c1 = ValueModel::from_dir(&dir, DType::F32, &Device::Cpu, &opts(false), 5).unwrap();
    let c2 = ValueModel::from_dir(&dir, DType::F32, &Device::Cpu, &opts(true), 5).unwrap();
    let (_, g1) = c1
        .forward_backward(&inp, start, |v| value_loss(v, &mask))
        .unwrap();
    let (_, g2) = c2
        .forward_backward(&inp, start, |v| value_loss(v, &mask))
        .unwrap();
    let d = max_rel_diff(&c1.trainable_vars(), &g1, &c2.trainable_vars(), &g2);
    assert!(d <= 1e-5, "critic: {d}");
}

#[test]
fn critic_values_read_the_hidden_state_before_each_token() {
    let p = policy("tiny", &["visual"], false);
    let c = ValueModel::from_named_tensors(
        p.config(),
        p.named_tensors(),
        9,
        &Device::Cpu,
        &PolicyOptions {
            freeze: vec!["visual".into()],
            recompute: false,
        },
    )
    .unwrap();
    let inp = inputs("image_batch");
    let start = 4;
    let n = inp.seq_len - start;
    let v = c.values(&inp, start).unwrap();
    assert_eq!(v.dims(), [inp.batch, n]);
    // Reference: the fused model's final hidden states times the head.
    let fused = model("tiny");
    let (h, _) = fused.forward_hidden(&inp, None).unwrap();
    let named: HashMap<String, Tensor> = c.named_tensors().into_iter().collect();
    let w = named["score.weight"].clone();
    let want = h
        .narrow(1, start - 1, n)
        .unwrap()
        .broadcast_matmul(&w.t().unwrap())
        .unwrap()
        .squeeze(2)
        .unwrap();
    let mask = response_mask(&inp, start);
    let d = max_diff_where(&v, &want, &mask);
    assert!(d <= 1e-5, "values vs hidden·score: {d}");
    // The head starts at N(0, 1/(hidden + 1)²) scale, and is the same for the same seed.
    let std = l2(&w) / (p.config().hidden_size as f64).sqrt();
    let expect = 1.0 / (p.config().hidden_size as f64 + 1.0);
    assert!(std > 0.5 * expect && std < 1.5 * expect, "score std {std}");
    // Own parameters: updating the policy leaves the critic alone.
    for (_, var) in p.trainable_vars() {
        var.set(&(var.as_tensor() * 2.0).unwrap()).unwrap();
    }
    let d = max_diff_where(&c.values(&inp, start).unwrap(), &v, &mask);
    assert_eq!(d, 0.0, "the critic aliases the policy's weights");
    // A saved critic (with `score.weight`) loads back to the same values.
    let dir = std::env::temp_dir().join(format!("lmmr1-critic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixtures().join("tiny/config.json"), dir.join("config.json")).unwrap();
    candle_core::safetensors::save(&named, dir.join("model.safetensors")).unwrap();
    let c2 = ValueModel::from_dir(
        &dir,
        DType::F32,
        &Device::Cpu,
        &PolicyOptions::default(),
        123,
    )
    .unwrap();
    let d = max_diff_where(&c2.values(&inp, start).unwrap(), &v, &mask);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(d <= 1e-6, "reloaded critic: {d}");
}

#[test]
fn bad_inputs_are_errors() {
    let p = policy("tiny", &[], false);
    let inp = inputs("text");
    for start in [0, inp.seq_len] {
        assert!(p.log_probs(&inp, start, false).is_err());
        assert!(p
            .forward_backward(&inp, start, false, |lp| Ok(lp.logp.sum_all()?))
            .is_err());
    }
    let e = p
        .forward_backward(&inp, 3, false, |lp| Ok(lp.logp.clone()))
        .unwrap_err();
    assert!(e.to_string().contains("scalar"), "{e}");
}
