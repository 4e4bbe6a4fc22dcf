//! Products `y = x·Wᵀ` with inference weights packed once at load time ([`PackedWeight`]).
//!
//! gemm 0.19 (candle's CPU matmul) packs both operands on every call; with the few rows of
//! batched decoding (every weight read once per step and used by only `m` rows) it reached
//! 194–241 GFLOP/s in situ during 100m decoding at 64 rows (2 threads). A weight packed once
//! into strips of 48 output columns, each strip a contiguous `(k, 48)` block, is streamed in
//! order by a register-tiled kernel (8 rows × 48 columns of sums with 16-lane vectors),
//! compiled for the CPU's widest SIMD through `pulp`'s safe runtime dispatch. Each output is one
//! sum over `k` in order, so results do not depend on the thread count.
//!
//! Measured with `examples/bench_matmul.rs` (candle's matmul on the weight transposed and
//! contiguous, its fastest layout, against this kernel; 100m-preset shapes `(768..2048) ×
//! (768..32000)`, streaming ~400 MB of distinct weights, 2 threads, best of 3): 1 row 1.1–1.8×,
//! 16 rows 1.3–1.7×, 64 rows 1.1–1.4× (305–386 GFLOP/s). From 256 rows on (prefill), threads
//! split the rows and write `y` in place: 256 rows 1.00–1.10×, 2048 rows 0.98–1.10× (two runs;
//! before the row split, with per-thread column blocks copied into `y`, 0.75–0.92× at 2048).

use rayon::prelude::*;

/// Columns per strip of [`PackedWeight`] (a multiple of every SIMD width).
const STRIP: usize = 48;

/// Fewest rows per thread's panel when [`PackedWeight::matmul`] splits rows across threads:
/// each weight value read from memory then serves at least this many rows.
const ROW_SPLIT_MIN_ROWS: usize = 64;

/// A weight `(n, k)` packed for [`PackedWeight::matmul`]: strips of [`STRIP`] output columns,
/// each strip a contiguous `(k, STRIP)` block (the last one zero-padded), so that the kernel
/// reads the weight once, in order.
#[derive(Debug, Clone)]
pub struct PackedWeight {
    data: Vec<f32>,
    k: usize,
    n: usize,
}

impl PackedWeight {
    /// Packs `w` `(n, k)` row-major (checkpoint layout).
    pub fn from_rows(w: &[f32], n: usize, k: usize) -> Self {
        assert_eq!(w.len(), n * k, "PackedWeight: shape");
        let strips = n.div_ceil(STRIP);
        let mut data = vec![0f32; strips * k * STRIP];
        data.par_chunks_mut((k * STRIP).max(1))
            .enumerate()
            .for_each(|(s, block)| {
                for j in 0..STRIP.min(n - s * STRIP) {
                    let row = &w[(s * STRIP + j) * k..(s * STRIP + j + 1) * k];
                    for (kk, &v) in row.iter().enumerate() {
                        block[kk * STRIP + j] = v;
                    }
                }
            });
        Self { data, k, n }
    }

