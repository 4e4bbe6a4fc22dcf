//! # lmmr1-rewards
//!
//! Verifiable, rule-based rewards for R1-style reinforcement learning, in pure Rust (no ML
//! framework, no Python):
//!
//! * [`math`]: a Math-Verify-compatible answer checker. [`math::verify`] extracts the final
//!   answer from a gold string and a prediction (LaTeX environments, `\boxed{}`, plain numbers,
//!   anchors such as "final answer is") and decides mathematical equivalence with exact rational
//!   arithmetic where exactness matters and bounded numeric evaluation elsewhere.
//! * [`format`]: the `<think>…</think><answer>…</answer>` format rule of LMM-R1.
//! * [`lmm_r1`]: LMM-R1's math reward (0.5 for format, 1.0 for a correct answer).
//! * [`geometry`]: a geometry answer checker on top of [`math`] (degrees, `√`, spaced LaTeX,
//!   units, choice letters, an explicit tolerance for decimal golds) and its reward, [`GeoReward`].
//! * [`sokoban`]: gym-sokoban's rules step for step (XSB and gym room encodings, seeded level
//!   generation, an optimal solver) and LMM-R1's and MageBench's Sokoban scores.
//! * [`football`]: a deterministic 2-D football game with Google Research Football's conventions
//!   (pitch, MageBench's 16 text actions, academy drills) and MageBench's dense reward.
//! * [`Reward`]: the trait that rewards and the trainer share.
//!
//! ```
//! use lmmr1_rewards::{lmm_r1, math};
//!
//! assert!(math::verify("$\\frac{1}{2}$", "The answer is $0.5$."));
//! assert!(!math::verify("$[1, 3)$", "$(1, 3)$"));
//!
//! let score = lmm_r1::math_reward("<think>2+2</think><answer>$\\boxed{4}$</answer>", "4");
//! assert_eq!((score.format, score.accuracy, score.total), (0.5, 1.0, 1.5));
//! ```
//!
//! Every entry point is total: any input, however long or malformed, returns a value (no panic)
//! within a bounded time (see [`math::MAX_INPUT_LEN`] for the math checker).

pub mod football;
pub mod format;
pub mod geometry;
pub mod lmm_r1;
pub mod math;
mod reward;
pub mod rng;
pub mod sokoban;

pub use geometry::{geo_equivalent, normalize_geo_answer, GeoReward, GeoTask};
pub use reward::{Reward, Score};

/// The README's examples run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
