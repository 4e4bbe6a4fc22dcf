//! Attention `softmax(scale·q·kᵀ + mask)·v` as one autograd node (native, flash-attention
//! style), its forward also serving inference on a KV cache read in place; or composed.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor, D};

use super::simd::{dot, exp_nonpos, max16, sum16};
use super::{f32_slice, masked_softmax, matmul, native_f32, poisoned, with_f32};
use crate::parallel::{worth_threads, PAR_MIN_MULS};

/// Mask values below this are "blocked": `scale·q·k + m` rounds to `m` in f32 for any sane
/// score, and the probability is exactly 0 unless the whole row is blocked.
const BLOCKED: f32 = -1.0e36;

/// Shapes of [`attention`]: q `(B, n, G·T, hd)`, k/v `(B, n, Tk, hd)`, mask `(B, T, Tk)`.
/// The keys and values may be the first `Tk` of `cap` positions (a KV cache): each
/// (batch, head) block spans `cap·hd` values and the transposed keys' rows `cap`.
#[derive(Clone, Copy)]
struct AttnDims {
    n: usize,
    gt: usize,
    t: usize,
    tk: usize,
    cap: usize,
    hd: usize,
    scale: f32,
}

impl AttnDims {
    /// The mask row of query row `r` (`(b·n + h)·G·T + i`).
    #[inline(always)]
    fn mask_row<'a>(&self, m: &'a [f32], r: usize) -> &'a [f32] {
        let i = self.mask_index(r);
        &m[i * self.tk..(i + 1) * self.tk]
    }

    /// The index `b·T + t` of query row `r`'s mask row.
    #[inline(always)]
    fn mask_index(&self, r: usize) -> usize {
        (r / (self.gt * self.n)) * self.t + r % self.t
    }

    /// [`AttnDims::span`] of every mask row of `m` `(B, T, Tk)`, computed once per node.
    fn spans(&self, m: &[f32]) -> Vec<(usize, usize)> {
        m.chunks_exact(self.tk.max(1)).map(AttnDims::span).collect()
    }

    /// The keys `lo..hi` that need computing: the span of visible keys (mask ≥ −1e36), all keys
    /// when none is visible. Keys outside the span have probability exactly 0 (their score
    /// `scale·q·k + m` rounds to `m`, more than 104 below the row max).
    #[inline(always)]
    fn span(mrow: &[f32]) -> (usize, usize) {
        match mrow.iter().position(|&m| m >= BLOCKED) {
            Some(lo) => {
                let hi = mrow.iter().rposition(|&m| m >= BLOCKED).unwrap_or(lo) + 1;
                (lo, hi)
            }
            None => (0, mrow.len()),
        }
    }

    /// Scale, mask and softmax of one row's scores over its span `lo..hi` (in place in
    /// `p[lo..hi]`). `stats`: the row's `(max, 1/Σexp)` when known (backward), else computed
    /// and returned.
    #[inline(always)]
    fn softmax_span(
        &self,
        p: &mut [f32],
        mrow: &[f32],
        (lo, hi): (usize, usize),
        stats: Option<[f32; 2]>,
    ) -> [f32; 2] {
        let p = &mut p[lo..hi];
        for (p, &m) in p.iter_mut().zip(&mrow[lo..hi]) {
            *p = *p * self.scale + m;
        }
        let [max, inv] = match stats {
            Some(st) => st,
            None => {
                let max = max16(p);
                for p in p.iter_mut() {
                    *p = exp_nonpos(*p - max);
                }
                let inv = 1.0 / sum16(p);
                for p in p.iter_mut() {
                    *p *= inv;
                }
                return [max, inv];
            }
        };
        for p in p.iter_mut() {
            *p = exp_nonpos(*p - max) * inv;
        }
        [max, inv]
    }

    /// Probabilities of the `nr` query rows from global row `r0` into `p` (`nr` rows of `tk`),
    /// exactly 0 outside each row's own span; returns the union `lo..hi` of the spans, its end
    /// moved up to a whole number of vector widths where the keys allow (the extra columns
    /// hold 0), so that the kernels that follow run without scalar tails.
    /// `stats`: per row `(max, 1/Σexp)`, read when `known`, else written.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn probs_block(
        &self,
        r0: usize,
        nr: usize,
        q: &[f32],
        kt: &[f32],
        (m, row_spans): (&[f32], &[(usize, usize)]),
        p: &mut [f32],
        stats: &mut [[f32; 2]],
        known: bool,
    ) -> (usize, usize) {
        let (hd, tk, cap) = (self.hd, self.tk, self.cap);
        let mut spans = [(0, 0); MR];
        let (mut lo, mut hi) = (tk, 0);
        for (k, s) in spans.iter_mut().enumerate().take(nr) {
            *s = row_spans[self.mask_index(r0 + k)];
            lo = lo.min(s.0);
            hi = hi.max(s.1);
        }
        if lo >= hi {
            return (0, 0);
        }
        let hi = (lo + (hi - lo).next_multiple_of(LANES)).min(tk);
        by_rows!(
            nr,
            scores_block(&q[r0 * hd..(r0 + nr) * hd], hd, (kt, cap), tk, (lo, hi), p)
        );
        for (k, &(a, b)) in spans.iter().enumerate().take(nr) {
            let row = &mut p[k * tk..(k + 1) * tk];
            let st = self.softmax_span(
                row,
                self.mask_row(m, r0 + k),
                (a, b),
                known.then_some(stats[k]),
            );
            stats[k] = st;
            row[lo..a.max(lo)].fill(0.0);
            row[b.min(hi)..hi].fill(0.0);
        }
        (lo, hi)
    }
}

