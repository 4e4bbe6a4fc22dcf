//! Advantage estimators (`rl-conventions.md` §2.4–2.6, `method.md` §2.3): the
//! [`AdvantageEstimator`] enum, matched in one place ([`compute_advantages`]), and one small pure
//! function per step.

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::metrics::masked_stats;
use crate::reward::token_level_rewards;
use crate::{dims2, expect_shape, mask_like, AlgoError, Metrics, Result};

/// Floor of the variance in [`whiten`] (OpenRLHF: `rsqrt(clamp(var, min=1e-8))`).
pub const WHITEN_VAR_FLOOR: f64 = 1e-8;

/// The advantage estimator; names as OpenRLHF `--advantage_estimator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdvantageEstimator {
    /// REINFORCE++-baseline (LMM-R1 default): `R − mean_g`, k1 KL in the token reward, γ = 1
    /// returns, global whitening.
    #[default]
    ReinforceBaseline,
    /// PPO with a critic: GAE(γ, λ) over token rewards, returns `A + V`, global whitening.
    Gae,
    /// GRPO: `(R − mean_g)/(std_g + ε)` (n − 1 std), γ = 1 returns, no whitening.
    GroupNorm,
    /// Dr.GRPO: `R − mean_g`, γ = 1 returns, no whitening.
    DrGrpo,
    /// RLOO: `R − mean of the other n − 1`, γ = 1 returns, global whitening.
    Rloo,
    /// REINFORCE++: raw `R`, γ-discounted returns, global whitening.
    Reinforce,
}

impl AdvantageEstimator {
    /// Whether the estimator reads critic values (`gae`).
    pub fn needs_critic(self) -> bool {
        self == AdvantageEstimator::Gae
    }

    /// Whether its baseline comes from the other samples of the same prompt.
    pub fn uses_groups(self) -> bool {
        matches!(
            self,
            AdvantageEstimator::ReinforceBaseline
                | AdvantageEstimator::GroupNorm
                | AdvantageEstimator::DrGrpo
                | AdvantageEstimator::Rloo
        )
    }
}

/// Configuration of [`compute_advantages`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct AdvantageConfig {
    /// Which estimator.
    pub estimator: AdvantageEstimator,
    /// `n`, samples per prompt; the batch is group-major and `B` must be a multiple of `n`.
    pub n_samples_per_prompt: usize,
    /// Discount γ (GAE and `reinforce`; the group estimators force γ = 1 as OpenRLHF does).
    pub gamma: f64,
    /// GAE λ (OpenRLHF `lambd`).
    #[serde(alias = "lambd", alias = "lam")]
    pub lambda: f64,
    /// ε of `group_norm` (OpenRLHF 1e-9; verl 1e-6).
    pub group_eps: f64,
    /// Clip range of the (shaped) sequence reward before placement; OpenRLHF default `(−10, 10)`.
    pub reward_clip: (f64, f64),
    /// Override of global whitening; `None` = LMM-R1's rule: every estimator but `group_norm` and
    /// `dr_grpo`.
    pub whiten: Option<bool>,
}

impl Default for AdvantageConfig {
    fn default() -> Self {
        Self {
            estimator: AdvantageEstimator::ReinforceBaseline,
            n_samples_per_prompt: 1,
            gamma: 1.0,
            lambda: 1.0,
            group_eps: 1e-9,
            reward_clip: (-10.0, 10.0),
            whiten: None,
        }
    }
}

/// Everything an estimator may read; unused fields are ignored by the others.
#[derive(Debug, Clone, Copy)]
pub struct AdvantageInputs<'a> {
    /// `(B,)` scalar verifier rewards `R_i`.
    pub seq_rewards: &'a Tensor,
    /// `(B, T)` response mask (float, 1 = valid).
    pub mask: &'a Tensor,
    /// `(B, T)` per-token KL of the rollout policy to the reference (KL-in-reward), or `None`.
    pub kl: Option<&'a Tensor>,
    /// β, the KL-in-reward coefficient (from a [`crate::KlController`]).
    pub kl_coef: f64,
    /// `(B, T)` critic values `V_t` at rollout time (required by `gae`).
    pub values: Option<&'a Tensor>,
}

