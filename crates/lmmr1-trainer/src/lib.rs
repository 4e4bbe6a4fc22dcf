//! # lmmr1-trainer
//!
//! The LMM-R1 training loop over the other crates, CleanRL-style: [`run`] reads top to bottom —
//! set up the policy (a Hugging Face Qwen2.5-VL directory, or the embedded tiny policy warm-started
//! on generated demonstrations), then per rollout step: sample `n` responses per prompt, score them
//! with the rule-based reward, recompute old/reference log-probs (and critic values) with the
//! training forward, compute advantages, run PPO epochs over shuffled mini-batches with gradient
//! accumulation, evaluate on the held-out split every N steps, checkpoint atomically.
//!
//! * [`config`]: the TOML configuration (`configs/*.toml`), overrides and validation;
//! * [`embedded`]: the embedded default policy (architecture, tokenizer);
//! * [`data`]: datasets, the held-out split and the resumable data order;
//! * [`warm_start`]: supervised fine-tuning on demonstrations;
//! * [`eval`]: greedy accuracy, format rate and sampled pass@k;
//! * [`output`]: `metrics.jsonl`, `samples.jsonl`, plots, `summary.json`;
//! * [`tensorboard`]: TensorBoard event files under `OUT/tb/`;
//! * [`plan`]: the memory plan (`--plan`) and the `"auto"` settings resolved from it;
//! * [`state`]: the typed, versioned loop state a checkpoint holds;
//! * [`trainer`]: the loop, over `setup` (the starting policy), `step` (rollout, log-probs,
//!   advantages) and `update` (the PPO update).

pub mod config;
pub mod data;
pub mod embedded;
pub mod eval;
pub mod output;
pub mod plan;
mod setup;
pub mod state;
mod step;
pub mod tensorboard;
pub mod trainer;
mod update;
pub mod warm_start;

pub use config::Config;
pub use trainer::{run, RunOptions, Summary};

use std::path::PathBuf;

/// Errors of the trainer; each names the file, key or step at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid configuration (the message names the key).
    #[error("config: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// From the model crate.
    #[error(transparent)]
    Model(#[from] lmmr1_model::Error),
    /// From the rollout crate.
    #[error(transparent)]
    Rollout(#[from] lmmr1_rollout::Error),
    /// From the algorithms crate.
    #[error(transparent)]
    Algo(#[from] lmmr1_algos::AlgoError),
    /// From the tasks crate.
    #[error(transparent)]
    Tasks(#[from] lmmr1_tasks::Error),
    /// From candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// A non-finite loss or gradient with `train.on_nonfinite = "stop"`; the last checkpoint is
    /// intact.
    #[error("step {step}: non-finite {what}; stopped (last checkpoint kept)")]
    NonFinite {
        /// The rollout step.
        step: usize,
        /// `loss` or `gradient norm`.
        what: String,
    },
    /// Anything else, with context.
    #[error("{0}")]
    Other(String),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |error| Error::Io { path, error }
}
