//! DAPO pieces (arXiv 2503.14476; `rl-conventions.md` §2.9): dynamic sampling, overlong reward
//! shaping and truncated-completion masking.

use candle_core::Tensor;

use crate::{dims2, AlgoError, Metrics, Result};

/// Which groups dynamic sampling keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicSampling {
    /// Indices of the kept groups (prompts), ascending.
    pub kept_groups: Vec<usize>,
    /// Indices of the kept samples in the batch (group-major, ascending).
    pub kept_samples: Vec<usize>,
    /// How many groups were dropped because all their rewards are equal.
    pub dropped_groups: usize,
}

impl DynamicSampling {
    /// Counts as metrics: `dapo/kept_groups = |kept|`, `dapo/dropped_groups = dropped`.
    pub fn metrics(&self) -> Metrics {
        Metrics::from([
            (
                "dapo/kept_groups".to_string(),
                self.kept_groups.len() as f64,
            ),
            (
                "dapo/dropped_groups".to_string(),
                self.dropped_groups as f64,
            ),
        ])
    }
}

/// Dynamic sampling: keep group `g` iff `max_{i∈g} R_i ≠ min_{i∈g} R_i` (drop zero-variance
/// groups, which have zero advantage under any group baseline).
///
/// As DAPO / verl `filter_groups` (metric = the sequence score). The re-sampling loop that
/// refills the batch belongs to the trainer. A group of one is always dropped.
///
/// # Shapes
/// `seq_rewards`: `B = groups × n`, group-major.
pub fn dynamic_sampling(seq_rewards: &[f64], n: usize) -> Result<DynamicSampling> {
    let b = seq_rewards.len();
    if n == 0 || b % n != 0 {
        return Err(AlgoError::NotDivisible { batch: b, group: n });
    }
    let mut out = DynamicSampling {
        kept_groups: Vec::new(),
        kept_samples: Vec::new(),
        dropped_groups: 0,
    };
    for (g, chunk) in seq_rewards.chunks(n).enumerate() {
        let max = chunk.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = chunk.iter().copied().fold(f64::INFINITY, f64::min);
        if max > min {
            out.kept_groups.push(g);
            out.kept_samples.extend(g * n..(g + 1) * n);
        } else {
            out.dropped_groups += 1;
        }
    }
    Ok(out)
}

/// Overlong reward shaping, with `L_exp = L_max − L_buf`:
/// `0` if `|y| ≤ L_exp`; `−(|y| − L_exp)/L_buf·factor` if `L_exp < |y| ≤ L_max`; `−factor` beyond.
///
/// As DAPO / verl `overlong_buffer` (the cap beyond `L_max` as OpenRLHF). DAPO: `L_max` = 20480,
/// `L_buf` = 4096, factor 1.
pub fn overlong_penalty(
    response_len: usize,
    max_len: usize,
    buffer_len: usize,
    factor: f64,
) -> Result<f64> {
    if buffer_len == 0 || buffer_len > max_len {
        return Err(AlgoError::InvalidConfig(format!(
            "overlong buffer {buffer_len} must be in 1..={max_len}"
        )));
    }
    let expected = max_len - buffer_len;
    let excess = response_len.saturating_sub(expected).min(buffer_len);
    Ok(-(excess as f64) / buffer_len as f64 * factor)
}

/// Truncated-completion masking (DAPO overlong filtering): `m'_{i,t} = m_{i,t}·(1 − trunc_i)`,
/// so truncated samples contribute no loss.
///
/// # Shapes
/// `mask`: `(B, T)`, `truncated`: `B` → `(B, T)`.
pub fn truncated_completion_mask(mask: &Tensor, truncated: &[bool]) -> Result<Tensor> {
    let (b, _) = dims2("mask", mask)?;
    if truncated.len() != b {
        return Err(AlgoError::ShapeMismatch {
            name: "truncated",
            expected: vec![b],
            got: vec![truncated.len()],
        });
    }
    let keep: Vec<f64> = truncated
        .iter()
        .map(|&t| if t { 0.0 } else { 1.0 })
        .collect();
    let keep = Tensor::from_vec(keep, (b, 1), mask.device())?.to_dtype(mask.dtype())?;
    Ok(mask.broadcast_mul(&keep)?)
}