impl<'a> AdvantageInputs<'a> {
    /// Inputs with rewards and mask only (no KL, no values).
    pub fn new(seq_rewards: &'a Tensor, mask: &'a Tensor) -> Self {
        Self {
            seq_rewards,
            mask,
            kl: None,
            kl_coef: 0.0,
            values: None,
        }
    }
}

/// What [`compute_advantages`] returns. All tensors are detached.
#[derive(Debug, Clone)]
pub struct AdvantageOutput {
    /// `(B, T)` advantages `A_t` (zero on padding).
    pub advantages: Tensor,
    /// `(B, T)` returns `G_t` (critic targets for `gae`).
    pub returns: Tensor,
    /// `(B, T)` token rewards `r_t` after shaping, clipping, placement and KL.
    pub token_rewards: Tensor,
    /// `adv/*`, `returns/*`, `reward/*` statistics.
    pub metrics: Metrics,
}

/// Checks `B = groups × n` and returns the number of groups.
fn groups(b: usize, n: usize) -> Result<usize> {
    if n == 0 || b % n != 0 {
        return Err(AlgoError::NotDivisible { batch: b, group: n });
    }
    Ok(b / n)
}

/// `(B,)` rewards as `(G, n)`.
fn grouped(rewards: &Tensor, n: usize) -> Result<Tensor> {
    let b = match rewards.dims() {
        &[b] => b,
        other => {
            return Err(AlgoError::ShapeMismatch {
                name: "seq_rewards",
                expected: vec![0],
                got: other.to_vec(),
            })
        }
    };
    Ok(rewards.reshape((groups(b, n)?, n))?)
}

/// Group-mean baseline: `R'_i = R_i − (1/n) Σ_{j∈g(i)} R_j`.
///
/// As OpenRLHF `reinforce_baseline` / `dr_grpo` reward shaping. A group of one gets `R' = 0`.
///
/// # Shapes
/// `rewards`: `(B,)`, group-major → `(B,)`.
pub fn group_mean_baseline(rewards: &Tensor, n: usize) -> Result<Tensor> {
    let g = grouped(rewards, n)?;
    Ok(g.broadcast_sub(&g.mean_keepdim(1)?)?.flatten_all()?)
}

/// RLOO baseline: `R'_i = R_i − (Σ_{j∈g(i), j≠i} R_j)/(n − 1)`.
///
/// As OpenRLHF / verl `rloo`. Undefined for `n = 1`, which is an [`AlgoError::InvalidConfig`].
///
/// # Shapes
/// `rewards`: `(B,)`, group-major → `(B,)`.
pub fn rloo_baseline(rewards: &Tensor, n: usize) -> Result<Tensor> {
    if n < 2 {
        return Err(AlgoError::InvalidConfig(
            "rloo needs n_samples_per_prompt ≥ 2".into(),
        ));
    }
    let g = grouped(rewards, n)?;
    let others = (g.sum_keepdim(1)?.broadcast_sub(&g)? / (n as f64 - 1.0))?;
    Ok(g.sub(&others)?.flatten_all()?)
}

/// GRPO advantage: `A_i = (R_i − mean_g)/(std_g + ε)` with the Bessel (n − 1) std.
///
/// As OpenRLHF `group_norm` (ε = 1e-9) and verl `grpo` (ε = 1e-6). A group of one has no std: its
/// advantage is 0 (TRL's convention; verl would return `R`, OpenRLHF asserts).
///
/// # Shapes
/// `rewards`: `(B,)`, group-major → `(B,)`.
pub fn grpo_advantage(rewards: &Tensor, n: usize, eps: f64) -> Result<Tensor> {
    let g = grouped(rewards, n)?;
    if n == 1 {
        return Ok(g.zeros_like()?.flatten_all()?);
    }
    let centred = g.broadcast_sub(&g.mean_keepdim(1)?)?;
    let std = (centred.sqr()?.sum_keepdim(1)? / (n as f64 - 1.0))?.sqrt()?;
    Ok(centred.broadcast_div(&(std + eps)?)?.flatten_all()?)
}

