//! SwiGLU `silu(gate)·up` as one pass (native, an autograd node when tracked), or composed.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use super::simd::exp_nonpos;
use super::{f32_slice, native_f32};
use crate::parallel::{worth_threads, PAR_MIN_ELEMS};

/// `silu(gate) · up`.
struct SwiGluNode;

#[inline(always)]
fn sigmoid(v: f32) -> f32 {
    let e = exp_nonpos(-v.abs());
    if v >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

impl CustomOp2 for SwiGluNode {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let gate = f32_slice(s1, l1, "swiglu gate")?;
        let up = f32_slice(s2, l2, "swiglu up")?;
        let mut out = vec![0f32; gate.len()];
        let body = |(o, (g, u)): (&mut [f32], (&[f32], &[f32]))| {
            pulp::Arch::new().dispatch(|| {
                for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
                    *o = g * sigmoid(g) * u;
                }
            })
        };
        const C: usize = 1 << 14;
        if worth_threads(gate.len(), PAR_MIN_ELEMS) {
            out.par_chunks_mut(C)
                .zip(gate.par_chunks(C).zip(up.par_chunks(C)))
                .for_each(body);
        } else {
            out.chunks_mut(C)
                .zip(gate.chunks(C).zip(up.chunks(C)))
                .for_each(body);
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        // (2, n): the gate gradient, then the up gradient.
        let both =
            gate.detach()
                .apply_op3_no_bwd(&up.detach(), &g.detach().contiguous()?, &SwiGluGrad)?;
        let gg = gate
            .track_op()
            .then(|| both.get(0)?.reshape(gate.shape()))
            .transpose()?;
        let gu = up
            .track_op()
            .then(|| both.get(1)?.reshape(up.shape()))
            .transpose()?;
        Ok((gg, gu))
    }
}

/// `d gate = g·u·σ(x)(1 + x(1 − σ(x)))`, `d up = g·x·σ(x)`.
struct SwiGluGrad;

impl CustomOp3 for SwiGluGrad {
    fn name(&self) -> &'static str {
        "swiglu-grad"
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
        let gate = f32_slice(s1, l1, "swiglu gate")?;
        let up = f32_slice(s2, l2, "swiglu up")?;
        let g = f32_slice(s3, l3, "swiglu gradient")?;
        let n = gate.len();
        let mut out = vec![0f32; 2 * n];
        let (dg, du) = out.split_at_mut(n);
        const C: usize = 1 << 14;
        dg.par_chunks_mut(C)
            .zip(du.par_chunks_mut(C))
            .zip(
                gate.par_chunks(C)
                    .zip(up.par_chunks(C))
                    .zip(g.par_chunks(C)),
            )
            .for_each(|((dg, du), ((x, u), g))| {
                pulp::Arch::new().dispatch(|| {
                    for ((((dg, du), &x), &u), &g) in
                        dg.iter_mut().zip(du.iter_mut()).zip(x).zip(u).zip(g)
                    {
                        let s = sigmoid(x);
                        *dg = g * u * s * (1.0 + x * (1.0 - s));
                        *du = g * x * s;
                    }
                })
            });
        Ok((CpuStorage::F32(out), Shape::from((2, n))))
    }
}

/// SwiGLU `silu(gate) · up` (same shapes): on CPU in f32 one pass (an autograd node when an
/// input is tracked; inference uses the same kernel without one); otherwise the composition.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> candle_core::Result<Tensor> {
    if native_f32(&[gate, up]) && gate.dims() == up.dims() {
        let (gate, up) = (gate.contiguous()?, up.contiguous()?);
        return if gate.track_op() || up.track_op() {
            gate.apply_op2(&up, SwiGluNode)
        } else {
            gate.apply_op2_no_bwd(&up, &SwiGluNode)
        };
    }
    gate.silu()? * up
}
