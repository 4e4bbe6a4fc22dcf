//! Ops that exist both as a fused candle kernel (fast, but it records no gradient) and as a
//! composition of differentiable ops. The model picks one by [`OpsMode`]; values agree to f32
//! rounding, so the parity tests hold in both modes.

use candle_core::{DType, Tensor, D};

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

/// RMSNorm `x / sqrt(mean(x²) + eps) * w`, computed in f32.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64, mode: OpsMode) -> candle_core::Result<Tensor> {
    let dtype = x.dtype();
    let xf = x.to_dtype(DType::F32)?;
    let y = match mode {
        OpsMode::Fused => {
            candle_nn::ops::rms_norm(&xf.contiguous()?, &w.to_dtype(DType::F32)?, eps as f32)?
        }
        OpsMode::Differentiable => {
            let ms = xf.sqr()?.mean_keepdim(D::Minus1)?;
            xf.broadcast_div(&(ms + eps)?.sqrt()?)?
                .broadcast_mul(&w.to_dtype(DType::F32)?)?
        }
    };
    y.to_dtype(dtype)
}

/// Softmax over the last dimension.
pub fn softmax_last(x: &Tensor, mode: OpsMode) -> candle_core::Result<Tensor> {
    match mode {
        OpsMode::Fused => candle_nn::ops::softmax_last_dim(&x.contiguous()?),
        OpsMode::Differentiable => candle_nn::ops::softmax(x, D::Minus1),
    }
}

/// `rotate_half`: `[x1, x2] → [−x2, x1]` over the last dimension.
pub fn rotate_half(x: &Tensor) -> candle_core::Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    let x1 = x.narrow(D::Minus1, 0, d / 2)?;
    let x2 = x.narrow(D::Minus1, d / 2, d / 2)?;
    Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)
}

/// Non-interleaved (rotate_half) RoPE. `x`: `(B, H, T, D)`; `cos`, `sin`: `(B, T, D/2)` (the
/// half-table; the second half of the head uses the same angles).
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor, mode: OpsMode) -> candle_core::Result<Tensor> {
    match mode {
        OpsMode::Fused => candle_nn::rotary_emb::rope(&x.contiguous()?, cos, sin),
        OpsMode::Differentiable => {
            let cos = Tensor::cat(&[cos, cos], D::Minus1)?.unsqueeze(1)?;
            let sin = Tensor::cat(&[sin, sin], D::Minus1)?.unsqueeze(1)?;
            x.broadcast_mul(&cos)? + rotate_half(x)?.broadcast_mul(&sin)?
        }
    }
}

/// GELU with the exact erf (PyTorch's `nn.GELU()` default).
pub fn gelu_erf(x: &Tensor) -> candle_core::Result<Tensor> {
    x.gelu_erf()
}
