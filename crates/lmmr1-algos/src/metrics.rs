//! Metrics the functions report, under namespaced keys as verl and CleanRL name them.
//!
//! | key | reported by | meaning |
//! |---|---|---|
//! | `adv/{mean,max,min}` | [`crate::compute_advantages`] | advantages over valid tokens (after whitening) |
//! | `returns/{mean,max,min}` | [`crate::compute_advantages`] | returns over valid tokens |
//! | `reward/seq_mean` | [`crate::compute_advantages`] | mean raw sequence reward |
//! | `actor/pg_loss` | [`crate::ppo_clip_loss`] | aggregated clipped surrogate |
//! | `actor/policy_loss` | [`crate::ppo_clip_loss`] | `pg_loss − c_H·entropy` (the returned loss) |
//! | `actor/pg_clipfrac` | [`crate::ppo_clip_loss`] | fraction of valid tokens where the clipped term wins |
//! | `actor/pg_clipfrac_lower` | [`crate::ppo_clip_loss`] | fraction where the dual clip wins |
//! | `actor/ppo_kl` | [`crate::ppo_clip_loss`] | approx KL `mean(logπold − logπθ)` |
//! | `actor/ratio/{mean,max,min}` | [`crate::ppo_clip_loss`] | importance ratio statistics |
//! | `actor/entropy` | [`crate::ppo_clip_loss`] | mean entropy (when passed) |
//! | `actor/kl_loss` | [`crate::kl_loss`] | aggregated KL (before `β`) |
//! | `critic/{vf_loss,vf_clipfrac,vpred_mean}` | [`crate::value_loss()`] | value loss, clip fraction, mean `V` |
//! | `dapo/{kept_groups,dropped_groups}` | [`crate::DynamicSampling::metrics`] | dynamic sampling counts |

use std::collections::BTreeMap;

use candle_core::Tensor;

use crate::{aggregate::masked_mean, Result};

/// Scalar metrics by namespaced key.
pub type Metrics = BTreeMap<String, f64>;

/// Masked statistics of `x`: `{prefix}/mean` = `Σ m·x / Σ m`, `{prefix}/max`, `{prefix}/min` over
/// valid tokens (0 for all three when no token is valid).
///
/// # Shapes
/// `x`, `mask`: `(B, T)`.
pub fn masked_stats(prefix: &str, x: &Tensor, mask: &Tensor) -> Result<Metrics> {
    let xs = crate::rows(x)?;
    let ms = crate::rows(mask)?;
    let (mut max, mut min, mut any) = (f64::NEG_INFINITY, f64::INFINITY, false);
    for (xr, mr) in xs.iter().zip(&ms) {
        for (&v, &m) in xr.iter().zip(mr) {
            if m > 0.0 {
                any = true;
                max = max.max(v);
                min = min.min(v);
            }
        }
    }
    let mut out = Metrics::new();
    out.insert(
        format!("{prefix}/mean"),
        crate::scalar(&masked_mean(x, mask)?)?,
    );
    out.insert(format!("{prefix}/max"), if any { max } else { 0.0 });
    out.insert(format!("{prefix}/min"), if any { min } else { 0.0 });
    Ok(out)
}
