//! The native kernels against their compositions (f64 references), values and gradients.

use super::*;
use candle_core::{Device, Var, D};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = crate::rng::Rng::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| (rng.uniform() * 4.0 - 2.0) as f32).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
    let d = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let s = b
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    d / s.max(1e-6)
}

/// Values and gradients equal those of the composed ops (f64 reference) for every
/// combination of tracked arguments.
#[test]
fn linear_matches_composition() {
    for (bias, train_w, train_x) in [
        (true, true, true),
        (false, true, true),
        (true, false, true),
        (false, true, false),
    ] {
        let x = Var::from_tensor(&randn(&[2, 5, 7], 1)).unwrap();
        let w = Var::from_tensor(&randn(&[3, 7], 2)).unwrap();
        let b = Var::from_tensor(&randn(&[3], 3)).unwrap();
        let up = randn(&[2, 5, 3], 4);
        let xt = if train_x {
            x.as_tensor().clone()
        } else {
            x.as_tensor().detach()
        };
        let wt = if train_w {
            w.as_tensor().clone()
        } else {
            w.as_tensor().detach()
        };
        let bt = b.as_tensor().clone();
        let y = linear(&xt, &wt, bias.then_some(&bt)).unwrap();
        let grads = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
        // Reference in f64 with plain ops.
        let f = |t: &Tensor| t.detach().to_dtype(DType::F64).unwrap();
        let (x64, w64, b64) = (
            Var::from_tensor(&f(&x)).unwrap(),
            Var::from_tensor(&f(&w)).unwrap(),
            Var::from_tensor(&f(&b)).unwrap(),
        );
        let mut y64 = x64.broadcast_matmul(&w64.t().unwrap()).unwrap();
        if bias {
            y64 = y64.broadcast_add(&b64).unwrap();
        }
        let g64 = (&y64 * &f(&up))
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let c = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
        assert!(max_rel(&y, &c(&y64)) < 1e-6);
        let pairs = [
            (train_x, grads.get(&x), g64.get(&x64)),
            (train_w, grads.get(&w), g64.get(&w64)),
            (bias, grads.get(&b), g64.get(&b64)),
        ];
        for (i, (want, got, reference)) in pairs.into_iter().enumerate() {
            match (want, got) {
                (true, Some(g)) => {
                    assert!(max_rel(g, &c(reference.unwrap())) < 1e-5, "arg {i}")
                }
                (false, None) => {}
                (w, g) => panic!(
                    "arg {i}: wanted gradient {w}, got {:?}",
                    g.map(|g| g.dims().to_vec())
                ),
            }
        }
    }
}

#[test]
fn token_logprobs_matches_log_softmax_gather() {
    let logits = Var::from_tensor(&(randn(&[2, 3, 50], 5) * 3.0).unwrap()).unwrap();
    let targets = Tensor::new(&[[0u32, 49, 7], [3, 3, 20]], &Device::Cpu).unwrap();
    let up = randn(&[2, 3], 6);
    let lp = token_logprobs(&logits, &targets).unwrap();
    let grads = (&lp * &up).unwrap().sum_all().unwrap().backward().unwrap();
    let l64 = Var::from_tensor(&logits.to_dtype(DType::F64).unwrap()).unwrap();
    let ref_lp = candle_nn::ops::log_softmax(&l64, D::Minus1)
        .unwrap()
        .gather(&targets.unsqueeze(2).unwrap(), 2)
        .unwrap()
        .squeeze(2)
        .unwrap();
    let g64 = (&ref_lp * &up.to_dtype(DType::F64).unwrap())
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(max_rel(&lp, &ref_lp.to_dtype(DType::F32).unwrap()) < 1e-6);
    let g = grads.get(&logits).unwrap();
    let r = g64.get(&l64).unwrap().to_dtype(DType::F32).unwrap();
    assert!(max_rel(g, &r) < 1e-5, "{}", max_rel(g, &r));
    // Out-of-range targets are errors, not panics.
    let bad = Tensor::new(&[[0u32, 50, 7], [3, 3, 20]], &Device::Cpu).unwrap();
    assert!(token_logprobs(&logits, &bad).is_err());
}
/// f32 custom op vs the f64 composition: value and gradients of every input.
fn check_vs_f64(
    name: &str,
    inputs: &[Tensor],
    ours: impl Fn(&[Tensor]) -> Tensor,
    reference: impl Fn(&[Tensor]) -> Tensor,
    tracked: &[bool],
) {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).unwrap())
        .collect();
    let args: Vec<Tensor> = vars
        .iter()
        .zip(tracked)
        .map(|(v, &tr)| {
            if tr {
                v.as_tensor().clone()
            } else {
                v.as_tensor().detach()
            }
        })
        .collect();
    let y = ours(&args);
    let up = randn(y.dims(), 99);
    let grads = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
    let vars64: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(&t.to_dtype(DType::F64).unwrap()).unwrap())
        .collect();
    let args64: Vec<Tensor> = vars64.iter().map(|v| v.as_tensor().clone()).collect();
    let y64 = reference(&args64);
    let g64 = (&y64 * &up.to_dtype(DType::F64).unwrap())
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let c = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
    assert!(
        max_rel(&y, &c(&y64)) < 1e-5,
        "{name}: value {}",
        max_rel(&y, &c(&y64))
    );
    for (i, (v, v64)) in vars.iter().zip(&vars64).enumerate() {
        match (tracked[i], grads.get(v)) {
            (true, Some(g)) => {
                let r = c(g64.get(v64).unwrap());
                assert!(
                    max_rel(g, &r) < 1e-5,
                    "{name}: grad {i}: {}",
                    max_rel(g, &r)
                );
            }
            (false, None) => {}
            (t, g) => panic!("{name}: input {i} tracked {t}, gradient {:?}", g.is_some()),
        }
    }
}