/// Query rows per register block of the attention kernels.
const MR: usize = 8;
/// f32 lanes of the widest vector (AVX-512); smaller ISAs split the arrays.
const LANES: usize = 16;

/// Calls `f::<R>(args…)` with `R` = the runtime row count `nr` (1..=[`MR`]).
macro_rules! by_rows {
    ($nr:expr, $f:ident($($a:expr),*)) => {
        match $nr {
            8 => $f::<8>($($a),*),
            7 => $f::<7>($($a),*),
            6 => $f::<6>($($a),*),
            5 => $f::<5>($($a),*),
            4 => $f::<4>($($a),*),
            3 => $f::<3>($($a),*),
            2 => $f::<2>($($a),*),
            _ => $f::<1>($($a),*),
        }
    };
}
use by_rows;

/// Strided `R`-row views of one operand of [`rows_times`]: row `r` starts at `r·stride`.
#[derive(Clone, Copy)]
struct Rows<'a> {
    data: &'a [f32],
    stride: usize,
}

/// `out[r][c] = Σ_{k∈ks} a[r][k]·b[k][c]` for `R` rows and the columns `cs`: a register tile of
/// `R × 16` sums per 16 columns, one load of `b` per `R` multiply-adds, the sums running over
/// `k` in order; leftover columns are summed one by one. The attention scores are
/// `q·kᵀ` (`a` = queries over the head dimension, `b` = transposed keys) and the outputs
/// `p·v` (`a` = probabilities over the keys, `b` = values).
#[inline(always)]
fn rows_times<const R: usize>(
    a: Rows,
    ks: (usize, usize),
    b: Rows,
    (c0, c1): (usize, usize),
    out: &mut [f32],
    out_stride: usize,
) {
    let mut c = c0;
    while c + LANES <= c1 {
        let mut acc = [[0f32; LANES]; R];
        for k in ks.0..ks.1 {
            let col: &[f32; LANES] = b.data[k * b.stride + c..k * b.stride + c + LANES]
                .try_into()
                .expect("LANES columns");
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = a.data[r * a.stride + k];
                for l in 0..LANES {
                    acc[l] = x.mul_add(col[l], acc[l]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            out[r * out_stride + c..r * out_stride + c + LANES].copy_from_slice(acc);
        }
        c += LANES;
    }
    for c in c..c1 {
        for r in 0..R {
            let mut s = 0f32;
            for k in ks.0..ks.1 {
                s += a.data[r * a.stride + k] * b.data[k * b.stride + c];
            }
            out[r * out_stride + c] = s;
        }
    }
}

/// Scores `out[r][j] = Σ_d a[r][d]·bt[d][j]` for `j` in `span`: `R` rows `a` (`R × hd`), `bt`
/// (`hd` rows of stride `bt.1`), `out` `R` rows of `tk`.
#[inline(always)]
fn scores_block<const R: usize>(
    a: &[f32],
    hd: usize,
    bt: (&[f32], usize),
    tk: usize,
    span: (usize, usize),
    out: &mut [f32],
) {
    let (a, bt) = (
        Rows {
            data: a,
            stride: hd,
        },
        Rows {
            data: bt.0,
            stride: bt.1,
        },
    );
    rows_times::<R>(a, (0, hd), bt, span, out, tk);
}

/// `out[r][:] = Σ_{j∈span} p[r][j]·x[j][:]`: `R` rows of `p` (stride `tk`), rows `x`
/// (`tk × hd`), `out` `R × hd`.
#[inline(always)]
fn probs_times_rows<const R: usize>(
    p: &[f32],
    tk: usize,
    span: (usize, usize),
    x: &[f32],
    hd: usize,
    out: &mut [f32],
) {
    let (p, x) = (
        Rows {
            data: p,
            stride: tk,
        },
        Rows {
            data: x,
            stride: hd,
        },
    );
    rows_times::<R>(p, span, x, (0, hd), out, hd);
}

/// `outt[d][j] += Σ_r a[r][d]·s[r][j]` for `j` in `lo..hi`: `R` rows `a` (`R × hd`), `s`
/// (`R` rows of `tk`), `outt` (`hd × tk`).
#[inline(always)]
fn accumulate_cols<const R: usize>(
    a: &[f32],
    hd: usize,
    s: &[f32],
    tk: usize,
    (lo, hi): (usize, usize),
    outt: &mut [f32],
) {
    for d in 0..hd {
        let o = &mut outt[d * tk..(d + 1) * tk];
        let mut j = lo;
        while j + LANES <= hi {
            let mut acc: [f32; LANES] = o[j..j + LANES].try_into().expect("LANES columns");
            for r in 0..R {
                let x = a[r * hd + d];
                let sr: &[f32; LANES] = s[r * tk + j..r * tk + j + LANES]
                    .try_into()
                    .expect("LANES columns");
                for l in 0..LANES {
                    acc[l] = x.mul_add(sr[l], acc[l]);
                }
            }
            o[j..j + LANES].copy_from_slice(&acc);
            j += LANES;
        }
        for j in j..hi {
            for r in 0..R {
                o[j] += a[r * hd + d] * s[r * tk + j];
            }
        }
    }
}

/// `(…, R, C)` → `(…, C, R)` contiguous.
fn transposed(x: &Tensor) -> candle_core::Result<Tensor> {
    x.detach().transpose(D::Minus2, D::Minus1)?.contiguous()
}

/// `softmax(scale·q·kᵀ + mask)·v` per (batch, kv head), the `G` query heads of a kv head
/// stacked along the query axis. Keeps each row's max and `1/Σexp` for the backward, which
/// recomputes the probabilities (flash-attention style: no `T×Tk` tensor is stored). Query
/// rows go through register-blocked kernels [`MR`] at a time.
struct AttentionNode {
    dims: AttnDims,
    /// `(B, T, Tk)`, contiguous f32.
    mask: Tensor,
    /// The keys transposed, `(B, n, hd, cap)` (the backward transposes the values).
    kt: Tensor,
    /// Per mask row `(b, t)`: the span of visible keys ([`AttnDims::span`]).
    spans: Vec<(usize, usize)>,
    /// Per query row: `(max, 1/Σexp)`.
    stats: Mutex<Option<Vec<[f32; 2]>>>,
}

/// The forward of query rows `i0..` of one (batch, kv head) `bn`, run under
/// [`pulp::Arch::dispatch`] so that its loops are compiled for the CPU's widest SIMD.
struct AttnFwdRows<'a> {
    d: AttnDims,
    bn: usize,
    i0: usize,
    q: &'a [f32],
    kt: &'a [f32],
    /// The values in their own layout, `(B, n, Tk, hd)`.
    v: &'a [f32],
    m: &'a [f32],
    spans: &'a [(usize, usize)],
    out: &'a mut [f32],
    stats: &'a mut [[f32; 2]],
}

impl pulp::WithSimd for AttnFwdRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let d = self.d;
        let (hd, tk, gt, blk) = (d.hd, d.tk, d.gt, d.cap * d.hd);
        let kt = &self.kt[self.bn * blk..(self.bn + 1) * blk];
        let v = &self.v[self.bn * blk..(self.bn + 1) * blk];
        let mut p = vec![0f32; MR * tk];
        let rows = self.out.len() / hd.max(1);
        let mut i = 0;
        while i < rows {
            let nr = (rows - i).min(MR);
            let r0 = self.bn * gt + self.i0 + i;
            let span = d.probs_block(
                r0,
                nr,
                self.q,
                kt,
                (self.m, self.spans),
                &mut p,
                &mut self.stats[i..],
                false,
            );
            by_rows!(
                nr,
                probs_times_rows(&p, tk, span, v, hd, &mut self.out[i * hd..(i + nr) * hd])
            );
            i += nr;
        }
    }
}

