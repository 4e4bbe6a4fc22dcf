//! The [`Reward`] trait shared by every reward and the trainer.

use std::borrow::Cow;

/// One sample's reward: a scalar plus named components (for logging and analysis).
///
/// The components are what the scalar was made of, e.g. `format` and `accuracy` for LMM-R1's
/// math reward; `total` is what the trainer optimises.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Score {
    /// The scalar reward.
    pub total: f64,
    /// Named parts of the reward, in a stable order.
    pub components: Vec<(Cow<'static, str>, f64)>,
}

impl Score {
    /// A score with no components.
    pub fn new(total: f64) -> Self {
        Self {
            total,
            components: Vec::new(),
        }
    }

    /// Adds a named component (builder style).
    pub fn with(mut self, name: impl Into<Cow<'static, str>>, value: f64) -> Self {
        self.components.push((name.into(), value));
        self
    }

    /// The value of the component called `name`, if present.
    pub fn component(&self, name: &str) -> Option<f64> {
        self.components
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }
}

/// A rule-based reward: one sample's response text and its task data in, a [`Score`] out.
///
/// `Task` is whatever the reward needs besides the response: the gold answer for math, the
/// level for Sokoban. Implementations must be total (never panic) and deterministic.
///
pub trait Reward {
    /// The task data the reward needs besides the response.
    type Task: ?Sized;

    /// A short name for logs and metric keys, e.g. `"lmm_r1_math"`.
    fn name(&self) -> &str;

    /// Scores one response.
    fn score(&self, response: &str, task: &Self::Task) -> Score;
}
