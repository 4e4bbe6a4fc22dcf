//! The custom-gradient training ops (`kernels::{linear, token_logprobs, rms_norm,
//! masked_softmax, swiglu}`) inside the whole tiny model: the f32 gradients of every variable,
//! text and image inputs, equal the gradients of the same model run in f64, where those ops
//! fall back to plain candle compositions (the path the finite-difference checks cover).

mod train_support;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use lmmr1_model::model::Inputs;
use lmmr1_model::rng::Rng;
use lmmr1_model::{Config, OpsMode, Qwen25VL};
use train_support::*;

fn inputs() -> Inputs {
    // Row 0: text, image (grid 1×4×4 → 4 tokens), text; row 1: left padding, text only.
    let (img, vs, ve, pad) = (1000u32, 1002, 1003, 1005);
    let row0 = [11, vs, img, img, img, img, ve, 17, 300, 42, 7];
    let row1 = [pad, pad, pad, 5, 9, 801, 3, 64, 2, 99, 8];
    let ids: Vec<u32> = row0.iter().chain(&row1).copied().collect();
    let att: Vec<u32> = ids.iter().map(|&t| (t != pad) as u32).collect();
    let mut rng = Rng::new(3);
    let pv: Vec<f32> = (0..16 * 1176).map(|_| rng.uniform() as f32 - 0.5).collect();
    let pv = Tensor::from_vec(pv, (16, 1176), &Device::Cpu).unwrap();
    Inputs::new(2, ids, att, Some(pv), vec![[1, 4, 4]]).unwrap()
}

/// Weights on the targets: real, varied (a policy-gradient-like loss).
fn weights(inp: &Inputs, dtype: DType) -> Tensor {
    let t = inp.seq_len - 1;
    let w: Vec<f32> = (0..inp.batch * t)
        .map(|i| {
            let (b, j) = (i / t, i % t);
            let real = inp.attention_mask[b * inp.seq_len + j + 1] as f32;
            real * ((i % 5) as f32 - 1.5)
        })
        .collect();
    Tensor::from_vec(w, (inp.batch, t), &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

#[test]
fn custom_op_gradients_equal_f64_composed_gradients() {
    for name in ["tiny", "tiny_tied"] {
        let inp = inputs();
        // f32: the custom ops.
        let (_, varmap32, m32) = trainable(name);
        let lp = m32.token_logprobs(&inp).unwrap();
        let loss = (lp * weights(&inp, DType::F32)).unwrap().sum_all().unwrap();
        let g32 = loss.backward().unwrap();

        // f64: plain compositions.
        let cfg = Config::from_file(fixtures().join(name).join("config.json")).unwrap();
        let varmap64 = VarMap::new();
        let mut m64 = Qwen25VL::new(
            &cfg,
            VarBuilder::from_varmap(&varmap64, DType::F64, &Device::Cpu),
        )
        .unwrap();
        m64.mode = OpsMode::Differentiable;
        let src: std::collections::HashMap<String, Tensor> = named_vars(&varmap32)
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().detach()))
            .collect();
        for (n, v) in named_vars(&varmap64) {
            v.set(&src[&n].to_dtype(DType::F64).unwrap()).unwrap();
        }
        let logits = m64.forward(&inp).unwrap();
        let t = inp.seq_len - 1;
        let lsm = candle_nn::ops::log_softmax(&logits.narrow(1, 0, t).unwrap(), 2).unwrap();
        let targets: Vec<u32> = inp
            .input_ids
            .chunks(inp.seq_len)
            .flat_map(|r| r[1..].to_vec())
            .collect();
        let targets = Tensor::from_vec(targets, (inp.batch, t, 1), &Device::Cpu).unwrap();
        let lp64 = lsm.gather(&targets, 2).unwrap().squeeze(2).unwrap();
        let loss64 = (lp64 * weights(&inp, DType::F64))
            .unwrap()
            .sum_all()
            .unwrap();
        let g64 = loss64.backward().unwrap();

        let mut worst = (0f32, String::new());
        let vars32 = named_vars(&varmap32);
        for ((n, v32), (_, v64)) in vars32.iter().zip(named_vars(&varmap64)) {
            let a = g32
                .get(v32.as_tensor())
                .unwrap_or_else(|| panic!("{name}: no f32 grad for {n}"));
            let b = g64
                .get(v64.as_tensor())
                .unwrap_or_else(|| panic!("{name}: no f64 grad for {n}"));
            let b = b.to_dtype(DType::F32).unwrap();
            let scale = max_abs_diff(&b, &b.zeros_like().unwrap());
            assert!(scale > 0.0, "{name}: zero gradient for {n}");
            let rel = max_abs_diff(a, &b) / scale;
            if rel > worst.0 {
                worst = (rel, n.clone());
            }
        }
        assert!(
            worst.0 <= 1e-4,
            "{name}: worst relative gradient error {} at {}",
            worst.0,
            worst.1
        );
        assert_eq!(
            vars32.len(),
            lmmr1_model::weights::expected_tensors(&cfg).len(),
            "{name}"
        );
    }
}

/// `data` as a CPU tensor of `shape` in `dtype`.
fn tensor_of(data: &[f32], shape: &[usize], dtype: DType) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