    /// `(n, k)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.n, self.k)
    }

    /// The weight back in checkpoint layout, `(n, k)` row-major.
    pub fn to_rows(&self) -> Vec<f32> {
        let (k, n) = (self.k, self.n);
        let mut w = vec![0f32; n * k];
        for (j, row) in w.chunks_exact_mut(k.max(1)).enumerate() {
            let block = &self.data[(j / STRIP) * k * STRIP..];
            for (kk, v) in row.iter_mut().enumerate() {
                *v = block[kk * STRIP + j % STRIP];
            }
        }
        w
    }

    /// `y = x·wᵀ` for `x` `(m, k)` row-major; `y` `(m, n)` row-major. Rows go in panels of
    /// at most 512 KiB of `x` (kept in cache while the weight streams past). Many rows
    /// (prefill): the panels are split across threads, each writing its rows of `y` in place.
    /// Few rows (decoding): the strips of each panel are split across threads.
    pub fn matmul(&self, x: &[f32], m: usize) -> Vec<f32> {
        let (k, n) = (self.k, self.n);
        assert_eq!(x.len(), m * k, "PackedWeight::matmul: shape");
        let strips = n.div_ceil(STRIP);
        let threads = rayon::current_num_threads();
        let per_task = strips.div_ceil(4 * threads).max(1);
        let panel = ((128 * 1024) / k.max(1)).next_multiple_of(8).max(8);
        let worth_threads = |rows: usize| {
            crate::parallel::worth_threads(rows * k * n, 8 * crate::parallel::PAR_MIN_MULS)
        };
        if worth_threads(m) && m >= 2 * threads * ROW_SPLIT_MIN_ROWS {
            // Two panels or more per thread, each reusing every weight value for its rows.
            let rows = m
                .div_ceil(2 * threads)
                .next_multiple_of(8)
                .max(ROW_SPLIT_MIN_ROWS)
                .min(panel);
            let mut y = vec![0f32; m * n];
            y.par_chunks_mut(rows * n)
                .zip(x.par_chunks(rows * k))
                .for_each(|(out, x)| {
                    pulp::Arch::new().dispatch(PackedTask {
                        w: self,
                        x,
                        m: x.len() / k,
                        strips: (0, strips),
                        out,
                    })
                });
            return y;
        }
        let mut y = Vec::new();
        for r0 in (0..m).step_by(panel) {
            let rows = panel.min(m - r0);
            let x = &x[r0 * k..(r0 + rows) * k];
            let task = |(s0, s1): (usize, usize)| {
                let (c0, c1) = (s0 * STRIP, (s1 * STRIP).min(n));
                let mut out = vec![0f32; rows * (c1 - c0)];
                pulp::Arch::new().dispatch(PackedTask {
                    w: self,
                    x,
                    m: rows,
                    strips: (s0, s1),
                    out: &mut out,
                });
                (c0, out)
            };
            let blocks: Vec<(usize, Vec<f32>)> = if worth_threads(rows) {
                (0..strips.div_ceil(per_task))
                    .into_par_iter()
                    .map(|t| task((t * per_task, ((t + 1) * per_task).min(strips))))
                    .collect()
            } else {
                // Too little work to hand to the pool: one task, on this thread.
                vec![task((0, strips))]
            };
            let panel_y = scatter_columns(blocks, rows, n);
            if rows == m {
                // One panel (decoding): its matrix is the result, no copy into `y`.
                return panel_y;
            }
            y.reserve_exact(m * n - y.len());
            y.extend(panel_y);
        }
        y
    }
}

/// Assembles `(first column, (m, width) block)` pieces into one `(m, n)` matrix.
fn scatter_columns(blocks: Vec<(usize, Vec<f32>)>, m: usize, n: usize) -> Vec<f32> {
    if let [(0, only)] = blocks.as_slice() {
        if only.len() == m * n {
            return blocks
                .into_iter()
                .next()
                .map(|(_, b)| b)
                .unwrap_or_default();
        }
    }
    let mut y = vec![0f32; m * n];
    for (c0, b) in &blocks {
        let w = b.len() / m.max(1);
        for (r, row) in b.chunks_exact(w.max(1)).enumerate() {
            y[r * n + c0..r * n + c0 + w].copy_from_slice(row);
        }
    }
    y
}

/// Strips `s0..s1` of a [`PackedWeight`] product into `out` `(m, columns of the strips)`.
struct PackedTask<'a> {
    w: &'a PackedWeight,
    x: &'a [f32],
    m: usize,
    strips: (usize, usize),
    out: &'a mut [f32],
}

impl pulp::WithSimd for PackedTask<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let (k, n) = (self.w.k, self.w.n);
        let (s0, s1) = self.strips;
        let ow = (s1 * STRIP).min(n) - s0 * STRIP;
        // Rows per tile: 8 with 16-lane vectors (24 accumulators), 2 with narrower ones.
        let mr = if S::F32_LANES >= 16 { 8 } else { 2 };
        for s in s0..s1 {
            let block = &self.w.data[s * k * STRIP..(s + 1) * k * STRIP];
            let (oc, width) = ((s - s0) * STRIP, STRIP.min(n - s * STRIP));
            let mut r = 0;
            while r < self.m {
                let nr = (self.m - r).min(mr);
                let x = &self.x[r * k..(r + nr) * k];
                let out = &mut self.out[r * ow + oc..];
                let args = (x, k, block, out, ow, width);
                match nr {
                    8 => packed_tile::<8, S>(simd, args),
                    7 => packed_tile::<7, S>(simd, args),
                    6 => packed_tile::<6, S>(simd, args),
                    5 => packed_tile::<5, S>(simd, args),
                    4 => packed_tile::<4, S>(simd, args),
                    3 => packed_tile::<3, S>(simd, args),
                    2 => packed_tile::<2, S>(simd, args),
                    _ => packed_tile::<1, S>(simd, args),
                }
                r += nr;
            }
        }
    }
}

