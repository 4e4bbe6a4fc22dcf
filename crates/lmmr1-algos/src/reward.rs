//! Sequence rewards to token rewards (`rl-conventions.md` §2.1): the clipped scalar goes on the
//! last valid response token, and the per-token KL penalty (KL-in-reward) everywhere else.

use candle_core::Tensor;

use crate::{dims2, expect_shape, AlgoError, Result};

/// Clips a sequence reward: `clip(R, lo, hi)` (OpenRLHF `reward_clip_range`, default `(−10, 10)`).
///
/// # Shapes
/// any → same.
pub fn clip_reward(rewards: &Tensor, range: (f64, f64)) -> Result<Tensor> {
    if range.0 > range.1 {
        return Err(AlgoError::InvalidConfig(format!(
            "reward clip range {range:?} is empty"
        )));
    }
    Ok(rewards.clamp(range.0, range.1)?)
}

/// One-hot of the last valid token of each row: `e_{i,t} = 1[t = max{t' : m_{i,t'} = 1}]`.
///
/// As OpenRLHF `compute_reward` (`eos_index = T − 1 − argmax(fliplr(mask))`) and verl
/// (`valid_response_length − 1`). A row with no valid token is an error
/// ([`AlgoError::EmptyResponse`]) rather than a silently misplaced reward.
///
/// # Shapes
/// `mask`: `(B, T)` → `(B, T)`, dtype of `mask`.
pub fn eos_one_hot(mask: &Tensor) -> Result<Tensor> {
    dims2("mask", mask)?;
    let m = crate::rows(mask)?;
    let mut out = m.clone();
    for (i, row) in out.iter_mut().enumerate() {
        let last = row
            .iter()
            .rposition(|&v| v > 0.0)
            .ok_or(AlgoError::EmptyResponse { row: i })?;
        row.iter_mut().for_each(|v| *v = 0.0);
        row[last] = 1.0;
    }
    crate::from_rows(&out, mask)
}

/// Token rewards: `r_{i,t} = −β·m_{i,t}·kl_{i,t} + e_{i,t}·clip(R_i, lo, hi)` with `e` the
/// last-token one-hot.
///
/// As OpenRLHF / LMM-R1 `compute_reward`. `kl` is the per-token KL of the rollout (old) policy to
/// the reference (k1 in LMM-R1); `None` or `β = 0` gives the bare placed reward.
///
/// # Shapes
/// `seq_rewards`: `(B,)`; `mask`, `kl`: `(B, T)` → `(B, T)`, dtype of `mask` (f32 for an
/// integer mask).
pub fn token_level_rewards(
    seq_rewards: &Tensor,
    mask: &Tensor,
    kl: Option<&Tensor>,
    kl_coef: f64,
    clip_range: (f64, f64),
) -> Result<Tensor> {
    let (b, t) = dims2("mask", mask)?;
    expect_shape("seq_rewards", seq_rewards, &[b])?;
    let mask = &crate::float_mask(mask)?;
    let r = clip_reward(&seq_rewards.to_dtype(mask.dtype())?, clip_range)?;
    let placed = eos_one_hot(mask)?.broadcast_mul(&r.reshape((b, 1))?)?;
    match kl {
        Some(kl) if kl_coef != 0.0 => {
            expect_shape("kl", kl, &[b, t])?;
            let pen = (kl.to_dtype(mask.dtype())?.mul(mask)? * (-kl_coef))?;
            Ok(placed.add(&pen)?)
        }
        _ => Ok(placed),
    }
}