/// The f32 gradient equals the f64 one within 1e-5 of the latter's largest entry (non-zero).
fn assert_relative_gradient(g32: &Tensor, g64: &Tensor) {
    let scale = max_abs_diff(g64, &g64.zeros_like().unwrap());
    assert!(scale > 0.0);
    assert!(max_abs_diff(g32, g64) / scale <= 1e-5);
}

/// `token_logprobs_entropy` (one f32 node) against `log_softmax` / `gather` / `−Σ p log p`
/// composed in f64: values, and the logits' gradient of a loss that weighs both outputs
/// (rows with a zero entropy weight take the kernel's other branch).
#[test]
fn token_logprobs_entropy_matches_f64_composition() {
    let (rows, vocab) = (7, 300); // 300 = one full 256-block and a 44-element tail
    let mut rng = Rng::new(11);
    let x: Vec<f32> = (0..rows * vocab)
        .map(|_| 6.0 * (rng.uniform() as f32 - 0.5))
        .collect();
    let tg: Vec<u32> = (0..rows).map(|r| (r * 41 % vocab) as u32).collect();
    let a: Vec<f32> = (0..rows).map(|r| r as f32 - 2.5).collect();
    let b: Vec<f32> = (0..rows).map(|r| [0.0, 1.5, -0.7][r % 3]).collect();
    let dev = Device::Cpu;
    let tg = Tensor::from_vec(tg, rows, &dev).unwrap();
    let run = |dtype: DType| {
        let v = candle_core::Var::from_tensor(&tensor_of(&x, &[rows, vocab], dtype)).unwrap();
        let (lp, h) = lmmr1_model::kernels::token_logprobs_entropy(v.as_tensor(), &tg).unwrap();
        let loss = ((&lp * tensor_of(&a, &[rows], dtype)).unwrap()
            + (&h * tensor_of(&b, &[rows], dtype)).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
        let g = loss.backward().unwrap().get(v.as_tensor()).unwrap().clone();
        let f = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
        (f(&lp), f(&h), f(&g))
    };
    let (lp32, h32, g32) = run(DType::F32);
    let (lp64, h64, g64) = run(DType::F64);
    assert!(max_abs_diff(&lp32, &lp64) <= 1e-5);
    assert!(max_abs_diff(&h32, &h64) <= 1e-5);
    assert_relative_gradient(&g32, &g64);
}

/// `head_token_logprobs` with entropy (the LM head inside the node) against `h·wᵀ`, then
/// log-softmax, gather and entropy composed in f64: values and the gradients of `h` and `w`,
/// natively and on the portable path, with the rows in one chunk and in several (the logits
/// recomputed in the backward).
#[test]
fn head_token_logprobs_matches_f64_composition() {
    let (rows, hid, vocab) = (6, 8, 270);
    let mut rng = Rng::new(5);
    let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform() as f32 - 0.5).collect() };
    let (h0, w0) = (draw(rows * hid), draw(vocab * hid));
    let a = draw(rows);
    let b = draw(rows);
    let dev = Device::Cpu;
    let tg: Vec<u32> = (0..rows).map(|r| (r * 97 % vocab) as u32).collect();
    let tg = Tensor::from_vec(tg, (2, rows / 2), &dev).unwrap();
    let run = |dtype: DType, chunk: usize| {
        let var = |v: &[f32], shape: &[usize]| {
            candle_core::Var::from_tensor(&tensor_of(v, shape, dtype)).unwrap()
        };
        let (h, w) = (var(&h0, &[2, rows / 2, hid]), var(&w0, &[vocab, hid]));
        let (lp, e) = lmmr1_model::kernels::logprobs::head_token_logprobs_in_chunks(
            h.as_tensor(),
            w.as_tensor(),
            &tg,
            true,
            chunk,
        )
        .unwrap();
        let e = e.unwrap();
        let loss = ((&lp * tensor_of(&a, &[2, rows / 2], dtype)).unwrap()
            + (&e * tensor_of(&b, &[2, rows / 2], dtype)).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
        let g = loss.backward().unwrap();
        let f = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
        let gh = f(g.get(h.as_tensor()).unwrap());
        let gw = f(g.get(w.as_tensor()).unwrap());
        (f(&lp), f(&e), gh, gw)
    };
    let (lp64, e64, gh64, gw64) = run(DType::F64, rows);
    for portable in [false, true] {
        let settings = lmmr1_model::kernels::KernelSettings {
            portable,
            check_gpu_layout: portable,
        };
        for chunk in [rows, 4, 1] {
            let (lp32, e32, gh32, gw32) = settings.scope(|| run(DType::F32, chunk));
            assert!(
                max_abs_diff(&lp32, &lp64) <= 1e-5,
                "portable {portable}, chunk {chunk}"
            );
            assert!(
                max_abs_diff(&e32, &e64) <= 1e-5,
                "portable {portable}, chunk {chunk}"
            );
            for (g32, g64) in [(&gh32, &gh64), (&gw32, &gw64)] {
                assert_relative_gradient(g32, g64);
            }
        }
    }
    // The f64 path in chunks too.
    let (lp, e, gh, gw) = run(DType::F64, 2);
    assert!(max_abs_diff(&lp, &lp64) <= 1e-6 && max_abs_diff(&e, &e64) <= 1e-6);
    assert!(max_abs_diff(&gh, &gh64) <= 1e-6 && max_abs_diff(&gw, &gw64) <= 1e-6);
}
