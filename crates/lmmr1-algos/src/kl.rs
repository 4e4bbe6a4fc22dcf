//! Per-token KL estimators, KL as a loss, and KL-coefficient controllers
//! (`rl-conventions.md` §2.2–2.3). Throughout, `d = logπθ − logπref`.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::aggregate::{aggregate_loss, LossAggregation, LossScale};
use crate::{expect_shape, AlgoError, Metrics, Result};

/// Inner clamp of `logπref − logπθ` before `exp` in k3 (verl).
pub const K3_LOG_RATIO_CLAMP: f64 = 20.0;
/// Clamp of the k3 value (verl, OpenRLHF).
pub const K3_VALUE_CLAMP: f64 = 10.0;

/// The per-token KL estimator; names as OpenRLHF `--kl_estimator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlEstimator {
    /// `d` (LMM-R1's default, meant for KL-in-reward).
    #[default]
    K1,
    /// `½d²` (verl `mse`).
    K2,
    /// `exp(−d) + d − 1` (verl `low_var_kl`).
    #[serde(alias = "low_var_kl")]
    K3,
}

/// Which KL estimator and how it is guarded.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct KlConfig {
    /// The estimator.
    pub estimator: KlEstimator,
    /// Keep the estimator's value but take the k2 gradient (verl's `k3+`/`k1+`).
    pub straight_through: bool,
    /// Apply verl's clamps to k3: inner `logπref − logπθ` to ±20, value to ±10.
    pub clamp: bool,
}

/// k1 estimator: `kl = logπθ − logπref`.
///
/// # Shapes
/// `log_probs`, `ref_log_probs`: `(B, T)` → `(B, T)`.
pub fn kl_k1(log_probs: &Tensor, ref_log_probs: &Tensor) -> Result<Tensor> {
    expect_shape("ref_log_probs", ref_log_probs, log_probs.dims())?;
    Ok(log_probs.sub(ref_log_probs)?)
}

/// k2 estimator: `kl = ½(logπθ − logπref)²` (verl `mse`).
///
/// # Shapes
/// `log_probs`, `ref_log_probs`: `(B, T)` → `(B, T)`.
pub fn kl_k2(log_probs: &Tensor, ref_log_probs: &Tensor) -> Result<Tensor> {
    Ok((kl_k1(log_probs, ref_log_probs)?.sqr()? * 0.5)?)
}

/// k3 estimator: `kl = exp(u) − u − 1` with `u = logπref − logπθ`; with `clamp`,
/// `u ← clip(u, ±20)` and the result `← clip(·, ±10)` (verl `low_var_kl`; OpenRLHF clamps only the value).
///
/// # Shapes
/// `log_probs`, `ref_log_probs`: `(B, T)` → `(B, T)`.
pub fn kl_k3(log_probs: &Tensor, ref_log_probs: &Tensor, clamp: bool) -> Result<Tensor> {
    let mut u = kl_k1(ref_log_probs, log_probs)?;
    if clamp {
        u = u.clamp(-K3_LOG_RATIO_CLAMP, K3_LOG_RATIO_CLAMP)?;
    }
    let k = ((u.exp()? - &u)? - 1.0)?;
    Ok(if clamp {
        k.clamp(-K3_VALUE_CLAMP, K3_VALUE_CLAMP)?
    } else {
        k
    })
}

/// Straight-through combination: forward `value`, gradient of `grad_source`:
/// `out = grad_source − sg(grad_source) + sg(value)`.
///
/// # Shapes
/// any, both equal → same.
pub fn straight_through(value: &Tensor, grad_source: &Tensor) -> Result<Tensor> {
    expect_shape("grad_source", grad_source, value.dims())?;
    Ok(grad_source
        .sub(&grad_source.detach())?
        .add(&value.detach())?)
}

