//! The PPO clipped policy loss (`rl-conventions.md` §2.7) with clip-higher, dual-clip, the GSPO
//! sequence ratio and an entropy bonus.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::aggregate::{aggregate_loss, masked_mean, LossAggregation, LossScale};
use crate::metrics::masked_stats;
use crate::{dims2, expect_shape, mask_like, AlgoError, Metrics, Result};

/// Which importance ratio the clip acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioLevel {
    /// `ρ_t = exp(logπθ_t − logπold_t)` (PPO).
    #[default]
    Token,
    /// GSPO: `ρ_i = exp(Σ_t m·log ρ_t / Σ_t m)`, the same for every token of sequence `i`.
    Sequence,
}

/// The policy loss by name (config `algorithm.policy_loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyLoss {
    /// PPO's clipped surrogate over per-token ratios `ρ_t` (verl `vanilla`).
    #[default]
    Ppo,
    /// GSPO (arXiv 2507.18071): the same clip over the sequence ratio
    /// `ρ_i = exp(mean_t log ρ_t)` (verl `gspo`).
    Gspo,
}

impl PolicyLoss {
    /// The ratio the clip acts on.
    pub fn ratio_level(self) -> RatioLevel {
        match self {
            PolicyLoss::Ppo => RatioLevel::Token,
            PolicyLoss::Gspo => RatioLevel::Sequence,
        }
    }
}

/// Configuration of [`ppo_clip_loss`]; defaults are LMM-R1's (ε = 0.2 symmetric, no dual clip,
/// no entropy bonus, `token-mean`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default)]
pub struct PolicyLossConfig {
    /// `ε_low`: the ratio is clipped below at `1 − ε_low`.
    pub clip_low: f64,
    /// `ε_high`: the ratio is clipped above at `1 + ε_high` (DAPO clip-higher: 0.28).
    pub clip_high: f64,
    /// Dual-clip constant `c > 1` (verl 3.0); `None` disables it.
    pub dual_clip: Option<f64>,
    /// Token (PPO) or sequence (GSPO) ratio.
    pub ratio_level: RatioLevel,
    /// Entropy bonus coefficient (subtracted from the loss).
    pub entropy_coef: f64,
    /// `log ρ` is clamped to `±log_ratio_clamp` before `exp` (verl, OpenRLHF: 20).
    pub log_ratio_clamp: f64,
    /// Loss aggregation.
    pub aggregation: LossAggregation,
}

impl Default for PolicyLossConfig {
    fn default() -> Self {
        Self {
            clip_low: 0.2,
            clip_high: 0.2,
            dual_clip: None,
            ratio_level: RatioLevel::Token,
            entropy_coef: 0.0,
            log_ratio_clamp: 20.0,
            aggregation: LossAggregation::TokenMean,
        }
    }
}

/// Inputs of [`ppo_clip_loss`] for one (micro-)batch.
#[derive(Debug, Clone, Copy)]
pub struct PolicyLossInputs<'a> {
    /// `(B, T)` current log-probs `logπθ` (carry the gradient).
    pub log_probs: &'a Tensor,
    /// `(B, T)` rollout-time log-probs `logπold`.
    pub old_log_probs: &'a Tensor,
    /// `(B, T)` advantages.
    pub advantages: &'a Tensor,
    /// `(B, T)` response mask.
    pub mask: &'a Tensor,
    /// `(B, T)` per-token entropies of the current policy, needed when `entropy_coef ≠ 0`.
    pub entropy: Option<&'a Tensor>,
    /// Global normalisers of the aggregation.
    pub scale: LossScale,
}