#[test]
fn rms_norm_matches_composition() {
    let x = randn(&[3, 4, 16], 10);
    let w = (randn(&[16], 11) + 1.0).unwrap();
    let reference = |a: &[Tensor]| {
        let ms = a[0].sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
        a[0].broadcast_div(&(ms + 1e-6).unwrap().sqrt().unwrap())
            .unwrap()
            .broadcast_mul(&a[1])
            .unwrap()
    };
    for tracked in [[true, true], [true, false], [false, true]] {
        check_vs_f64(
            "rms_norm",
            &[x.clone(), w.clone()],
            |a| rms_norm(&a[0], &a[1], 1e-6).unwrap(),
            reference,
            &tracked,
        );
    }
}

#[test]
fn masked_softmax_matches_composition() {
    // B 2, n_kv 2, groups 3, T 4, Tk 4; a causal mask with one padded key in batch 1.
    let (b, n, g, t) = (2usize, 2usize, 3usize, 4usize);
    let scores = randn(&[b, n, g * t, t], 12);
    let mut m = vec![0f32; b * t * t];
    for bb in 0..b {
        for i in 0..t {
            for j in 0..t {
                if j > i || (bb == 1 && j == 0) {
                    m[(bb * t + i) * t + j] = f32::MIN;
                }
            }
        }
    }
    let mask = Tensor::from_vec(m, (b, 1, t, t), &Device::Cpu).unwrap();
    let scale = 0.35;
    let ours = |a: &[Tensor]| masked_softmax(&a[0], &mask, scale, g).unwrap();
    let mask64 = mask.to_dtype(DType::F64).unwrap();
    let reference = |a: &[Tensor]| {
        let att = (&a[0] * scale)
            .unwrap()
            .reshape((b, n, g, t, t))
            .unwrap()
            .broadcast_add(&mask64.unsqueeze(1).unwrap())
            .unwrap()
            .reshape((b, n, g * t, t))
            .unwrap();
        candle_nn::ops::softmax(&att, D::Minus1).unwrap()
    };
    check_vs_f64("masked_softmax", &[scores], ours, reference, &[true]);
}

/// The fused attention against the f64 composition `softmax(q·kᵀ·scale + mask)·v`, with a
/// causal mask, a padded key in the middle of one row span, and a fully masked row (batch
/// 1, query 0: its only visible key is padded); widths 19 and 18 exercise the vector tails.
#[test]
fn attention_matches_composition() {
    let (b, n, g, t, hd) = (2usize, 2usize, 2usize, 19usize, 18usize);
    let q = randn(&[b, n, g * t, hd], 15);
    let k = randn(&[b, n, t, hd], 16);
    let v = randn(&[b, n, t, hd], 17);
    let mut m = vec![0f32; b * t * t];
    for bb in 0..b {
        for i in 0..t {
            for j in 0..t {
                if j > i || (bb == 1 && (j == 0 || j == 7)) {
                    m[(bb * t + i) * t + j] = f32::MIN;
                }
            }
        }
    }
    let mask = Tensor::from_vec(m, (b, 1, t, t), &Device::Cpu).unwrap();
    let scale = 1.0 / (hd as f64).sqrt();
    let mask64 = mask.to_dtype(DType::F64).unwrap();
    let reference = |a: &[Tensor]| {
        let att = (a[0].matmul(&a[1].t().unwrap()).unwrap() * scale)
            .unwrap()
            .reshape((b, n, g, t, t))
            .unwrap()
            .broadcast_add(&mask64.unsqueeze(1).unwrap())
            .unwrap()
            .reshape((b, n, g * t, t))
            .unwrap();
        candle_nn::ops::softmax(&att, D::Minus1)
            .unwrap()
            .matmul(&a[2])
            .unwrap()
    };
    for tracked in [
        [true, true, true],
        [true, false, false],
        [false, true, false],
        [false, false, true],
    ] {
        check_vs_f64(
            "attention",
            &[q.clone(), k.clone(), v.clone()],
            |a| attention(&a[0], &a[1], &a[2], &mask, scale, g).unwrap(),
            reference,
            &tracked,
        );
    }
}

#[test]
fn swiglu_matches_composition() {
    let gate = (randn(&[4, 33], 13) * 3.0).unwrap();
    let up = randn(&[4, 33], 14);
    let reference = |a: &[Tensor]| (a[0].silu().unwrap() * &a[1]).unwrap();
    for tracked in [[true, true], [true, false], [false, true]] {
        check_vs_f64(
            "swiglu",
            &[gate.clone(), up.clone()],
            |a| swiglu(&a[0], &a[1]).unwrap(),
            reference,
            &tracked,
        );
    }
}

#[test]
fn rope_matches_composition() {
    // B 2, H 3, T 5, D 8; the tables differ per batch row (M-RoPE positions).
    let x = randn(&[2, 3, 5, 8], 15);
    let cos = randn(&[2, 5, 4], 16);
    let sin = randn(&[2, 5, 4], 17);
    let reference = |a: &[Tensor]| {
        let c = Tensor::cat(&[&a[1], &a[1]], D::Minus1)
            .unwrap()
            .unsqueeze(1)
            .unwrap();
        let s = Tensor::cat(&[&a[2], &a[2]], D::Minus1)
            .unwrap()
            .unsqueeze(1)
            .unwrap();
        (a[0].broadcast_mul(&c).unwrap() + rotate_half(&a[0]).unwrap().broadcast_mul(&s).unwrap())
            .unwrap()
    };
    check_vs_f64(
        "rope",
        &[x, cos, sin],
        |a| rope(&a[0], &a[1], &a[2]).unwrap(),
        reference,
        &[true, false, false],
    );
}
