//! # lmmr1
//!
//! LMM-R1 (arXiv 2503.07536) in Rust: rule-based reinforcement learning for vision-language models.
//!
//! This facade re-exports the workspace crates so that one dependency gives the whole toolkit.
//! Each crate is also usable on its own; `lmmr1-rewards` in particular has no ML dependencies.
//!
//! ```
//! let score = lmmr1::rewards::lmm_r1::math_reward(
//!     "<think>6 times 7</think><answer>$42$</answer>",
//!     "42",
//! );
//! assert_eq!(score.total, 1.5);
//! ```

pub use lmmr1_algos as algos;
pub use lmmr1_rewards as rewards;

pub use lmmr1_model as model;
pub use lmmr1_rollout as rollout;
pub use lmmr1_tasks as tasks;
pub use lmmr1_trainer as trainer;