/// The backward of one (batch, kv head): `dq` `(G·T, hd)`, `dkt`/`dvt` `(hd, Tk)`.
struct AttnBwdBlock<'a> {
    d: AttnDims,
    bn: usize,
    t: Bwd<'a>,
    stats: &'a [[f32; 2]],
    dq: &'a mut [f32],
    dkt: &'a mut [f32],
    dvt: &'a mut [f32],
}

impl pulp::WithSimd for AttnBwdBlock<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let (d, bn, t) = (self.d, self.bn, self.t);
        let (hd, tk, gt) = (d.hd, d.tk, d.gt);
        let blk = bn * tk * hd..(bn + 1) * tk * hd;
        let (kt, vt) = (&t.kt[blk.clone()], &t.vt[blk.clone()]);
        let k = &t.k[blk];
        let (mut p, mut ds) = (vec![0f32; MR * tk], vec![0f32; MR * tk]);
        let mut i = 0;
        while i < gt {
            let nr = (gt - i).min(MR);
            let r0 = bn * gt + i;
            let mut st = [[0f32; 2]; MR];
            st[..nr].copy_from_slice(&self.stats[r0..r0 + nr]);
            let span = d.probs_block(r0, nr, t.q, kt, (t.m, t.spans), &mut p, &mut st, true);
            let (lo, hi) = span;
            if lo < hi {
                let rows = r0 * hd..(r0 + nr) * hd;
                let (qb, gb) = (&t.q[rows.clone()], &t.g[rows.clone()]);
                // ds = p·(g·vⱼ − g·o)·scale (0 where p is)
                by_rows!(nr, scores_block(gb, hd, (vt, tk), tk, span, &mut ds));
                for k in 0..nr {
                    let rr = (r0 + k) * hd..(r0 + k + 1) * hd;
                    let delta = dot(&t.g[rr.clone()], &t.o[rr]);
                    let (pr, dr) = (
                        &p[k * tk + lo..k * tk + hi],
                        &mut ds[k * tk + lo..k * tk + hi],
                    );
                    for (ds, &p) in dr.iter_mut().zip(pr) {
                        *ds = p * (*ds - delta) * d.scale;
                    }
                }
                by_rows!(
                    nr,
                    probs_times_rows(&ds, tk, span, k, hd, &mut self.dq[i * hd..(i + nr) * hd])
                );
                by_rows!(nr, accumulate_cols(qb, hd, &ds, tk, span, self.dkt));
                by_rows!(nr, accumulate_cols(gb, hd, &p, tk, span, self.dvt));
            } else {
                self.dq[i * hd..(i + nr) * hd].fill(0.0);
            }
            i += nr;
        }
    }
}

