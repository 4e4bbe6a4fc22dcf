//! Metrics the functions report, under namespaced keys (`actor/pg_clipfrac`, `critic/vf_clipfrac`,
//! `adv/mean`, …), as verl and CleanRL name them.

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
