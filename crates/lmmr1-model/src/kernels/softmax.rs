//! Attention probabilities `softmax(scores·scale + mask)` as one autograd node (native), or
//! composed in f32.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor, D};

use super::simd::max16;
use super::{f32_slice, native_f32, work_dtype};

/// `softmax(scores·scale + mask)` per row; scores `(B, n, G·T, Tk)`, mask `(B, T, Tk)`.
struct MaskedSoftmaxNode {
    scale: f32,
    /// `T`: rows of one mask per (batch, head, group).
    t: usize,
    /// `n·G·T`: rows per batch entry.
    rows_per_batch: usize,
}

impl CustomOp2 for MaskedSoftmaxNode {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let s = f32_slice(s1, l1, "attention scores")?;
        let m = f32_slice(s2, l2, "attention mask")?;
        let tk = *l1.dims().last().unwrap_or(&1);
        let mut out = vec![0f32; s.len()];
        out.par_chunks_mut(tk.max(1))
            .zip(s.par_chunks(tk.max(1)))
            .enumerate()
            .for_each(|(r, (o, row))| {
                let (b, t) = (r / self.rows_per_batch, r % self.t);
                let mrow = &m[(b * self.t + t) * tk..(b * self.t + t + 1) * tk];
                for ((o, &v), &mv) in o.iter_mut().zip(row).zip(mrow) {
                    *o = v * self.scale + mv;
                }
                let max = max16(o);
                let mut sum = 0f32;
                for o in o.iter_mut() {
                    // exp(z) rounds to 0 below −104; masked entries (≈ f32::MIN) skip libm's
                    // slow underflow path.
                    let z = *o - max;
                    *o = if z < -104.0 { 0.0 } else { z.exp() };
                    sum += *o;
                }
                for o in o.iter_mut() {
                    *o /= sum;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        scores: &Tensor,
        _mask: &Tensor,
        res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        if !scores.track_op() {
            return Ok((None, None));
        }
        let gs = res.detach().apply_op2_no_bwd(
            &g.detach().contiguous()?,
            &SoftmaxGrad { scale: self.scale },
        )?;
        Ok((Some(gs), None))
    }
}

/// `scale · y·(g − Σ g·y)` per row, from the softmax output `y`.
struct SoftmaxGrad {
    scale: f32,
}

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "softmax-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let y = f32_slice(s1, l1, "softmax output")?;
        let g = f32_slice(s2, l2, "softmax gradient")?;
        let tk = *l1.dims().last().unwrap_or(&1);
        let mut out = vec![0f32; y.len()];
        out.par_chunks_mut(tk.max(1))
            .zip(y.par_chunks(tk.max(1)).zip(g.par_chunks(tk.max(1))))
            .for_each(|(o, (y, g))| {
                let dot: f32 = y.iter().zip(g).map(|(y, g)| y * g).sum();
                for ((o, &y), &g) in o.iter_mut().zip(y).zip(g) {
                    *o = self.scale * y * (g - dot);
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `softmax(scores·scale + mask)` over the last dimension with the additive mask shared by the
/// `groups` query heads of each key/value head: scores `(B, n_kv, groups·T, Tk)`, mask
/// `(B, 1, T, Tk)`. One autograd node natively (CPU, f32; the mask gets no gradient); otherwise
/// the composition (`affine`, `broadcast_add`, `softmax`) in f32 (f64 for f64), returned in the
/// scores' dtype.
pub fn masked_softmax(
    scores: &Tensor,
    mask: &Tensor,
    scale: f64,
    groups: usize,
) -> candle_core::Result<Tensor> {
    let (b, n, gt, tk) = scores.dims4()?;
    let t = gt / groups.max(1);
    if native_f32(&[scores, mask]) && mask.dims() == [b, 1, t, tk] && t * groups == gt {
        return scores.contiguous()?.apply_op2(
            &mask.contiguous()?,
            MaskedSoftmaxNode {
                scale: scale as f32,
                t,
                rows_per_batch: n * gt,
            },
        );
    }
    let work = work_dtype(scores.dtype());
    let att = (scores.to_dtype(work)? * scale)?
        .reshape((b, n, groups, t, tk))?
        .broadcast_add(&mask.to_dtype(work)?.unsqueeze(1)?)?
        .reshape((b, n, gt, tk))?;
    candle_nn::ops::softmax(&att, D::Minus1)?.to_dtype(scores.dtype())
}
