//! The ops of the model's forward, each in the implementation the [`OpsMode`] and the device
//! call for: candle's fused inference kernels, the native CPU kernels of [`crate::kernels`]
//! (one autograd node each), or device-generic compositions (the portable path, which CUDA
//! runs). Values agree to f32 rounding, so the parity tests hold in every combination.
//!
//! Reductions (RMSNorm, softmax) compute in f32 whatever the weights' dtype: a bf16 model
//! multiplies in bf16 and normalises in f32.

use std::sync::Arc;

use candle_core::{DType, Device, Tensor, D};

use crate::kernels::{self, native, work_dtype};
use crate::kv_cache::{CachedKv, KeyLayout};
use crate::matmul::PackedWeight;

/// Which implementation of RMSNorm, softmax and RoPE the forward uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpsMode {
    /// candle's fused kernels (`rms_norm`, `softmax_last_dim`, `rope`): inference only; they
    /// silently cut gradients (candle 0.11.1).
    #[default]
    Fused,
    /// Compositions of ops that all have a backward: for training.
    Differentiable,
}

/// RMSNorm `x / sqrt(mean(x²) + eps) * w`, computed in f32 (in f64 for f64 inputs, which
/// candle's fused kernel does not take: f64 always uses the composed ops).
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64, mode: OpsMode) -> candle_core::Result<Tensor> {
    let dtype = x.dtype();
    let work = work_dtype(dtype);
    let xf = x.to_dtype(work)?;
    let y = match mode {
        OpsMode::Fused if work == DType::F32 => {
            candle_nn::ops::rms_norm(&xf.contiguous()?, &w.to_dtype(work)?, eps as f32)?
        }
        OpsMode::Differentiable if x.track_op() || w.track_op() => {
            return kernels::rms_norm(x, w, eps);
        }
        _ => {
            let ms = xf.sqr()?.mean_keepdim(D::Minus1)?;
            xf.broadcast_div(&(ms + eps)?.sqrt()?)?
                .broadcast_mul(&w.to_dtype(work)?)?
        }
    };
    y.to_dtype(dtype)
}

/// Softmax over the last dimension, computed in f32 (f64 for f64) and returned in `x`'s dtype.
pub fn softmax_last(x: &Tensor, mode: OpsMode) -> candle_core::Result<Tensor> {
    let work = work_dtype(x.dtype());
    let xf = x.to_dtype(work)?;
    let y = match mode {
        OpsMode::Fused => candle_nn::ops::softmax_last_dim(&xf.contiguous()?)?,
        OpsMode::Differentiable => candle_nn::ops::softmax(&xf, D::Minus1)?,
    };
    y.to_dtype(x.dtype())
}

/// Attention probabilities `softmax(scores·scale + mask)` over the last dimension: scores
/// `(B, n_kv, groups·T, Tk)`, additive mask `(B, 1, T, Tk)` shared by the `groups` query heads
/// of each key/value head. When the scores carry gradients (differentiable mode) this is one
/// autograd node on the native path ([`kernels::masked_softmax`]).
pub fn masked_softmax(
    scores: &Tensor,
    mask: &Tensor,
    scale: f64,
    groups: usize,
    mode: OpsMode,
) -> candle_core::Result<Tensor> {
    if mode == OpsMode::Differentiable && scores.track_op() {
        return kernels::masked_softmax(scores, mask, scale, groups);
    }
    let (b, n, gt, tk) = scores.dims4()?;
    let work = work_dtype(scores.dtype());
    let att = (scores.to_dtype(work)? * scale)?
        .reshape((b, n, groups, gt / groups.max(1), tk))?
        .broadcast_add(&mask.to_dtype(work)?.unsqueeze(1)?)?
        .reshape((b, n, gt, tk))?;
    softmax_last(&att, mode)?.to_dtype(scores.dtype())
}

