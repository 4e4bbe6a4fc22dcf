//! The clipped value (critic) loss (`rl-conventions.md` §2.6, `method.md` §2.3 step 9).

use candle_core::Tensor;
use serde::Deserialize;

use crate::aggregate::{aggregate_loss, masked_mean, LossAggregation, LossScale};
use crate::{dims2, expect_shape, mask_like, AlgoError, Metrics, Result};

/// Configuration of [`value_loss`]; defaults are LMM-R1's (`value_clip` 0.2, `token-mean`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default)]
pub struct ValueLossConfig {
    /// `ε_v`: `V` is kept within `V_old ± ε_v` in the clipped term; `None` disables clipping.
    pub value_clip: Option<f64>,
    /// Loss aggregation.
    pub aggregation: LossAggregation,
}

impl Default for ValueLossConfig {
    fn default() -> Self {
        Self {
            value_clip: Some(0.2),
            aggregation: LossAggregation::TokenMean,
        }
    }
}

/// Clipped value loss: `L = agg(½·max((V − G)², (V_old + clip(V − V_old, ±ε_v) − G)²))`
/// (without clipping `agg(½(V − G)²)`).
///
/// As OpenRLHF `ValueLoss` / verl `compute_value_loss`. Reports `critic/vf_loss`,
/// `critic/vf_clipfrac` (tokens where the clipped term is the larger) and `critic/vpred_mean`.
///
/// # Shapes
/// `values`, `old_values`, `returns`, `mask`: `(B, T)` → `()`.
pub fn value_loss(
    values: &Tensor,
    old_values: &Tensor,
    returns: &Tensor,
    mask: &Tensor,
    cfg: &ValueLossConfig,
    scale: &LossScale,
) -> Result<(Tensor, Metrics)> {
    let (b, t) = dims2("values", values)?;
    expect_shape("old_values", old_values, &[b, t])?;
    expect_shape("returns", returns, &[b, t])?;
    expect_shape("mask", mask, &[b, t])?;
    let dtype = values.dtype();
    let m = mask_like(mask, values)?;
    let old = old_values.to_dtype(dtype)?.detach();
    let ret = returns.to_dtype(dtype)?.detach();
    let unclipped = values.sub(&ret)?.sqr()?;
    let mut metrics = Metrics::new();
    let per_token = match cfg.value_clip {
        None => {
            metrics.insert("critic/vf_clipfrac".into(), 0.0);
            unclipped
        }
        Some(eps) => {
            if eps < 0.0 {
                return Err(AlgoError::InvalidConfig("value_clip must be ≥ 0".into()));
            }
            let v_clip = old.add(&values.sub(&old)?.clamp(-eps, eps)?)?;
            let clipped = v_clip.sub(&ret)?.sqr()?;
            let frac = masked_mean(&clipped.gt(&unclipped)?.to_dtype(dtype)?, &m)?;
            metrics.insert("critic/vf_clipfrac".into(), crate::scalar(&frac)?);
            unclipped.maximum(&clipped)?
        }
    };
    let loss = aggregate_loss(&(per_token * 0.5)?, &m, cfg.aggregation, scale)?;
    metrics.insert("critic/vf_loss".into(), crate::scalar(&loss)?);
    metrics.insert(
        "critic/vpred_mean".into(),
        crate::scalar(&masked_mean(values, &m)?)?,
    );
    Ok((loss, metrics))
}