/// `R` rows × one strip: `out[r][..width] = Σ_kk x[r][kk]·block[kk][..width]`.
#[inline(always)]
fn packed_tile<const R: usize, S: pulp::Simd>(
    simd: S,
    (x, k, block, out, ow, width): (&[f32], usize, &[f32], &mut [f32], usize, usize),
) {
    let nv = STRIP / S::F32_LANES;
    let zero = simd.splat_f32s(0.0);
    let mut acc = [[zero; STRIP]; R];
    for kk in 0..k {
        let (b, _) = S::as_simd_f32s(&block[kk * STRIP..(kk + 1) * STRIP]);
        for (r, acc) in acc.iter_mut().enumerate() {
            let xv = simd.splat_f32s(x[r * k + kk]);
            for v in 0..nv {
                acc[v] = simd.mul_add_f32s(xv, b[v], acc[v]);
            }
        }
    }
    let mut tmp = [0f32; STRIP];
    for (r, acc) in acc.iter().enumerate() {
        let (t, _) = S::as_mut_simd_f32s(&mut tmp);
        t[..nv].copy_from_slice(&acc[..nv]);
        out[r * ow..r * ow + width].copy_from_slice(&tmp[..width]);
    }
}

/// `src` `(rows, cols)` row-major → `(cols, rows)` row-major, in 16 × 16 tiles (both sides
/// touch whole cache lines; candle's strided copy walks one of them a value at a time), bands
/// of tiles split across threads when large.
pub fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const T: usize = 16;
    assert_eq!(src.len(), rows * cols, "transpose: shape");
    let mut dst = vec![0f32; rows * cols];
    if rows == 0 || cols == 0 {
        return dst;
    }
    // A band: T output rows (= T source columns) × all source rows.
    let band = |(b, out): (usize, &mut [f32])| {
        let c0 = b * T;
        let nc = T.min(cols - c0);
        for r0 in (0..rows).step_by(T) {
            let nr = T.min(rows - r0);
            for c in 0..nc {
                let o = &mut out[c * rows + r0..c * rows + r0 + nr];
                for (r, o) in o.iter_mut().enumerate() {
                    *o = src[(r0 + r) * cols + c0 + c];
                }
            }
        }
    };
    if crate::parallel::worth_threads(rows * cols, crate::parallel::PAR_MIN_ELEMS) {
        dst.par_chunks_mut(T * rows).enumerate().for_each(band);
    } else {
        dst.chunks_mut(T * rows).enumerate().for_each(band);
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    fn reference(x: &[f32], m: usize, k: usize, w: &[f32], n: usize) -> Vec<f64> {
        let mut y = vec![0f64; m * n];
        for r in 0..m {
            for j in 0..n {
                y[r * n + j] = (0..k)
                    .map(|t| x[r * k + t] as f64 * w[j * k + t] as f64)
                    .sum();
            }
        }
        y
    }

    #[test]
    fn transpose_moves_every_value() {
        for &(r, c) in &[(1, 1), (3, 40), (17, 16), (100, 33), (300, 200)] {
            let x = data(r * c, 7);
            let t = transpose(&x, r, c);
            for i in 0..r {
                for j in 0..c {
                    assert_eq!(t[j * r + i], x[i * c + j], "{r}x{c} at ({i}, {j})");
                }
            }
        }
    }

    /// Packed products (strip tails, row tiles, panels, and the row split across threads)
    /// equal a plain product, and the packing round-trips.
    #[test]
    fn packed_weight_matches_a_plain_product() {
        for &(m, k, n) in &[
            (1, 16, 48),
            (5, 20, 7),
            (9, 64, 100),
            (64, 96, 200),
            (200, 2048, 50),
            (300, 2048, 50),
            (600, 700, 130),
        ] {
            let x = data(m * k, 3);
            let w = data(n * k, 4);
            let p = PackedWeight::from_rows(&w, n, k);
            assert_eq!(p.to_rows(), w);
            let want = reference(&x, m, k, &w, n);
            // One thread: the serial path; two: the strip split (few rows) or the row split
            // (many rows). Each output is one in-order sum, so both give the same bits.
            let on = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("thread pool")
                    .install(|| p.matmul(&x, m))
            };
            let got = on(2);
            assert_eq!(
                got,
                on(1),
                "{m}x{k}x{n}: results depend on the thread count"
            );
            let err = got
                .iter()
                .zip(&want)
                .map(|(&g, &w)| (g as f64 - w).abs())
                .fold(0f64, f64::max);
            // Sums of k terms below 1 in magnitude, accumulated in f32 in order.
            assert!(err < 2e-6 * k as f64, "{m}x{k}x{n}: max error {err}");
        }
    }
}