/// Attention `softmax(q·kᵀ·scale + mask)·v`: q `(B, n_kv, groups·T, hd)`, k and v
/// `(B, n_kv, Tk, hd)`, mask `(B, 1, T, Tk)` (see [`masked_softmax`]). When q, k or v carry
/// gradients (differentiable mode) this is one autograd node on the native path
/// ([`kernels::attention`]); otherwise, natively, its forward kernel without a node (prefill
/// and decoding); else the composition, whose matmuls go through [`kernels::matmul`].
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    scale: f64,
    groups: usize,
    mode: OpsMode,
) -> candle_core::Result<Tensor> {
    if mode == OpsMode::Differentiable && (q.track_op() || k.track_op() || v.track_op()) {
        return kernels::attention(q, k, v, mask, scale, groups);
    }
    if let Some(y) = kernels::attention_no_grad(q, k, v, mask, scale, groups)? {
        return Ok(y);
    }
    let scores = kernels::matmul(q, &k.t()?, "attention scores q·kᵀ")?;
    let p = masked_softmax(&scores, mask, scale, groups, mode)?;
    kernels::matmul(&p, v, "attention output p·v")
}

/// [`attention`] over a layer's KV cache (inference): natively the kernel reads the cache
/// buffers in place ([`kernels::attention_cached`]); elsewhere, or when a differentiable
/// forward tracks `q`, [`attention`] on views of the buffers.
pub fn attention_cached(
    q: &Tensor,
    kv: &CachedKv,
    mask: &Tensor,
    scale: f64,
    groups: usize,
    mode: OpsMode,
) -> candle_core::Result<Tensor> {
    let record = mode == OpsMode::Differentiable && q.track_op();
    if !record && kv.layout == KeyLayout::Transposed {
        if let Some(y) = kernels::attention_cached(q, &kv.k, &kv.v, kv.len, mask, scale, groups)? {
            return Ok(y);
        }
    }
    attention(q, &kv.keys()?, &kv.values()?, mask, scale, groups, mode)
}

/// Non-interleaved (rotate_half) RoPE. `x`: `(B, H, T, D)`; `cos`, `sin`: `(B, T, D/2)` (the
/// half-table; the second half of the head uses the same angles).
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor, mode: OpsMode) -> candle_core::Result<Tensor> {
    match mode {
        OpsMode::Fused => candle_nn::rotary_emb::rope(&x.contiguous()?, cos, sin),
        OpsMode::Differentiable => kernels::rope(x, cos, sin),
    }
}

/// GELU with the exact erf (PyTorch's `nn.GELU()` default), `x·(1 + erf(x/√2))/2`.
///
/// The differentiable form composes `erf`: candle 0.11.1's `gelu_erf` backward uses 0.398942
/// for `1/√(2π)` (a 7e-7 relative error in part of the gradient, which the f64
/// finite-difference check detects).
pub fn gelu_erf(x: &Tensor, mode: OpsMode) -> candle_core::Result<Tensor> {
    match mode {
        OpsMode::Fused => x.gelu_erf(),
        OpsMode::Differentiable => {
            (x * 0.5)? * ((x * std::f64::consts::FRAC_1_SQRT_2)?.erf()? + 1.0)?
        }
    }
}

/// A linear layer `y = x Wᵀ + b` (weight `(out, in)` as in checkpoints).
///
/// On CPU, f32 weights that are not training variables are packed once at load time for
/// [`PackedWeight::matmul`] (strips of output columns streamed in order; at the few rows of
/// batched decoding 1.1–1.8× candle's matmul, at thousands of rows 0.75–0.9×, see
/// [`crate::matmul`]); the packed copy replaces the weight, so it costs no memory. In other
/// dtypes the weight is stored transposed and contiguous, `(in, out)`: gemm then skips
/// repacking a strided right-hand side (71 → 211 GFLOP/s for 16×768·768×2048). Variables
/// (training) keep the live weight and use a transposed view, so an optimizer's in-place
/// updates are always seen.
///
/// Where the weight's own contiguous `(out, in)` layout is at hand without a copy (a detached
/// variable: the rollout copy of a trained policy; a tied LM head: the embeddings), CPU
/// inference computes `(W·xᵀ)ᵀ` instead, with the weight as gemm's left-hand side: for the
/// rollout copy that replaces the strided right-hand side (`x·W.t()`), and for many rows it is
/// the faster orientation anyway (see [`WEIGHT_LEFT_MIN_ROWS`]). A tied LM head is packed as
/// well (a copy of the embeddings) and uses it up to [`PACKED_MAX_ROWS`] rows.
#[derive(Debug, Clone)]
pub struct Linear {
    /// `(in, out)`: a transposed view (of a variable, of a kept weight, or on another device),
    /// or a transposed contiguous copy (CPU inference in other dtypes); `None` when packed.
    wt: Option<Tensor>,
    /// The variable itself `(out, in)`, when the weight is one (training).
    var: Option<Tensor>,
    b: Option<Tensor>,
    /// The weight `(out, in)`, contiguous, when it is shared at no cost (see above).
    w: Option<Tensor>,
    /// The packed weight (CPU f32 inference), shared by clones and detached copies.
    packed: Option<Arc<PackedWeight>>,
    /// `(out, in)`.
    shape: (usize, usize),
}

