//! LMM-R1's rule-based math reward (`openrlhf/models/remote_rm/math_verifier.py`, described in
//! `shared/docs/method.md` §3.1): 0.5 for the exact `<think>…</think><answer>…</answer>`
//! format plus 1.0 when the answer is right according to Math-Verify, run with LMM-R1's
//! settings:
//!
//! * the gold label is wrapped as `$label$` (unless it starts with `$`) and parsed with LaTeX
//!   extraction only, first match; a gold with nothing to extract scores accuracy 1.0 (every
//!   sample of the prompt gets it, so a group baseline cancels it);
//! * the prediction is parsed from the whole response (the think part included) with LaTeX
//!   extraction only: `\boxed{}` first (priority 0), anchors required (a bare
//!   `<answer>2</answer>` scores 0; `<answer>$2$</answer>` works because the tag contains
//!   the word "answer"), no `nits` or malformed-operator fixes, first match;
//! * `verify(prediction, gold)`: LMM-R1 passes the prediction first.

use crate::format;
use crate::math::{
    self, Boxed, CompareConfig, ExtractConfig, ExtractionMode, LatexConfig, NormConfig,
};
use crate::{Reward, Score};

/// The end-of-turn markers LMM-R1 deletes from a response before scoring.
pub const END_MARKERS: [&str; 4] = [
    "<|im_end|>",
    "<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>",
    "<|endoftext|>",
    "<end_of_turn>",
];

/// The chat-ML prefix of the assistant turn.
pub const ASSISTANT_PREFIX: &str = "<|im_start|>assistant\n";

/// One response's math reward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MathScore {
    /// 0.5 when [`format::r1`] holds, else 0.
    pub format: f64,
    /// 1.0 when the answer is right (or the gold cannot be parsed), else 0.
    pub accuracy: f64,
    /// `format + accuracy`.
    pub total: f64,
}

/// The response part of a full decoded sequence, as LMM-R1 finds it: the text after the first
/// `<|im_start|>assistant\n` (the whole text if absent), with end markers removed and
/// surrounding whitespace stripped.
///
/// ```
/// let q = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>a</think><answer>b</answer><|im_end|>";
/// assert_eq!(lmmr1_rewards::lmm_r1::response_from_query(q), "<think>a</think><answer>b</answer>");
/// ```
pub fn response_from_query(query: &str) -> String {
    let resp = match query.find(ASSISTANT_PREFIX) {
        Some(i) => &query[i + ASSISTANT_PREFIX.len()..],
        None => query,
    };
    clean_response(resp)
}

/// Removes the end markers and strips whitespace.
pub fn clean_response(response: &str) -> String {
    let mut s = response.to_string();
    for m in END_MARKERS {
        if s.contains(m) {
            s = s.replace(m, "");
        }
    }
    s.trim().to_string()
}

/// LMM-R1's extraction settings for predictions.
pub fn prediction_config() -> ExtractConfig {
    ExtractConfig {
        latex: Some(LatexConfig {
            try_without_anchor: false,
            boxed_priority: Some(0),
            norm: NormConfig {
                basic_latex: true,
                units: true,
                malformed_operators: false,
                nits: false,
                boxed: Boxed::All,
            },
        }),
        expr: None,
        mode: ExtractionMode::FirstMatch,
    }
}

/// LMM-R1's extraction settings for gold labels (after wrapping in `$…$`).
pub fn gold_config() -> ExtractConfig {
    ExtractConfig {
        latex: Some(LatexConfig::default()),
        expr: None,
        mode: ExtractionMode::FirstMatch,
    }
}

/// Accuracy only: whether `response` answers `gold` under LMM-R1's settings.
pub fn accuracy(response: &str, gold: &str) -> f64 {
    let wrapped;
    let gold = if gold.starts_with('$') {
        gold
    } else {
        wrapped = format!("${gold}$");
        &wrapped
    };
    let Some(gold) = math::extract_with(gold, &gold_config()) else {
        return 1.0;
    };
    let pred = math::extract_with(response, &prediction_config());
    let right = math::verify_answers(pred.as_ref(), Some(&gold), &CompareConfig::default());
    if right {
        1.0
    } else {
        0.0
    }
}

/// LMM-R1's math reward for one response (the assistant text; end markers are removed and
/// whitespace stripped first).
///
/// ```
/// use lmmr1_rewards::lmm_r1::math_reward;
///
/// let s = math_reward("<think>17 - 5 = 12</think><answer>$12$</answer>", "12");
/// assert_eq!((s.format, s.accuracy, s.total), (0.5, 1.0, 1.5));
///
/// // No `$`: the answer is not extracted.
/// assert_eq!(math_reward("<think>..</think><answer>12</answer>", "12").accuracy, 0.0);
/// // A space between the tags breaks the format but not the answer.
/// let s = math_reward("<think>..</think> <answer>$\\boxed{12}$</answer>", "12");
/// assert_eq!((s.format, s.accuracy), (0.0, 1.0));
/// ```
pub fn math_reward(response: &str, gold: &str) -> MathScore {
    let response = clean_response(response);
    let format = if format::r1(&response) { 0.5 } else { 0.0 };
    let accuracy = accuracy(&response, gold);
    MathScore {
        format,
        accuracy,
        total: format + accuracy,
    }
}

/// LMM-R1's math reward as a [`Reward`]; the task is the gold answer.
///
/// ```
/// use lmmr1_rewards::{lmm_r1::MathReward, Reward};
///
/// let score = MathReward.score("<think>..</think><answer>$7$</answer>", "7");
/// assert_eq!(score.total, 1.5);
/// assert_eq!(score.component("accuracy"), Some(1.0));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MathReward;

impl Reward for MathReward {
    type Task = str;

    fn name(&self) -> &str {
        "lmm_r1_math"
    }

    fn score(&self, response: &str, gold: &str) -> Score {
        let s = math_reward(response, gold);
        Score::new(s.total)
            .with("format", s.format)
            .with("accuracy", s.accuracy)
    }
}