impl AttentionNode {
    /// A node for `dims` with the mask `(B, 1, T, Tk)` and the transposed keys `kt`: the mask
    /// is made contiguous and its rows' key spans computed once.
    fn new(dims: AttnDims, mask: &Tensor, kt: Tensor) -> candle_core::Result<Self> {
        let mask = mask.detach().contiguous()?;
        let spans = with_f32(&mask, "attention mask", |m| dims.spans(m))?;
        Ok(Self {
            dims,
            mask,
            kt,
            spans,
            stats: Mutex::new(None),
        })
    }
}

impl CustomOp3 for AttentionNode {
    fn name(&self) -> &'static str {
        "attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        _: &CpuStorage,
        _: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let q = f32_slice(s1, l1, "attention queries")?;
        let v = f32_slice(s3, l3, "attention values")?;
        let d = self.dims;
        let (hd, gt) = (d.hd.max(1), d.gt.max(1));
        let rows = q.len() / hd;
        // Each (batch, kv head) in pieces of whole register blocks, about 4 tasks per thread.
        let units = (rows / gt).max(1);
        let pieces = (4 * rayon::current_num_threads()).div_ceil(units).max(1);
        let piece = gt.div_ceil(pieces).next_multiple_of(MR).min(gt);
        let mut out = vec![0f32; q.len()];
        let mut stats = vec![[0f32; 2]; rows];
        with_f32(&self.mask, "attention mask", |m| {
            with_f32(&self.kt, "attention keys", |kt| {
                let run = |bn: usize, c: usize, out: &mut [f32], stats: &mut [[f32; 2]]| {
                    pulp::Arch::new().dispatch(AttnFwdRows {
                        d,
                        bn,
                        i0: c * piece,
                        q,
                        kt,
                        v,
                        m,
                        spans: &self.spans,
                        out,
                        stats,
                    })
                };
                if worth_threads(rows * d.tk * hd, PAR_MIN_MULS) {
                    out.par_chunks_mut(gt * hd)
                        .zip(stats.par_chunks_mut(gt))
                        .enumerate()
                        .for_each(|(bn, (out, stats))| {
                            out.par_chunks_mut(piece * hd)
                                .zip(stats.par_chunks_mut(piece))
                                .enumerate()
                                .for_each(|(c, (out, stats))| run(bn, c, out, stats))
                        });
                } else {
                    // Decoding a small model: the handoff to the pool costs more than the work.
                    for (bn, (out, stats)) in out
                        .chunks_mut(gt * hd)
                        .zip(stats.chunks_mut(gt))
                        .enumerate()
                    {
                        run(bn, 0, out, stats);
                    }
                }
            })
        })??;
        *self.stats.lock().map_err(|_| poisoned("attention"))? = Some(stats);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        use rayon::prelude::*;
        if !(q.track_op() || k.track_op() || v.track_op()) {
            return Ok((None, None, None));
        }
        let stats = self
            .stats
            .lock()
            .map_err(|_| poisoned("attention"))?
            .take()
            .ok_or_else(|| candle_core::Error::Msg("attention: backward ran twice".into()))?;
        let d = self.dims;
        let (hd, tk, gt) = (d.hd.max(1), d.tk.max(1), d.gt.max(1));
        let qd = q.detach();
        let kd = k.detach().contiguous()?;
        let vt = transposed(v)?;
        let (od, gd) = (res.detach(), g.detach().contiguous()?);
        let mut dq = vec![0f32; q.elem_count()];
        // dk, dv transposed, (B, n, hd, Tk): the kernels accumulate 16 keys per vector.
        let mut dkt = vec![0f32; k.elem_count()];
        let mut dvt = vec![0f32; v.elem_count()];
        with_f32(&qd, "attention queries", |q| {
            with_f32(&kd, "attention keys", |k| {
                with_f32(&self.kt, "attention keys", |kt| {
                    with_f32(&vt, "attention values", |vt| {
                        with_f32(&od, "attention output", |o| {
                            with_f32(&gd, "attention gradient", |g| {
                                with_f32(&self.mask, "attention mask", |m| {
                                    let t = Bwd {
                                        q,
                                        k,
                                        kt,
                                        vt,
                                        o,
                                        g,
                                        m,
                                        spans: &self.spans,
                                    };
                                    dq.par_chunks_mut(gt * hd)
                                        .zip(dkt.par_chunks_mut(tk * hd))
                                        .zip(dvt.par_chunks_mut(tk * hd))
                                        .enumerate()
                                        .for_each(|(bn, ((dq, dkt), dvt))| {
                                            pulp::Arch::new().dispatch(AttnBwdBlock {
                                                d,
                                                bn,
                                                t,
                                                stats: &stats,
                                                dq,
                                                dkt,
                                                dvt,
                                            })
                                        });
                                })
                            })
                        })
                    })
                })
            })
        })???????;
        let back =
            |data: Vec<f32>, like: &Tensor, t: bool| -> candle_core::Result<Option<Tensor>> {
                if !like.track_op() {
                    return Ok(None);
                }
                let x = Tensor::from_vec(data, like.shape(), like.device())?;
                Ok(Some(if t {
                    let (b, n, tk, hd) = like.dims4()?;
                    x.reshape((b, n, hd, tk))?.transpose(2, 3)?.contiguous()?
                } else {
                    x
                }))
            };
        Ok((
            back(dq, q, false)?,
            back(dkt, k, true)?,
            back(dvt, v, true)?,
        ))
    }
}