/// From this many input rows on, CPU inference with a contiguous `(out, in)` weight at hand
/// multiplies weight-first, `(W·xᵀ)ᵀ` (gemm 0.19 with AVX-512, 2 threads, best of 20 beside a
/// training run: 64×768 by 768×32000 148 → 263 GFLOP/s, 64×768 by 768×2048 191 → 231); below
/// it `x·Wᵀ` with the transposed copy is faster (16 rows by 768×2048: 178 against 106). Both
/// beat the strided `x·W.t()` of a variable's view (64 rows by 768×2048: 141; 16 rows: 50).
pub const WEIGHT_LEFT_MIN_ROWS: usize = 32;

/// Up to this many rows a layer that has both a packed and a kept weight (a tied LM head) uses
/// the packed one; above it gemm's cache blocking is faster (`examples/bench_matmul.rs`: 256
/// rows by 768×32000 about equal, 2048 rows 318 against 253 GFLOP/s).
pub const PACKED_MAX_ROWS: usize = 256;

impl Linear {
    /// From a checkpoint-layout weight `(out, in)` and an optional bias `(out)`.
    pub fn new(w: Tensor, b: Option<Tensor>) -> candle_core::Result<Self> {
        let shape = w.dims2()?;
        let var = w.is_variable().then(|| w.clone());
        let inference_cpu = native(w.device()) && !w.is_variable();
        let (wt, packed) = if inference_cpu && w.dtype() == DType::F32 {
            let p = kernels::with_f32(&w.contiguous()?, "linear weight", |data| {
                PackedWeight::from_rows(data, shape.0, shape.1)
            })?;
            (None, Some(Arc::new(p)))
        } else if inference_cpu {
            (Some(w.t()?.contiguous()?), None)
        } else {
            (Some(w.t()?), None)
        };
        Ok(Self {
            wt,
            var,
            b,
            w: None,
            packed,
            shape,
        })
    }

    /// As [`Linear::new`], also keeping `w` itself for the weight-first product of CPU
    /// inference (for a weight that is shared anyway, such as tied embeddings).
    pub fn new_keeping_weight(w: Tensor, b: Option<Tensor>) -> candle_core::Result<Self> {
        if !(native(w.device()) && w.is_contiguous()) {
            return Self::new(w, b);
        }
        Ok(Self {
            wt: Some(w.t()?),
            w: Some(w.clone()),
            ..Self::new(w, b)?
        })
    }

    /// The same layer on detached views of its tensors: shares their storage (no copy), records
    /// no graph, and sees in-place updates of the originals (`Var::set`).
    pub fn detach(&self) -> Self {
        let natural = self.var.as_ref().or(self.w.as_ref());
        Self {
            wt: self.wt.as_ref().map(Tensor::detach),
            var: None,
            b: self.b.as_ref().map(Tensor::detach),
            w: natural
                .filter(|w| native(w.device()) && w.is_contiguous())
                .map(Tensor::detach),
            packed: self.packed.clone(),
            shape: self.shape,
        }
    }

    /// The weight `(out, in)` as a training product reads it: the variable itself (so that its
    /// gradient lands on it), else the kept weight, a view of the transposed copy, or (packed
    /// weights) an unpacked copy, made on each call: a frozen layer (a plain tensor, so packed)
    /// whose input carries a gradient pays that copy per forward.
    pub fn product_weight(&self) -> candle_core::Result<Tensor> {
        if let Some(w) = self.var.as_ref().or(self.w.as_ref()) {
            return Ok(w.clone());
        }
        match (&self.wt, &self.packed) {
            (Some(wt), _) => wt.t(),
            (None, Some(p)) => Tensor::from_vec(p.to_rows(), self.shape, &Device::Cpu),
            (None, None) => candle_core::bail!("linear: no weight"),
        }
    }

