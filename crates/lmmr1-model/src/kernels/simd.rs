//! Vectorised helpers of the native kernels: sixteen f32 lanes (AVX-512's width; smaller ISAs
//! split the arrays), no libm calls, so that `pulp`'s dispatch compiles them for the CPU's
//! widest SIMD.

/// `Σ a·b` with sixteen partial sums (vectorises; f32 rounding like a gemm's).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `exp(z)` for softmax arguments `z ≤ 0`, written to vectorise (no libm call):
/// `2ⁿ·e^r` with `z = n·ln2 + r`, `|r| ≤ ln2/2`, `e^r` by its degree-7 Taylor polynomial
/// (relative error below 2e-7). Returns 0 below −87 (where `expf` is subnormal, < 2e-38).
/// `n` is rounded by adding 1.5·2²³ (the sum's low mantissa bits are then `n`), which keeps
/// the whole function in plain float and integer lane operations.
#[inline(always)]
pub(crate) fn exp_nonpos(z: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0;
    let zc = z.max(-87.0);
    let t = zc * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = zc - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    let two_n = f32::from_bits(t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23);
    if z < -87.0 {
        0.0
    } else {
        two_n * p
    }
}

/// Max of a slice (sixteen lanes: vectorises).
#[inline(always)]
pub(crate) fn max16(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let mut chunks = row.chunks_exact(16);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = if v > *l { v } else { *l };
        }
    }
    let tail = chunks.remainder().iter().copied();
    lanes
        .into_iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, f32::max)
}

/// Sum of a slice (sixteen partial sums: vectorises).
#[inline(always)]
pub(crate) fn sum16(row: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let mut chunks = row.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}
