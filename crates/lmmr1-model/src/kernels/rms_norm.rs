//! RMSNorm `x / √(mean(x²) + eps) · w` as one autograd node (native), or composed in f32.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor, D};

use super::{f32_slice, native_f32, work_dtype};
use crate::parallel::row_block;

/// `1/√(mean(x²) + eps)` of a row.
fn inv_rms(row: &[f32], eps: f32) -> f32 {
    let ms = row.iter().map(|&v| v * v).sum::<f32>() / row.len().max(1) as f32;
    1.0 / (ms + eps).sqrt()
}

/// `x / √(mean(x²) + eps) · w` over the last dimension.
struct RmsNormNode {
    eps: f32,
}

impl CustomOp2 for RmsNormNode {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let x = f32_slice(s1, l1, "rms_norm input")?;
        let w = f32_slice(s2, l2, "rms_norm weight")?;
        let d = w.len().max(1);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(d)
            .zip(x.par_chunks(d))
            .for_each(|(o, row)| {
                let r = inv_rms(row, self.eps);
                for ((o, &v), &w) in o.iter_mut().zip(row).zip(w) {
                    *o = v * r * w;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (rows, d) = (x.elem_count() / w.elem_count().max(1), w.elem_count());
        // (rows + 1, d): the input gradient, then the weight gradient.
        let both = x.detach().apply_op3_no_bwd(
            &w.detach(),
            &g.detach().contiguous()?,
            &RmsNormGrad { eps: self.eps },
        )?;
        let gx = x
            .track_op()
            .then(|| both.narrow(0, 0, rows)?.reshape(x.shape()))
            .transpose()?;
        let gw = w
            .track_op()
            .then(|| both.narrow(0, rows, 1)?.reshape(d))
            .transpose()?;
        Ok((gx, gw))
    }
}

/// `gx = r·(g·w − x̂·mean(g·w·x̂))`, `gw = Σ_rows g·x̂` with `x̂ = x·r`.
struct RmsNormGrad {
    eps: f32,
}

impl CustomOp3 for RmsNormGrad {
    fn name(&self) -> &'static str {
        "rms-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let x = f32_slice(s1, l1, "rms_norm input")?;
        let w = f32_slice(s2, l2, "rms_norm weight")?;
        let g = f32_slice(s3, l3, "rms_norm gradient")?;
        let d = w.len().max(1);
        let rows = x.len() / d;
        let mut out = vec![0f32; x.len() + d];
        let (gx, gw) = out.split_at_mut(x.len());
        let block = row_block(rows) * d;
        let partial: Vec<Vec<f32>> = gx
            .par_chunks_mut(block)
            .zip(x.par_chunks(block).zip(g.par_chunks(block)))
            .map(|(gx, (x, g))| {
                let mut gw = vec![0f32; d];
                for ((gx, x), g) in gx.chunks_mut(d).zip(x.chunks(d)).zip(g.chunks(d)) {
                    let r = inv_rms(x, self.eps);
                    let mut dot = 0f32;
                    for (((gw, &x), &g), &w) in gw.iter_mut().zip(x).zip(g).zip(w) {
                        let xh = x * r;
                        *gw += g * xh;
                        dot += g * w * xh;
                    }
                    let c = dot / d as f32;
                    for (((gx, &x), &g), &w) in gx.iter_mut().zip(x).zip(g).zip(w) {
                        *gx = r * (g * w - x * r * c);
                    }
                }
                gw
            })
            .collect();
        for p in partial {
            for (a, b) in gw.iter_mut().zip(p) {
                *a += b;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((rows + 1, d))))
    }
}

/// The dtype the compositions compute in: f64 stays f64 (gradient checks), the rest uses f32.
/// node (CPU, f32); other devices and dtypes: the composition, in f32 (f64 for f64).
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    if native_f32(&[x, w]) && w.rank() == 1 && x.dim(D::Minus1)? == w.dim(0)? {
        return x
            .contiguous()?
            .apply_op2(&w.contiguous()?, RmsNormNode { eps: eps as f32 });
    }
    let dtype = x.dtype();
    let work = work_dtype(dtype);
    let xf = x.to_dtype(work)?;
    let ms = xf.sqr()?.mean_keepdim(D::Minus1)?;
    xf.broadcast_div(&(ms + eps)?.sqrt()?)?
        .broadcast_mul(&w.to_dtype(work)?)?
        .to_dtype(dtype)
}