/// PPO clip loss: `L = agg(max(−A·ρ, −A·clip(ρ, 1−ε_low, 1+ε_high)))` (for `A < 0` with dual clip
/// `min(·, −c·A)`) `− c_H·agg(H)`, with `ρ = exp(clip(logπθ − logπold, ±20))`.
///
/// As verl `compute_policy_loss_vanilla` / OpenRLHF `PolicyLoss` (dual clip, clip-higher), and
/// verl `compute_policy_loss_gspo` for [`RatioLevel::Sequence`]. Reports `actor/pg_loss`,
/// `actor/pg_clipfrac` (tokens where the clipped term is the larger), `actor/pg_clipfrac_lower`
/// (dual clip active), `actor/ppo_kl` (`mean(logπold − logπθ)`), `actor/ratio/{mean,max,min}`,
/// `actor/entropy` and `actor/policy_loss` (the total returned).
///
/// # Shapes
/// all inputs `(B, T)` → `()`.
pub fn ppo_clip_loss(
    inputs: &PolicyLossInputs<'_>,
    cfg: &PolicyLossConfig,
) -> Result<(Tensor, Metrics)> {
    let (b, t) = dims2("log_probs", inputs.log_probs)?;
    for (name, x) in [
        ("old_log_probs", inputs.old_log_probs),
        ("advantages", inputs.advantages),
        ("mask", inputs.mask),
    ] {
        expect_shape(name, x, &[b, t])?;
    }
    if cfg.clip_low < 0.0 || cfg.clip_low >= 1.0 || cfg.clip_high < 0.0 {
        return Err(AlgoError::InvalidConfig(format!(
            "clip range (ε_low {}, ε_high {}) out of domain",
            cfg.clip_low, cfg.clip_high
        )));
    }
    if cfg.log_ratio_clamp.is_nan() || cfg.log_ratio_clamp <= 0.0 {
        return Err(AlgoError::InvalidConfig(
            "log_ratio_clamp must be > 0".into(),
        ));
    }
    if matches!(cfg.dual_clip, Some(c) if c <= 1.0) {
        return Err(AlgoError::InvalidConfig("dual_clip must be > 1".into()));
    }
    let lp = inputs.log_probs;
    let dtype = lp.dtype();
    let m = mask_like(inputs.mask, lp)?;
    let adv = inputs.advantages.to_dtype(dtype)?.detach();
    let old = inputs.old_log_probs.to_dtype(dtype)?.detach();

    let log_ratio = lp
        .sub(&old)?
        .clamp(-cfg.log_ratio_clamp, cfg.log_ratio_clamp)?;
    let log_ratio = match cfg.ratio_level {
        RatioLevel::Token => log_ratio,
        RatioLevel::Sequence => {
            let len = m.sum_keepdim(1)?.maximum(1.0)?;
            let seq = log_ratio.mul(&m)?.sum_keepdim(1)?.div(&len)?;
            seq.broadcast_as((b, t))?.contiguous()?
        }
    };
    let ratio = log_ratio.exp()?;
    let neg_adv = adv.neg()?;
    let pg1 = neg_adv.mul(&ratio)?;
    let pg2 = neg_adv.mul(&ratio.clamp(1.0 - cfg.clip_low, 1.0 + cfg.clip_high)?)?;
    let clipped = pg1.maximum(&pg2)?;
    let mut metrics = Metrics::new();
    let frac = |u8mask: Tensor| -> Result<f64> {
        crate::scalar(&masked_mean(&u8mask.to_dtype(dtype)?, &m)?)
    };
    metrics.insert("actor/pg_clipfrac".into(), frac(pg2.gt(&pg1)?)?);
    let per_token = match cfg.dual_clip {
        None => {
            metrics.insert("actor/pg_clipfrac_lower".into(), 0.0);
            clipped
        }
        Some(c) => {
            let pg3 = (&neg_adv * c)?;
            let negative = adv.lt(0.0)?;
            let lower = clipped.gt(&pg3)?.mul(&negative)?;
            metrics.insert("actor/pg_clipfrac_lower".into(), frac(lower)?);
            negative.where_cond(&clipped.minimum(&pg3)?, &clipped)?
        }
    };
    let pg_loss = aggregate_loss(&per_token, &m, cfg.aggregation, &inputs.scale)?;
    metrics.insert("actor/pg_loss".into(), crate::scalar(&pg_loss)?);
    metrics.insert(
        "actor/ppo_kl".into(),
        crate::scalar(&masked_mean(&log_ratio.neg()?, &m)?)?,
    );
    metrics.extend(masked_stats("actor/ratio", &ratio, &m)?);
    let loss = match inputs.entropy {
        Some(h) => {
            expect_shape("entropy", h, &[b, t])?;
            let h = h.to_dtype(dtype)?;
            metrics.insert(
                "actor/entropy".into(),
                crate::scalar(&masked_mean(&h, &m)?)?,
            );
            if cfg.entropy_coef != 0.0 {
                let ent = aggregate_loss(&h, &m, cfg.aggregation, &inputs.scale)?;
                pg_loss.sub(&(ent * cfg.entropy_coef)?)?
            } else {
                pg_loss
            }
        }
        None if cfg.entropy_coef != 0.0 => return Err(AlgoError::MissingInput("entropy")),
        None => pg_loss,
    };
    metrics.insert("actor/policy_loss".into(), crate::scalar(&loss)?);
    Ok((loss, metrics))
}
