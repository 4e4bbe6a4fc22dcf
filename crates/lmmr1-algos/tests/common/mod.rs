//! Shared helpers of the integration tests: f64 tensors from literals and back, ragged masks,
//! tolerance checks, and a central-difference gradient check.
#![allow(dead_code)]

use candle_core::{DType, Device, Tensor, Var};

/// A `(B, T)` f64 tensor from rows.
pub fn t2(rows: &[Vec<f64>]) -> Tensor {
    let b = rows.len();
    let t = rows[0].len();
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (b, t), &Device::Cpu).unwrap()
}

/// A `(B,)` f64 tensor.
pub fn t1(v: &[f64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), v.len(), &Device::Cpu).unwrap()
}

/// A `(B, T)` tensor read back as rows of f64.
pub fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    t.to_dtype(DType::F64).unwrap().to_vec2::<f64>().unwrap()
}

/// A scalar tensor as f64.
pub fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

/// The right-padded mask of the given lengths, as rows.
pub fn mask_rows(lens: &[usize], t: usize) -> Vec<Vec<f64>> {
    lens.iter()
        .map(|&l| (0..t).map(|k| if k < l { 1.0 } else { 0.0 }).collect())
        .collect()
}

/// Asserts `|a − b| ≤ tol` elementwise, with a readable message.
pub fn assert_rows_close(got: &[Vec<f64>], want: &[Vec<f64>], tol: f64) {
    assert_eq!(got.len(), want.len(), "row count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len(), "row {i} length");
        for (k, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= tol,
                "[{i}][{k}]: got {a}, want {b} (tol {tol})\n got {got:?}\nwant {want:?}"
            );
        }
    }
}

/// Asserts `|a − b| ≤ tol`.
pub fn assert_close(got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "got {got}, want {want} (tol {tol})"
    );
}

/// A small deterministic pseudo-random stream in `[lo, hi)` (an LCG; no `rand` dependency).
pub fn lcg(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// Compares the autograd gradient of `f` at `x0` with central differences (step 1e-6) and
/// returns the largest absolute error.
pub fn grad_check(x0: &[Vec<f64>], f: impl Fn(&Tensor) -> Tensor) -> f64 {
    let var = Var::from_tensor(&t2(x0)).unwrap();
    let loss = f(var.as_tensor());
    let grads = loss.backward().unwrap();
    let g = rows(
        grads
            .get(var.as_tensor())
            .expect("the input has no gradient"),
    );
    let h = 1e-6;
    let mut worst: f64 = 0.0;
    for i in 0..x0.len() {
        for k in 0..x0[0].len() {
            let mut xp = x0.to_vec();
            xp[i][k] += h;
            let mut xm = x0.to_vec();
            xm[i][k] -= h;
            let fd = (scalar(&f(&t2(&xp))) - scalar(&f(&t2(&xm)))) / (2.0 * h);
            worst = worst.max((fd - g[i][k]).abs());
        }
    }
    worst
}