/// The inputs of the attention backward kernel.
#[derive(Clone, Copy)]
struct Bwd<'a> {
    q: &'a [f32],
    /// The keys in their own layout, `(B, n, Tk, hd)`.
    k: &'a [f32],
    kt: &'a [f32],
    vt: &'a [f32],
    o: &'a [f32],
    g: &'a [f32],
    m: &'a [f32],
    spans: &'a [(usize, usize)],
}

/// Attention `softmax(q·kᵀ·scale + mask)·v` with the additive mask shared by the `groups`
/// query heads of each key/value head: q `(B, n_kv, groups·T, hd)`, k and v
/// `(B, n_kv, Tk, hd)`, mask `(B, 1, T, Tk)`; returns `(B, n_kv, groups·T, hd)`. One autograd
/// node on CPU for f32 (the mask gets no gradient): no `T×Tk` tensor is stored, blocked keys
/// (mask below −1e36) cost nothing, and the backward recomputes the probabilities. Otherwise
/// the composition (`matmul`, [`masked_softmax`], `matmul`).
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    scale: f64,
    groups: usize,
) -> candle_core::Result<Tensor> {
    match attention_cpu(q, k, v, mask, scale, groups, true)? {
        Some(y) => Ok(y),
        None => {
            let scores = matmul(q, &k.t()?, "attention scores q·kᵀ")?;
            matmul(
                &masked_softmax(&scores, mask, scale, groups)?,
                v,
                "attention output p·v",
            )
        }
    }
}

