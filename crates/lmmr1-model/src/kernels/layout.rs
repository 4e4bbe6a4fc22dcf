//! The operand layouts candle 0.11.1's CUDA GEMM accepts, and the matmul of the portable path
//! that checks them.
//!
//! candle's CPU matmul takes operands with any strides; its CUDA matmul hands them to cuBLAS's
//! strided batched GEMM and rejects what cuBLAS cannot express with `MatMulNonContiguous`
//! (`candle-core-0.11.1/src/cuda_backend/mod.rs`, `fn gemm_config`, lines 1402–1492). For
//! `lhs` `(…, m, k)` and `rhs` `(…, k, n)` with strides `s`:
//!
//! ```text
//! // The a tensor has dims batching, k, n (rhs)
//! let (lda, transa) = if (rhs_m1 == 1 || n == 1) && (rhs_m2 == n || k == 1) {
//!     (n as i32, cublasOperation_t::CUBLAS_OP_N)
//! } else if (rhs_m1 == k || n == 1) && (rhs_m2 == 1 || k == 1) {
//!     (k as i32, cublasOperation_t::CUBLAS_OP_T)
//! } else { Err(CudaError::MatMulNonContiguous { .. })? };
//! // (the same for lhs with (m, k) in place of (k, n)), and for the batch dimensions:
//! let stride_b: usize = match lhs_stride[..lhs_stride.len() - 2] {
//!     [s1, stride] if s1 == stride * lhs_l.dims()[1] => stride,
//!     [_, stride] if lhs_l.dims()[0] == 1 => stride,
//!     [stride, _] if lhs_l.dims()[1] == 1 => stride,
//!     [stride] => stride,
//!     [] => m * k,
//!     _ => Err(CudaError::MatMulNonContiguous { .. })?,
//! };
//! ```
//!
//! where `rhs_m1`/`rhs_m2` are the last and second-to-last strides. So each matrix must be
//! row-major with its row stride equal to its width, or column-major with its column stride
//! equal to its height (a transposed contiguous matrix), and at most two batch dimensions that
//! collapse into one stride. A narrowed view of a longer buffer (a KV cache) breaks the first
//! rule when the narrowed dimension is the one the stride must match.
//!
//! [`matmul`] is the portable path's matmul. With `LMMR1_CHECK_GPU_LAYOUT=1` (see
//! [`super::KernelSettings`]) it checks its operands first. The backward of a matmul is
//! `g·rhsᵀ` and `lhsᵀ·g` with `g` contiguous (candle accumulates gradients with `add`, which
//! makes them so), and the rule is symmetric under transposition (a row-major matrix's
//! transpose is column-major with the same strides), so operands that pass forward also pass
//! backward; `tests::backward_operands_pass_when_forward_ones_do` checks that claim on
//! generated layouts.

use candle_core::{Layout, Tensor};

use super::KernelSettings;

/// One matrix operand against the rule: `rows × cols` with the last two strides.
fn matrix_ok(m1: usize, m2: usize, rows: usize, cols: usize) -> bool {
    let row_major = (m1 == 1 || cols == 1) && (m2 == cols || rows == 1);
    let col_major = (m1 == rows || cols == 1) && (m2 == 1 || rows == 1);
    row_major || col_major
}

/// The batch dimensions against the rule (at most two, collapsing into one stride).
fn batch_ok(l: &Layout) -> bool {
    let stride = l.stride();
    let dims = l.dims();
    match &stride[..stride.len() - 2] {
        [s1, s2] => *s1 == s2 * dims[1] || dims[0] == 1 || dims[1] == 1,
        [_] | [] => true,
        _ => false,
    }
}