    /// `x`: `(…, in)` → `(…, out)`. When gradients are recorded (a variable weight or bias, or
    /// a tracked input) this is one autograd node ([`kernels::linear`]) whose weight
    /// gradient goes straight to the variable.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.var.is_some() || x.track_op() || self.b.as_ref().is_some_and(|b| b.is_variable()) {
            return kernels::linear(x, &self.product_weight()?, self.b.as_ref());
        }
        let dims = x.dims().to_vec();
        let k = *dims.last().unwrap_or(&0);
        let m: usize = dims[..dims.len().saturating_sub(1)].iter().product();
        let x = x.contiguous()?.reshape((m, k))?;
        let packed = self
            .packed
            .as_ref()
            .filter(|_| self.wt.is_none() || m <= PACKED_MAX_ROWS);
        let y = match (packed, &self.w, &self.wt) {
            (Some(p), _, _) => {
                if !(x.device().is_cpu() && x.dtype() == DType::F32) || k != self.shape.1 {
                    candle_core::bail!(
                        "linear: input {:?} {:?} for a packed f32 weight {:?}",
                        x.dims(),
                        x.dtype(),
                        self.shape
                    );
                }
                let y = kernels::with_f32(&x, "linear input", |x| p.matmul(x, m))?;
                Tensor::from_vec(y, (m, self.shape.0), &Device::Cpu)?
            }
            (None, Some(w), Some(wt)) if m >= WEIGHT_LEFT_MIN_ROWS || !wt.is_contiguous() => {
                // xᵀ, then (out, m) → (m, out); transposed by tiles on CPU in f32.
                let cpu_f32 = x.device().is_cpu() && x.dtype() == DType::F32;
                let flip = |t: &Tensor, rows: usize, cols: usize| -> candle_core::Result<Tensor> {
                    if cpu_f32 {
                        let v = kernels::with_f32(t, "linear transpose", |v| {
                            crate::matmul::transpose(v, rows, cols)
                        })?;
                        Tensor::from_vec(v, (cols, rows), &Device::Cpu)
                    } else {
                        t.t()?.contiguous()
                    }
                };
                flip(&w.matmul(&flip(&x, m, k)?)?, self.shape.0, m)?
            }
            (None, _, Some(wt)) => kernels::matmul(&x, wt, "linear x·wᵀ")?,
            (None, _, None) => candle_core::bail!("linear: no weight"),
        };
        let y = match &self.b {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let mut out = dims;
        if let Some(l) = out.last_mut() {
            *l = self.shape.0;
        }
        y.reshape(out)
    }
}

/// Linear layers that read the same input (q/k/v, gate/up). For inference weights on CPU they
/// are fused into one matmul over concatenated weights (fewer, larger products); variables stay
/// separate [`Linear`]s so that training sees their live values.
#[derive(Debug, Clone)]
pub enum LinearGroup {
    /// One product; the outputs are split along the last dimension with these widths.
    Fused(Linear, Vec<usize>),
    /// One product per layer.
    Separate(Vec<Linear>),
}

impl LinearGroup {
    /// From checkpoint-layout weights `(out_i, in)` and optional biases.
    pub fn new(parts: Vec<(Tensor, Option<Tensor>)>) -> candle_core::Result<Self> {
        let fuse = parts.iter().all(|(w, b)| {
            native(w.device()) && !w.is_variable() && b.as_ref().is_none_or(|b| !b.is_variable())
        }) && (parts.iter().all(|(_, b)| b.is_some())
            || parts.iter().all(|(_, b)| b.is_none()));
        if !fuse || parts.len() < 2 {
            return Ok(Self::Separate(
                parts
                    .into_iter()
                    .map(|(w, b)| Linear::new(w, b))
                    .collect::<candle_core::Result<_>>()?,
            ));
        }
        let widths = parts
            .iter()
            .map(|(w, _)| w.dim(0))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let ws: Vec<&Tensor> = parts.iter().map(|(w, _)| w).collect();
        let w = Tensor::cat(&ws, 0)?;
        let b = if parts[0].1.is_some() {
            let bs: Vec<&Tensor> = parts.iter().filter_map(|(_, b)| b.as_ref()).collect();
            Some(Tensor::cat(&bs, 0)?)
        } else {
            None
        };
        Ok(Self::Fused(Linear::new(w, b)?, widths))
    }