/// The configured per-token KL: `kl = k(logπθ, logπref)`, optionally straight-through to k2's
/// gradient (verl `kl_penalty`).
///
/// # Shapes
/// `log_probs`, `ref_log_probs`: `(B, T)` → `(B, T)`.
pub fn kl_penalty(log_probs: &Tensor, ref_log_probs: &Tensor, cfg: &KlConfig) -> Result<Tensor> {
    let value = match cfg.estimator {
        KlEstimator::K1 => kl_k1(log_probs, ref_log_probs)?,
        KlEstimator::K2 => kl_k2(log_probs, ref_log_probs)?,
        KlEstimator::K3 => kl_k3(log_probs, ref_log_probs, cfg.clamp)?,
    };
    if cfg.straight_through && cfg.estimator != KlEstimator::K2 {
        straight_through(&value, &kl_k2(log_probs, ref_log_probs)?)
    } else {
        Ok(value)
    }
}

/// KL as a loss term (GRPO style): `L_kl = agg(kl_t)` with the policy loss's aggregation; the
/// caller adds `β·L_kl`. Reports `actor/kl_loss`.
///
/// # Shapes
/// `log_probs`, `ref_log_probs`, `mask`: `(B, T)` → `()`.
pub fn kl_loss(
    log_probs: &Tensor,
    ref_log_probs: &Tensor,
    mask: &Tensor,
    cfg: &KlConfig,
    agg: LossAggregation,
    scale: &LossScale,
) -> Result<(Tensor, Metrics)> {
    let kl = kl_penalty(log_probs, ref_log_probs, cfg)?;
    let loss = aggregate_loss(&kl, mask, agg, scale)?;
    let mut m = Metrics::new();
    m.insert("actor/kl_loss".into(), crate::scalar(&loss)?);
    Ok((loss, m))
}

/// The KL coefficient β and how it evolves (OpenRLHF `FixedKLController` / `AdaptiveKLController`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KlController {
    /// `β` constant (LMM-R1: 0.001).
    Fixed {
        /// β.
        coef: f64,
    },
    /// `β ← β·(1 + clip(KL/target − 1, −0.2, 0.2)·n_steps/horizon)` (Ziegler et al. 2019).
    Adaptive {
        /// Current β.
        coef: f64,
        /// Target KL.
        target: f64,
        /// Horizon in steps.
        horizon: f64,
    },
}

/// How β evolves, by name (config `algorithm.kl_controller`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlControllerKind {
    /// [`KlController::Fixed`].
    #[default]
    Fixed,
    /// [`KlController::Adaptive`].
    Adaptive,
}

impl KlController {
    /// A controller of `kind` starting at `coef` (`target` and `horizon` are read by the
    /// adaptive one only).
    pub fn new(kind: KlControllerKind, coef: f64, target: f64, horizon: f64) -> Self {
        match kind {
            KlControllerKind::Fixed => KlController::Fixed { coef },
            KlControllerKind::Adaptive => KlController::Adaptive {
                coef,
                target,
                horizon,
            },
        }
    }

    /// The current coefficient: `β`.
    pub fn value(&self) -> f64 {
        match *self {
            KlController::Fixed { coef } | KlController::Adaptive { coef, .. } => coef,
        }
    }

    /// Updates β after observing `current_kl` over `n_steps` samples:
    /// fixed → unchanged; adaptive → `β·(1 + clip(KL/target − 1, ±0.2)·n_steps/horizon)`.
    pub fn update(&mut self, current_kl: f64, n_steps: usize) -> Result<()> {
        if let KlController::Adaptive {
            coef,
            target,
            horizon,
        } = self
        {
            if *target <= 0.0 || *horizon <= 0.0 {
                return Err(AlgoError::InvalidConfig(
                    "adaptive KL needs target > 0 and horizon > 0".into(),
                ));
            }
            let err = (current_kl / *target - 1.0).clamp(-0.2, 0.2);
            *coef *= 1.0 + err * n_steps as f64 / *horizon;
        }
        Ok(())
    }
}