/// Whether candle 0.11.1's CUDA matmul accepts `lhs` `(…, m, k)` times `rhs` `(…, k, n)`;
/// `Err` says which operand breaks the rule and how.
pub fn check_gemm(lhs: &Layout, rhs: &Layout) -> Result<(), String> {
    let (ld, rd) = (lhs.dims(), rhs.dims());
    let rank = ld.len();
    if rank < 2 || rd.len() != rank {
        return Err(format!(
            "ranks {} and {} (expected equal, ≥ 2)",
            rank,
            rd.len()
        ));
    }
    let (m, k, n) = (ld[rank - 2], ld[rank - 1], rd[rank - 1]);
    let (ls, rs) = (lhs.stride(), rhs.stride());
    let mut errs = Vec::new();
    if !matrix_ok(rs[rank - 1], rs[rank - 2], k, n) {
        errs.push(format!(
            "rhs ({k}×{n}) has strides (…, {}, {}): cuBLAS needs (…, {n}, 1) or (…, 1, {k})",
            rs[rank - 2],
            rs[rank - 1]
        ));
    }
    if !matrix_ok(ls[rank - 1], ls[rank - 2], m, k) {
        errs.push(format!(
            "lhs ({m}×{k}) has strides (…, {}, {}): cuBLAS needs (…, {k}, 1) or (…, 1, {m})",
            ls[rank - 2],
            ls[rank - 1]
        ));
    }
    for (name, l) in [("lhs", lhs), ("rhs", rhs)] {
        if !batch_ok(l) {
            errs.push(format!(
                "{name} batch dims {:?} with strides {:?} do not collapse into one stride",
                &l.dims()[..rank - 2],
                &l.stride()[..rank - 2]
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

/// `a.matmul(b)` for the portable path. With the GPU layout check on, the operands are first
/// checked against candle's CUDA GEMM rule ([`check_gemm`]); a violation is an error naming
/// `op`, the dims and the strides.
pub fn matmul(a: &Tensor, b: &Tensor, op: &str) -> candle_core::Result<Tensor> {
    if KernelSettings::current().check_gpu_layout {
        check_matmul(a, b, op)?;
    }
    a.matmul(b)
}

/// The check of [`matmul`].
pub fn check_matmul(a: &Tensor, b: &Tensor, op: &str) -> candle_core::Result<()> {
    check_gemm(a.layout(), b.layout()).map_err(|e| {
        candle_core::Error::Msg(format!(
            "GPU layout check: matmul `{op}`: lhs {:?} strides {:?}, rhs {:?} strides {:?}: {e}",
            a.dims(),
            a.stride(),
            b.dims(),
            b.stride()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn zeros(shape: &[usize]) -> Tensor {
        Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap()
    }

    #[test]
    fn contiguous_and_transposed_operands_pass() {
        let x = zeros(&[3, 4]);
        let w = zeros(&[5, 4]);
        check_matmul(&x, &w.t().unwrap(), "x·wᵀ").unwrap();
        check_matmul(&x, &zeros(&[4, 5]), "x·w").unwrap();
        let q = zeros(&[2, 3, 6, 8]);
        let k = zeros(&[2, 3, 7, 8]);
        check_matmul(&q, &k.t().unwrap(), "q·kᵀ").unwrap();
    }

    /// The bug this rule was written for: keys stored transposed in a longer buffer
    /// `(B, n, hd, cap)`, narrowed to `len` positions and transposed back, then `q·kᵀ`.
    #[test]
    fn a_narrowed_transposed_cache_fails_and_a_natural_one_passes() {
        let (b, n, hd, cap, len) = (2, 2, 8, 16, 5);
        let q = zeros(&[b, n, 3, hd]);
        let kt = zeros(&[b, n, hd, cap]);
        let keys = kt.narrow(3, 0, len).unwrap().transpose(2, 3).unwrap();
        let e = check_matmul(&q, &keys.t().unwrap(), "attention scores")
            .unwrap_err()
            .to_string();
        assert!(e.contains("attention scores") && e.contains("rhs"), "{e}");
        // Full capacity happens to pass (the row stride equals the width).
        let full = kt.transpose(2, 3).unwrap();
        check_matmul(&q, &full.t().unwrap(), "full").unwrap();
        // Keys stored (B, n, cap, hd) and narrowed: passes at any length.
        let k = zeros(&[b, n, cap, hd]).narrow(2, 0, len).unwrap();
        check_matmul(&q, &k.t().unwrap(), "natural keys").unwrap();
        let p = zeros(&[b, n, 3, len]);
        check_matmul(&p, &k, "probs·v").unwrap();
    }

    #[test]
    fn three_batch_dims_fail() {
        let a = zeros(&[2, 2, 2, 3, 4]);
        let b = zeros(&[2, 2, 2, 4, 5]);
        assert!(check_matmul(&a, &b, "5-d").is_err());
    }

    /// Forward-valid operands give backward-valid ones: `g·rhsᵀ` and `lhsᵀ·g` with `g`
    /// contiguous, over generated shapes and stride patterns (contiguous, transposed, narrowed
    /// views, unit dims).
    #[test]
    fn backward_operands_pass_when_forward_ones_do() {
        let mut rng = crate::rng::Rng::new(3);
        let mut pick = |n: u64| (rng.next_u64() % n) as usize;
        let mut checked = 0;
        for _ in 0..20_000 {
            let (m, k, n) = (1 + pick(4), 1 + pick(4), 1 + pick(4));
            let batch = [1 + pick(3), 1 + pick(3)];
            let view = |rows: usize, cols: usize, how: usize, extra: usize| -> Layout {
                let (r, c) = if how % 2 == 0 {
                    (rows, cols + extra)
                } else {
                    (cols, rows + extra)
                };
                let l = Layout::contiguous((batch[0], batch[1], r, c));
                if how % 2 == 0 {
                    l.narrow(3, 0, cols).unwrap()
                } else {
                    l.narrow(3, 0, rows).unwrap().transpose(2, 3).unwrap()
                }
            };
            let (lh, rh) = (view(m, k, pick(2), pick(2)), view(k, n, pick(2), pick(2)));
            if check_gemm(&lh, &rh).is_err() {
                continue;
            }
            checked += 1;
            let g = Layout::contiguous((batch[0], batch[1], m, n));
            check_gemm(&g, &rh.transpose(2, 3).unwrap()).unwrap();
            check_gemm(&lh.transpose(2, 3).unwrap(), &g).unwrap();
        }
        assert!(checked > 1000, "{checked}");
    }
}
