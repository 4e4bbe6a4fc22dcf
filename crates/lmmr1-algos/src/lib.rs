//! # lmmr1-algos
//!
//! The RL algorithm pieces of LMM-R1 (arXiv 2503.07536) as small pure functions over candle
//! tensors: sequence-reward placement, advantage estimators (config names as OpenRLHF:
//! `reinforce_baseline`, `gae`, `group_norm`, `dr_grpo`, `rloo`, `reinforce`), KL estimators and
//! controllers, the PPO clipped policy loss, the clipped value loss, loss aggregation and the DAPO
//! helpers.
//!
//! Conventions (see `rl-conventions.md` §2):
//! * a rollout batch holds `B = n_groups × n` sequences, **group-major** (the `n` samples of one
//!   prompt are contiguous), as OpenRLHF orders them;
//! * per-token tensors are `(B, T)` over the *response* tokens, right-padded; the mask is a float
//!   tensor of the same dtype with 1 on valid tokens (up to and including EOS) and 0 on padding;
//! * sequence rewards are `(B,)`.
//!
//! Nothing here depends on the model or the reward crates. Losses use differentiable candle ops
//! only, so `Tensor::backward` reaches the log-probabilities.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use lmmr1_algos::{compute_advantages, AdvantageConfig, AdvantageInputs};
//!
//! let dev = Device::Cpu;
//! let rewards = Tensor::new(&[1.5f32, 0.5, 1.0, 0.0], &dev).unwrap();
//! let mask = Tensor::new(&[[1f32, 1., 0.], [1., 1., 1.], [1., 0., 0.], [1., 1., 1.]], &dev).unwrap();
//! let cfg = AdvantageConfig { n_samples_per_prompt: 2, ..AdvantageConfig::default() };
//! let out = compute_advantages(&AdvantageInputs::new(&rewards, &mask), &cfg).unwrap();
//! assert_eq!(out.advantages.dims(), &[4, 3]);
//! ```

pub mod aggregate;
pub mod dapo;
pub mod estimators;
pub mod kl;
pub mod metrics;
pub mod policy_loss;
pub mod reward;
pub mod value_loss;

pub use aggregate::{aggregate_loss, masked_mean, masked_sum, LossAggregation, LossScale};
pub use dapo::{dynamic_sampling, overlong_penalty, truncated_completion_mask, DynamicSampling};
pub use estimators::{
    compute_advantages, cumulative_returns, gae_advantages_and_returns, group_mean_baseline,
    grpo_advantage, rloo_baseline, whiten, AdvantageConfig, AdvantageEstimator, AdvantageInputs,
    AdvantageOutput,
};
pub use kl::{
    kl_k1, kl_k2, kl_k3, kl_loss, kl_penalty, straight_through, KlConfig, KlController,
    KlControllerKind, KlEstimator,
};
pub use metrics::Metrics;
pub use policy_loss::{ppo_clip_loss, PolicyLoss, PolicyLossConfig, PolicyLossInputs, RatioLevel};
pub use reward::{clip_reward, eos_one_hot, token_level_rewards};
pub use value_loss::{value_loss, ValueLossConfig};

use candle_core::Tensor;

/// Errors of this crate: bad shapes and bad configuration are reported, never panicked on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlgoError {
    /// A tensor does not have the shape the function needs.
    #[error("shape mismatch for `{name}`: expected {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// Which argument.
        name: &'static str,
        /// The shape that was expected.
        expected: Vec<usize>,
        /// The shape that was passed.
        got: Vec<usize>,
    },
    /// The batch size is not a multiple of the group size.
    #[error("batch of {batch} sequences is not divisible into groups of {group}")]
    NotDivisible {
        /// Number of sequences.
        batch: usize,
        /// Samples per prompt.
        group: usize,
    },
    /// A response row has no valid token, so there is no last token to carry the reward.
    #[error("response {row} has an empty mask")]
    EmptyResponse {
        /// The row index.
        row: usize,
    },
    /// A configuration value is out of its domain.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// An input the chosen estimator needs is missing.
    #[error("missing input `{0}`")]
    MissingInput(&'static str),
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, AlgoError>;

/// Checks that `t` is 2-D and returns `(B, T)`.
pub(crate) fn dims2(name: &'static str, t: &Tensor) -> Result<(usize, usize)> {
    match t.dims() {
        &[b, l] => Ok((b, l)),
        other => Err(AlgoError::ShapeMismatch {
            name,
            expected: vec![0, 0],
            got: other.to_vec(),
        }),
    }
}

/// Checks that `t` has exactly `shape`.
pub(crate) fn expect_shape(name: &'static str, t: &Tensor, shape: &[usize]) -> Result<()> {
    if t.dims() == shape {
        Ok(())
    } else {
        Err(AlgoError::ShapeMismatch {
            name,
            expected: shape.to_vec(),
            got: t.dims().to_vec(),
        })
    }
}

/// The mask converted to the dtype of `like`.
pub(crate) fn mask_like(mask: &Tensor, like: &Tensor) -> Result<Tensor> {
    Ok(mask.to_dtype(like.dtype())?)
}

/// The mask as a float tensor: kept if already float, else converted to f32 (so a `u8`/`u32`
/// mask never turns rewards into integers).
pub(crate) fn float_mask(mask: &Tensor) -> Result<Tensor> {
    if mask.dtype().is_float() {
        Ok(mask.clone())
    } else {
        Ok(mask.to_dtype(candle_core::DType::F32)?)
    }
}

/// A scalar tensor read back as `f64`.
pub(crate) fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?)
}

/// A `(B, T)` tensor read back as rows of `f64`.
pub(crate) fn rows(t: &Tensor) -> Result<Vec<Vec<f64>>> {
    Ok(t.to_dtype(candle_core::DType::F64)?.to_vec2::<f64>()?)
}

/// Rows of `f64` turned into a `(B, T)` tensor with the dtype and device of `like`.
pub(crate) fn from_rows(r: &[Vec<f64>], like: &Tensor) -> Result<Tensor> {
    let b = r.len();
    let t = r.first().map_or(0, Vec::len);
    let flat: Vec<f64> = r.iter().flatten().copied().collect();
    Ok(Tensor::from_vec(flat, (b, t), like.device())?.to_dtype(like.dtype())?)
}