    /// The same layers on detached views of their tensors (see [`Linear::detach`]).
    pub fn detach(&self) -> Self {
        match self {
            Self::Separate(ls) => Self::Separate(ls.iter().map(Linear::detach).collect()),
            Self::Fused(l, widths) => Self::Fused(l.detach(), widths.clone()),
        }
    }

    /// The outputs of each layer, in order.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Vec<Tensor>> {
        match self {
            Self::Separate(ls) => ls.iter().map(|l| l.forward(x)).collect(),
            Self::Fused(l, widths) => {
                let y = l.forward(x)?;
                let mut off = 0;
                widths
                    .iter()
                    .map(|&w| {
                        let part = y.narrow(D::Minus1, off, w);
                        off += w;
                        part
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn randn(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = crate::rng::Rng::new(seed);
        let v: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|_| rng.uniform() as f32 - 0.5)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// Every inference path of [`Linear`] (packed, weight-first with a kept or a
    /// detached-variable weight, `x·Wᵀ` on the transposed view, a bf16 transposed copy, with
    /// and without bias, below and above [`WEIGHT_LEFT_MIN_ROWS`] and [`PACKED_MAX_ROWS`])
    /// gives `x·Wᵀ + b`, as does the packed weight's training product.
    #[test]
    fn linear_orientations_agree() {
        // The native paths, whatever LMMR1_KERNELS says.
        crate::kernels::KernelSettings::default().scope(linear_orientations_agree_natively);
    }

    fn linear_orientations_agree_natively() {
        let (k, n) = (40, 24);
        let w = randn(&[n, k], 1);
        let b = randn(&[n], 2);
        for rows in [1, 5, WEIGHT_LEFT_MIN_ROWS, 70, PACKED_MAX_ROWS + 3] {
            let x = randn(&[1, rows, k], 3 + rows as u64);
            for bias in [None, Some(b.clone())] {
                let reference = x.broadcast_matmul(&w.t().unwrap()).unwrap();
                let reference = match &bias {
                    Some(b) => reference.broadcast_add(b).unwrap(),
                    None => reference,
                };
                let var = Var::from_tensor(&w).unwrap();
                let layers = [
                    Linear::new(w.clone(), bias.clone()).unwrap(),
                    Linear::new_keeping_weight(w.clone(), bias.clone()).unwrap(),
                    Linear::new(var.as_tensor().clone(), bias.clone())
                        .unwrap()
                        .detach(),
                ];
                assert!(layers[1].w.is_some() && layers[2].w.is_some());
                assert!(layers[0].packed.is_some() && layers[1].packed.is_some());
                let unpacked =
                    Linear::new(layers[0].product_weight().unwrap(), bias.clone()).unwrap();
                let bf16 = Linear::new(
                    w.to_dtype(DType::BF16).unwrap(),
                    bias.as_ref().map(|b| b.to_dtype(DType::BF16).unwrap()),
                )
                .unwrap();
                let y = bf16
                    .forward(&x.to_dtype(DType::BF16).unwrap())
                    .unwrap()
                    .to_dtype(DType::F32)
                    .unwrap();
                let d = (&y - &reference)
                    .and_then(|d| d.abs()?.max_all()?.to_scalar::<f32>())
                    .unwrap();
                assert!(d < 0.1, "bf16, {rows} rows: {d}");
                for (i, l) in layers.iter().chain([&unpacked]).enumerate() {
                    let y = l.forward(&x).unwrap();
                    assert_eq!(y.dims(), &[1, rows, n]);
                    let d = (&y - &reference)
                        .and_then(|d| d.abs()?.max_all()?.to_scalar::<f32>())
                        .unwrap();
                    assert!(
                        d < 1e-5,
                        "layer {i}, {rows} rows, bias {}: {d}",
                        bias.is_some()
                    );
                }
            }
        }
    }
}
