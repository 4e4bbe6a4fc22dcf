//! Generated problems of every task family, for RL prompts and for supervised warm starts.

use crate::choices::{letter, Choices};
use crate::rng::SplitMix64;
use crate::sample::{Content, Picture, Turn};
use crate::teacher::responses;
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

impl Generated {
    /// An item that shows `picture` and asks `question`, whose steps are `solution` and final
    /// answer `answer` (the geometry and perception generators). One item in four (drawn from
    /// `rng`) is multiple choice when the answer's form allows it: the options are listed after
    /// the question and the gold is the right letter.
    pub(crate) fn picture_question(
        id: String,
        picture: Picture,
        (question, solution, answer): (&str, &str, &str),
        rng: &mut SplitMix64,
        datasource: String,
    ) -> Self {
        let choices = match rng.below(4) {
            0 => Choices::around(answer, rng),
            _ => None,
        };
        let choices = choices.as_ref();
        let (question, gold, options) = match choices {
            Some(c) => (
                format!("{question} {}", c.listing()),
                letter(c.correct).to_string(),
                c.options.clone(),
            ),
            None => (question.to_string(), answer.to_string(), Vec::new()),
        };
        let (demonstration, slipped) = responses(solution, answer, choices);
        let sample = Sample {
            id,
            messages: vec![Turn {
                role: "user".into(),
                content: vec![Content::Pixels(picture), Content::Text(question)],
            }],
            answer: gold,
            datasource: Some(datasource),
            choices: options,
        };
        Generated {
            sample,
            demonstration,
            slipped,
        }
    }
}
