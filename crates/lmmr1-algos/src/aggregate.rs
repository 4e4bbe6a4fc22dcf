//! Loss aggregation: how a per-token loss matrix becomes one scalar (`rl-conventions.md` §2.8).

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::{dims2, expect_shape, mask_like, AlgoError, Result};

/// How a `(B, T)` per-token loss is reduced to a scalar; names as verl's `loss_agg_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LossAggregation {
    /// `Σ_{i,t} m·L / N_tok` over the global mini-batch (verl default, DAPO, OpenRLHF now).
    #[default]
    #[serde(rename = "token-mean")]
    TokenMean,
    /// `(1/N_seq) Σ_i (Σ_t m·L / Σ_t m)` (original GRPO; LMM-R1 at paper time).
    #[serde(rename = "seq-mean-token-mean")]
    SeqMeanTokenMean,
    /// `(1/N_seq) Σ_i Σ_t m·L`.
    #[serde(rename = "seq-mean-token-sum")]
    SeqMeanTokenSum,
    /// `Σ_{i,t} m·L / (N_seq · L_norm)` (Dr.GRPO; `L_norm` defaults to the padded length `T`).
    #[serde(rename = "seq-mean-token-sum-norm")]
    SeqMeanTokenSumNorm,
}

/// Global normalisers, so that summing the losses of micro-batches (and averaging over
/// data-parallel ranks) reproduces the loss of the whole mini-batch exactly.
///
/// With every field `None` and `dp_size = 1` the normalisers are those of the tensors passed in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossScale {
    /// `N_tok`: valid tokens in the whole mini-batch, all micro-batches and ranks (`token-mean`).
    pub global_token_count: Option<f64>,
    /// `N_seq`: sequences in the whole mini-batch, all micro-batches and ranks (`seq-mean-*`).
    pub global_seq_count: Option<f64>,
    /// `L_norm` for `seq-mean-token-sum-norm` (e.g. the maximum response length).
    pub norm_length: Option<f64>,
    /// Data-parallel ranks whose gradients are averaged; the loss is multiplied by it so that the
    /// average of rank losses is the global sum over the global count.
    pub dp_size: usize,
}

impl Default for LossScale {
    fn default() -> Self {
        Self {
            global_token_count: None,
            global_seq_count: None,
            norm_length: None,
            dp_size: 1,
        }
    }
}

/// Masked sum: `Σ_{i,t} m_{i,t}·x_{i,t}` (a scalar tensor).
///
/// # Shapes
/// `x`, `mask`: `(B, T)` → `()`.
pub fn masked_sum(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    expect_shape("mask", mask, x.dims())?;
    Ok(x.mul(&mask_like(mask, x)?)?.sum_all()?)
}

/// Masked mean over all valid tokens: `Σ m·x / max(Σ m, 1)` (a scalar tensor).
///
/// # Shapes
/// `x`, `mask`: `(B, T)` → `()`.
pub fn masked_mean(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let m = mask_like(mask, x)?;
    let count = crate::scalar(&m.sum_all()?)?.max(1.0);
    Ok((masked_sum(x, &m)? / count)?)
}

/// Reduces a per-token loss to a scalar: `token-mean` = `dp·Σ m·L / N_tok`,
/// `seq-mean-token-mean` = `dp·Σ_i(Σ_t m·L / Σ_t m) / N_seq`, `seq-mean-token-sum` =
/// `dp·Σ m·L / N_seq`, `seq-mean-token-sum-norm` = `dp·Σ m·L / (N_seq·L_norm)`.
///
/// Provenance: verl `agg_loss` (the global-normaliser form of verl ≥ 0.5 / OpenRLHF now). Rows with
/// an empty mask count as a sequence with zero loss in the `seq-mean-*` modes.
///
/// # Shapes
/// `loss`, `mask`: `(B, T)` → `()`.
pub fn aggregate_loss(
    loss: &Tensor,
    mask: &Tensor,
    mode: LossAggregation,
    scale: &LossScale,
) -> Result<Tensor> {
    let (b, t) = dims2("loss", loss)?;
    expect_shape("mask", mask, &[b, t])?;
    if scale.dp_size == 0 {
        return Err(AlgoError::InvalidConfig("dp_size must be ≥ 1".into()));
    }
    let m = mask_like(mask, loss)?;
    let dp = scale.dp_size as f64;
    let n_seq = scale.global_seq_count.unwrap_or(b as f64);
    let total = loss.mul(&m)?;
    let out = match mode {
        LossAggregation::TokenMean => {
            let n_tok = match scale.global_token_count {
                Some(n) => n,
                None => crate::scalar(&m.sum_all()?)?,
            };
            (total.sum_all()? * (dp / n_tok.max(1.0)))?
        }
        LossAggregation::SeqMeanTokenMean => {
            let per_seq_len = m.sum(1)?.maximum(1.0)?;
            let per_seq = total.sum(1)?.div(&per_seq_len)?;
            (per_seq.sum_all()? * (dp / n_seq.max(1.0)))?
        }
        LossAggregation::SeqMeanTokenSum => (total.sum_all()? * (dp / n_seq.max(1.0)))?,
        LossAggregation::SeqMeanTokenSumNorm => {
            let l = scale.norm_length.unwrap_or(t as f64);
            if l <= 0.0 {
                return Err(AlgoError::InvalidConfig("norm_length must be > 0".into()));
            }
            (total.sum_all()? * (dp / (n_seq.max(1.0) * l)))?
        }
    };
    Ok(out)
}