/// Discounted returns: `G_t = m_t·(r_t + γ·G_{t+1})`, `G_T = 0`.
///
/// As OpenRLHF `get_cumulative_returns` (rewards masked first; padding gets 0).
///
/// # Shapes
/// `token_rewards`, `mask`: `(B, T)` → `(B, T)`.
pub fn cumulative_returns(token_rewards: &Tensor, mask: &Tensor, gamma: f64) -> Result<Tensor> {
    let (b, t) = dims2("token_rewards", token_rewards)?;
    expect_shape("mask", mask, &[b, t])?;
    let r = crate::rows(token_rewards)?;
    let m = crate::rows(mask)?;
    let mut out = vec![vec![0.0; t]; b];
    for i in 0..b {
        let mut running = 0.0;
        for k in (0..t).rev() {
            running = r[i][k] * m[i][k] + gamma * running;
            out[i][k] = running * m[i][k];
        }
    }
    crate::from_rows(&out, token_rewards)
}

/// GAE: `δ_t = r_t + γ·V_{t+1} − V_t`, `A_t = δ_t + γλ·A_{t+1}`, returns `G_t = A_t + V_t`, with
/// `r` and `V` masked first (so `V` past the last token is 0) and `A_T = V_T = 0`.
///
/// As OpenRLHF `get_advantages_and_returns`. Returns `(advantages, returns)`, both zero on
/// padding and not whitened.
///
/// # Shapes
/// `token_rewards`, `values`, `mask`: `(B, T)` → `((B, T), (B, T))`.
pub fn gae_advantages_and_returns(
    token_rewards: &Tensor,
    values: &Tensor,
    mask: &Tensor,
    gamma: f64,
    lambda: f64,
) -> Result<(Tensor, Tensor)> {
    let (b, t) = dims2("token_rewards", token_rewards)?;
    expect_shape("values", values, &[b, t])?;
    expect_shape("mask", mask, &[b, t])?;
    let r = crate::rows(token_rewards)?;
    let v = crate::rows(values)?;
    let m = crate::rows(mask)?;
    let mut adv = vec![vec![0.0; t]; b];
    let mut ret = vec![vec![0.0; t]; b];
    for i in 0..b {
        let mut last = 0.0;
        for k in (0..t).rev() {
            let next_v = if k + 1 < t {
                v[i][k + 1] * m[i][k + 1]
            } else {
                0.0
            };
            let delta = r[i][k] * m[i][k] + gamma * next_v - v[i][k] * m[i][k];
            last = delta + gamma * lambda * last;
            adv[i][k] = last * m[i][k];
            ret[i][k] = (last + v[i][k] * m[i][k]) * m[i][k];
        }
    }
    Ok((
        crate::from_rows(&adv, token_rewards)?,
        crate::from_rows(&ret, token_rewards)?,
    ))
}

/// Global whitening over all valid tokens of the batch:
/// `A ← m·(A − μ)·rsqrt(max(σ², 1e-8))`, `μ`, `σ²` the masked mean and population variance
/// (with `shift_mean = false`, the mean is added back: `m·((A − μ)·rsqrt(·) + μ)`).
///
/// As OpenRLHF `masked_normalize` applied in `compute_advantages_and_returns`. Pass the whole
/// rollout batch, not a micro-batch.
///
/// # Shapes
/// `x`, `mask`: `(B, T)` → `(B, T)`.
pub fn whiten(x: &Tensor, mask: &Tensor, shift_mean: bool) -> Result<Tensor> {
    dims2("x", x)?;
    expect_shape("mask", mask, x.dims())?;
    let m = mask_like(mask, x)?;
    let mean = crate::scalar(&crate::aggregate::masked_mean(x, &m)?)?;
    let centred = (x - mean)?;
    let var = crate::scalar(&crate::aggregate::masked_mean(&centred.sqr()?, &m)?)?;
    let scaled = (centred * var.max(WHITEN_VAR_FLOOR).sqrt().recip())?;
    let out = if shift_mean { scaled } else { (scaled + mean)? };
    Ok(out.mul(&m)?)
}

