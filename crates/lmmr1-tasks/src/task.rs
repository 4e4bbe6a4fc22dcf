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
