//! Generated problems of every task family, for RL prompts and for supervised warm starts.

use crate::Sample;

/// One generated task item: the prompt with its gold answer, and two teacher responses.
///
/// `demonstration` is a correct response in LMM-R1's answer format
/// (`<think>…</think><answer>…</answer>`); `slipped` is a noisy teacher's version of it whose
/// worked steps are the same but whose final answer carries a systematic slip (a warm start on a
/// mix of the two gives the imperfect base that RL with the verifiable reward improves on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The prompt; `answer` is the gold as LMM-R1 stores it; `datasource` names the task.
    pub sample: Sample,
    /// A correct teacher response.
    pub demonstration: String,
    /// The noisy teacher's response.
    pub slipped: String,
}

/// What one turn of an [`Episode`] did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TurnOutcome {
    /// The environment's reward for this turn.
    pub reward: f64,
    /// Whether the episode is over (solved, failed, or the response could not be parsed).
    pub done: bool,
}

/// A multi-turn environment episode: the policy sees the current board or frame, answers one
/// move or action in LMM-R1's answer format, the environment steps, until done or a turn limit
/// (the rollout enforces the limit).
pub trait Episode: Send {
    /// The user turn showing the current state (an image and a short text).
    fn observation(&self) -> crate::Turn;
    /// Applies one response (`<think>…</think><answer>move</answer>`).
    fn step(&mut self, response: &str) -> TurnOutcome;
    /// The teacher's response for the current state (for warm starts), `None` when it has none.
    fn teacher(&self) -> Option<String>;
    /// The episode's score so far: `total` is the return; components include `solved` (1/0)
    /// and `format` (fraction of turns whose response had LMM-R1's format).
    fn score(&self) -> lmmr1_rewards::Score;
}