/// Advantages and returns for the configured estimator, for the **whole rollout batch**:
/// shaped sequence reward → `r_t = −β·kl_t + 1[t = eos]·clip(R')` → returns (or GAE) → optional
/// global whitening.
///
/// | estimator | `R'` | returns | advantages | whitened (default) |
/// |---|---|---|---|---|
/// | `reinforce_baseline` | `R − mean_g` | `G_t`, γ = 1 | `G_t` | yes |
/// | `rloo` | `R − mean_{g∖i}` | `G_t`, γ = 1 | `G_t` | yes |
/// | `reinforce` | `R` | `G_t`, γ | `G_t` | yes |
/// | `group_norm` | `(R − mean_g)/(std_g + ε)` | `G_t`, γ = 1 | `G_t` | no |
/// | `dr_grpo` | `R − mean_g` | `G_t`, γ = 1 | `G_t` | no |
/// | `gae` | `R` | `A_t + V_t` | GAE(γ, λ) | yes |
///
/// As OpenRLHF / LMM-R1 `compute_reward` + `compute_advantages_and_returns`.
///
/// # Shapes
/// `seq_rewards`: `(B,)`; `mask`, `kl`, `values`: `(B, T)` → `(B, T)` tensors (dtype of a float
/// mask; f32 for an integer mask).
pub fn compute_advantages(
    inputs: &AdvantageInputs<'_>,
    cfg: &AdvantageConfig,
) -> Result<AdvantageOutput> {
    let (b, _) = dims2("mask", inputs.mask)?;
    expect_shape("seq_rewards", inputs.seq_rewards, &[b])?;
    let n = cfg.n_samples_per_prompt;
    groups(b, n)?;
    let mask = &crate::float_mask(inputs.mask)?;
    let dtype = mask.dtype();
    let rewards = inputs.seq_rewards.to_dtype(dtype)?;
    let place = |shaped: &Tensor| {
        token_level_rewards(shaped, mask, inputs.kl, inputs.kl_coef, cfg.reward_clip)
    };
    // Outcome estimators: shaped reward → token rewards → returns; advantages = returns.
    let outcome = |shaped: Tensor, gamma: f64| -> Result<(Tensor, Tensor, Tensor)> {
        let tok = place(&shaped)?;
        let ret = cumulative_returns(&tok, mask, gamma)?;
        Ok((ret.clone(), ret, tok))
    };
    use AdvantageEstimator as E;
    let ((adv, ret, tok), whiten_default) = match cfg.estimator {
        E::ReinforceBaseline => (outcome(group_mean_baseline(&rewards, n)?, 1.0)?, true),
        E::Rloo => (outcome(rloo_baseline(&rewards, n)?, 1.0)?, true),
        E::Reinforce => (outcome(rewards.clone(), cfg.gamma)?, true),
        E::GroupNorm => (
            outcome(grpo_advantage(&rewards, n, cfg.group_eps)?, 1.0)?,
            false,
        ),
        E::DrGrpo => (outcome(group_mean_baseline(&rewards, n)?, 1.0)?, false),
        E::Gae => {
            let values = inputs.values.ok_or(AlgoError::MissingInput("values"))?;
            let tok = place(&rewards)?;
            let values = values.to_dtype(dtype)?;
            let (a, g) = gae_advantages_and_returns(&tok, &values, mask, cfg.gamma, cfg.lambda)?;
            ((a, g, tok), true)
        }
    };
    let adv = if cfg.whiten.unwrap_or(whiten_default) {
        whiten(&adv, mask, true)?
    } else {
        adv
    };
    let mut metrics = masked_stats("adv", &adv, mask)?;
    metrics.extend(masked_stats("returns", &ret, mask)?);
    let r64 = inputs.seq_rewards.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    metrics.insert(
        "reward/seq_mean".into(),
        r64.iter().sum::<f64>() / b.max(1) as f64,
    );
    Ok(AdvantageOutput {
        advantages: adv.detach(),
        returns: ret.detach(),
        token_rewards: tok.detach(),
        metrics,
    })
}