/// The forward kernel of [`attention`] for inference (no graph): `None` where it does not
/// apply (not CPU f32, or shapes that do not fit).
pub fn attention_no_grad(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    scale: f64,
    groups: usize,
) -> candle_core::Result<Option<Tensor>> {
    attention_cpu(q, k, v, mask, scale, groups, false)
}

/// The forward kernel of [`attention`] on a KV cache, for inference (no graph): the keys stored
/// transposed, `kt` `(B, n_kv, hd, cap)`, and the values `v` `(B, n_kv, cap, hd)`, both
/// contiguous, of which the first `len` positions are read in place (no copy per step). q
/// `(B, n_kv, groups·T, hd)`, mask `(B, 1, T, len)`. `None` where it does not apply (not CPU
/// f32, or shapes that do not fit).
pub fn attention_cached(
    q: &Tensor,
    kt: &Tensor,
    v: &Tensor,
    len: usize,
    mask: &Tensor,
    scale: f64,
    groups: usize,
) -> candle_core::Result<Option<Tensor>> {
    let (b, n, gt, hd) = q.dims4()?;
    let cap = v.dim(2)?;
    let t = gt / groups.max(1);
    let fits = kt.dims() == [b, n, hd, cap]
        && v.dims() == [b, n, cap, hd]
        && mask.dims() == [b, 1, t, len]
        && t * groups == gt
        && len <= cap
        && kt.is_contiguous()
        && v.is_contiguous();
    if !(native_f32(&[q, kt, v, mask]) && fits) {
        return Ok(None);
    }
    let dims = AttnDims {
        n,
        gt,
        t,
        tk: len,
        cap,
        hd,
        scale: scale as f32,
    };
    let node = AttentionNode::new(dims, mask, kt.detach())?;
    Ok(Some(q.contiguous()?.apply_op3_no_bwd(kt, v, &node)?))
}

fn attention_cpu(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    scale: f64,
    groups: usize,
    record: bool,
) -> candle_core::Result<Option<Tensor>> {
    let (b, n, gt, hd) = q.dims4()?;
    let tk = k.dim(2)?;
    let t = gt / groups.max(1);
    let fits = k.dims() == [b, n, tk, hd]
        && v.dims() == [b, n, tk, hd]
        && mask.dims() == [b, 1, t, tk]
        && t * groups == gt;
    if native_f32(&[q, k, v, mask]) && fits {
        let dims = AttnDims {
            n,
            gt,
            t,
            tk,
            cap: tk,
            hd,
            scale: scale as f32,
        };
        let node = AttentionNode::new(dims, mask, transposed(k)?)?;
        let (q, k, v) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
        return Ok(Some(if record {
            q.apply_op3(&k, &v, node)?
        } else {
            q.apply_op3_no_bwd(&k, &v, &node)?
        }));
    }
    Ok(None)
}
