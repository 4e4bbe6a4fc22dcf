//! `y = x·wᵀ + b` as one autograd node (native), or composed.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor, D};

use super::{cpu_err, matmul, native_f32};

/// The node of [`linear`]: its forward multiplies straight into the output buffer (candle's
/// CPU matmul on the arguments' storages: no product tensor to copy out of) and adds the bias
/// in place; its backward computes `g·w`, `gᵀ·x` and `Σg` for the arguments that are tracked.
pub(crate) struct LinearNode;

impl LinearNode {
    /// `x·wᵀ (+ b)` for `x` contiguous `(…, in)` and `w` `(out, in)` with any strides.
    pub(crate) fn forward(
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (out, inp) = w.1.shape().dims2()?;
        let m = x.1.shape().elem_count() / inp.max(1);
        let (start, _) =
            x.1.contiguous_offsets()
                .ok_or_else(|| cpu_err("linear input"))?;
        let y = x.0.matmul(
            w.0,
            (1, m, out, inp),
            &Layout::contiguous_with_offset((m, inp), start),
            &w.1.transpose(0, 1)?,
        )?;
        let mut dims = x.1.dims().to_vec();
        if let Some(l) = dims.last_mut() {
            *l = out;
        }
        let y = match (y, bias) {
            (y, None) => y,
            (CpuStorage::F32(mut y), Some((CpuStorage::F32(b), l))) => {
                let (a, e) = l
                    .contiguous_offsets()
                    .ok_or_else(|| cpu_err("linear bias"))?;
                let b = &b[a..e];
                for row in y.chunks_exact_mut(out.max(1)) {
                    for (y, b) in row.iter_mut().zip(b) {
                        *y += b;
                    }
                }
                CpuStorage::F32(y)
            }
            _ => return Err(cpu_err("linear bias")),
        };
        Ok((y, Shape::from(dims)))
    }

    /// `(g·w, gᵀ·x)` for `x`: `(…, in)`, `w`: `(out, in)`, `g`: `(…, out)`.
    fn grads(
        x: &Tensor,
        w: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Tensor)> {
        let (out, inp) = w.dims2()?;
        let m = g.elem_count() / out.max(1);
        let g2 = g.detach().contiguous()?.reshape((m, out))?;
        let gx = if x.track_op() {
            Some(g2.matmul(&w.detach())?.reshape(x.shape())?)
        } else {
            None
        };
        let gw = if w.track_op() {
            let x2 = x.detach().contiguous()?.reshape((m, inp))?;
            Some(g2.t()?.matmul(&x2)?)
        } else {
            None
        };
        Ok((gx, gw, g2))
    }
}

impl CustomOp2 for LinearNode {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        w: &CpuStorage,
        lw: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Self::forward((x, lx), (w, lw), None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, _) = Self::grads(x, w, g)?;
        Ok((gx, gw))
    }
}

impl CustomOp3 for LinearNode {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        w: &CpuStorage,
        lw: &Layout,
        b: &CpuStorage,
        lb: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Self::forward((x, lx), (w, lw), Some((b, lb)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, g2) = Self::grads(x, w, g)?;
        let gb = if b.track_op() { Some(g2.sum(0)?) } else { None };
        Ok((gx, gw, gb))
    }
}

/// `y = x·wᵀ + b` over the last dimension as one autograd node: `x` `(…, in)`, `w` `(out, in)`
/// (any strides; its gradient `gᵀ·x` is contiguous `(out, in)`), `b` `(out)`. Gradients are
/// computed only for tracked arguments (a frozen weight costs no matmul in the backward).
/// Other devices and dtypes: `x·wᵀ + b` composed.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let (out, inp) = w.dims2()?;
    let k = x.dim(D::Minus1)?;
    if k != inp {
        candle_core::bail!("linear: input width {k} but weight {:?}", w.dims());
    }
    let m = x.elem_count() / inp.max(1);
    let mut out_dims = x.dims().to_vec();
    if let Some(l) = out_dims.last_mut() {
        *l = out;
    }
    let all: Vec<&Tensor> = [Some(x), Some(w), b].into_iter().flatten().collect();
    if !native_f32(&all) || b.is_some_and(|b| b.dims() != [out]) {
        let y = matmul(&x.contiguous()?.reshape((m, inp))?, &w.t()?, "linear x·wᵀ")?;
        let y = match b {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        return y.reshape(out_dims);
    }
    let x = x.contiguous()?;
    match b {
        Some(b) => x.apply_op3(w, &b.contiguous()?, LinearNode),
        None => x.apply_op2(w, LinearNode),
    }
}
