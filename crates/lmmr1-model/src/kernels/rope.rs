//! Rotate-half RoPE as one autograd node (native), or composed.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor, D};

use super::{f32_slice, native_f32};

/// `rotate_half`: `[x1, x2] → [−x2, x1]` over the last dimension.
pub fn rotate_half(x: &Tensor) -> candle_core::Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    let x1 = x.narrow(D::Minus1, 0, d / 2)?;
    let x2 = x.narrow(D::Minus1, d / 2, d / 2)?;
    Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)
}

/// Rotary embedding, rotate-half form, of `x` `(B, H, T, D)` with the half-tables `cos`, `sin`
/// `(B, T, D/2)`: `y₁ = x₁c − x₂s`, `y₂ = x₂c + x₁s`. Its backward is the same rotation by `−s`.
struct RopeNode {
    /// Rotate by `−sin` (the backward).
    inverse: bool,
}

impl CustomOp3 for RopeNode {
    fn name(&self) -> &'static str {
        "rope"
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
        let x = f32_slice(s1, l1, "rope x")?;
        let cos = f32_slice(s2, l2, "rope cos")?;
        let sin = f32_slice(s3, l3, "rope sin")?;
        let (b, h, t, d) = l1.shape().dims4()?;
        let half = d / 2;
        if d % 2 != 0 || cos.len() != b * t * half || sin.len() != cos.len() {
            return Err(candle_core::Error::Msg(format!(
                "rope: x {:?} needs cos/sin ({b}, {t}, {half}), got {:?} and {:?}",
                l1.shape(),
                l2.shape(),
                l3.shape()
            )));
        }
        let sign = if self.inverse { -1f32 } else { 1f32 };
        let mut out = vec![0f32; x.len()];
        // One task per (batch, head) plane of T·D values.
        out.par_chunks_mut(t * d)
            .zip(x.par_chunks(t * d))
            .enumerate()
            .for_each(|(plane, (y, x))| {
                let bb = plane / h;
                let table = bb * t * half..(bb + 1) * t * half;
                let (cos, sin) = (&cos[table.clone()], &sin[table]);
                pulp::Arch::new().dispatch(|| {
                    for ((y, x), (c, s)) in y
                        .chunks_exact_mut(d)
                        .zip(x.chunks_exact(d))
                        .zip(cos.chunks_exact(half).zip(sin.chunks_exact(half)))
                    {
                        let (y1, y2) = y.split_at_mut(half);
                        let (x1, x2) = x.split_at(half);
                        for i in 0..half {
                            let s = sign * s[i];
                            y1[i] = x1[i] * c[i] - x2[i] * s;
                            y2[i] = x2[i] * c[i] + x1[i] * s;
                        }
                    }
                })
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let gx = g.detach().contiguous()?.apply_op3_no_bwd(
            cos,
            sin,
            &RopeNode {
                inverse: !self.inverse,
            },
        )?;
        // `rope` only builds this node for constant tables.
        Ok((x.track_op().then_some(gx), None, None))
    }
}

/// Rotate-half RoPE `x·cos + rotate_half(x)·sin` of `x` `(B, H, T, D)` with half-tables `cos`,
/// `sin` `(B, T, D/2)`, as one autograd node (CPU, f32, `x` tracked, constant tables);
/// otherwise the composition.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    if native_f32(&[x, cos, sin]) && x.track_op() && !cos.track_op() && !sin.track_op() {
        return x.contiguous()?.apply_op3(
            &cos.contiguous()?,
            &sin.contiguous()?,
            RopeNode { inverse: false },
        );
    }
    let cos = Tensor::cat(&[cos, cos], D::Minus1)?.unsqueeze(1)?;
    let sin = Tensor::cat(&[sin, sin], D::Minus1)?.unsqueeze(1)?;
    x.broadcast_mul(&cos)? + rotate_half(x)?.broadcast_mul(&sin)?
}
