//! # lmmr1-tasks
//!
//! Prompt data for LMM-R1-style RL, in pure Rust (no ML framework):
//!
//! * [`Dataset`]: jsonl prompts in LMM-R1's format (`message` as a list of chat turns or a JSON
//!   string holding one, text and `file://` image items, `answer`, `datasource`) or as plain
//!   `{problem|question, answer[, image]}` rows, detected per row; a bad row is an error naming
//!   `file:line` and the field, or is skipped and counted ([`BadRows`]); seeded train/held-out
//!   [`Dataset::split`].
//! * [`Mixture`]: several datasets drawn with probabilities (LMM-R1's `--prompt_data_probs`),
//!   seeded, with a saveable position for resuming.
//! * [`generator`]: seeded arithmetic and algebra problems in six difficulty levels, with exact
//!   answers that LMM-R1's reward accepts and short worked solutions for a supervised warm start.
//! * [`prompts`]: LMM-R1's system prompts, byte for byte.
//! * [`rng`]: the SplitMix64 generator behind all of the above.
//!
//! ```
//! use lmmr1_tasks::{generator, prompts, Mixture};
//!
//! let (train, held_out) = generator::train_and_held_out(200, 50, &generator::ALL_LEVELS, 1)?;
//! let train = train.with_system(prompts::R1_MATH);
//! let mut mix = Mixture::single(train, 1)?;
//! let batch = mix.batch(4);
//! assert_eq!(batch[0].messages[0].role, "system");
//! assert_eq!(held_out.len(), 50);
//! # Ok::<(), lmmr1_tasks::Error>(())
//! ```
//!
//! The Qwen2.5-VL chat template that turns [`Sample::messages`] into a prompt string lives in
//! `lmmr1_model::tokenizer`.

pub mod choices;
mod dataset;
pub mod draw;
mod error;
pub mod football;
pub mod generator;
pub mod geo_diagrams;
pub mod kind;
mod mixture;
pub mod perce;
pub mod prompts;
/// The project's one seeded generator (SplitMix64), from `lmmr1-rewards`.
pub use lmmr1_rewards::rng;
mod sample;
pub mod sokoban;
mod task;
pub mod teacher;
pub mod visual_math;

pub use dataset::{gold_is_checkable, BadRows, Dataset};
pub use error::{Error, Result};
pub use kind::{sample_key, TaskKind};
pub use mixture::{Cursor, Mixture, MixturePosition};
pub use sample::{Content, Picture, Sample, Turn};
pub use task::{Episode, Generated, TurnOutcome};
pub use teacher::slip_answer;

/// The README's examples run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
