//! # lmmr1-rollout
//!
//! The experience side of LMM-R1 training, between the tasks and the trainer:
//!
//! * [`prompt`]: a task [`Sample`](lmmr1_tasks::Sample) → chat template → token ids (+ image
//!   patches), with a length check;
//! * [`experience`]: a rollout batch — `n` responses per prompt, group-major — as one left-padded
//!   prompt block followed by right-padded responses, with masks, rewards and their components, and
//!   micro-batches for the training forward;
//! * [`sampler`]: batched generation of `n` samples per prompt with the rollout copy of the policy,
//!   and scoring with a rule-based reward;
//! * [`episodes`]: multi-turn episodes (one move per turn, the environment steps, the new
//!   observation is appended), one row per turn with the return from that turn as its reward.
//!
//! Old and reference log-probabilities and critic values are filled in by the trainer with the
//! *training* forward (as LMM-R1 does); the sampler's own log-probabilities are kept to measure
//! the mismatch.

pub mod episodes;
pub mod experience;
pub mod prompt;
pub mod sampler;

pub use episodes::{rollout_episodes, EpisodeConfig, PlayedEpisode};
pub use experience::{Experience, MicroBatch};
pub use prompt::{EncodedPrompt, PromptEncoder};
pub use sampler::{generate_responses, rollout, Generation, RolloutConfig};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the model (tokenizer, processor, generation).
    #[error(transparent)]
    Model(#[from] lmmr1_model::Error),
    /// From candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An image file could not be read or decoded.
    #[error("image {path}: {msg}")]
    Image {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// A prompt or batch that cannot be used.
    #[error("{0}")]
    Input(String),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
