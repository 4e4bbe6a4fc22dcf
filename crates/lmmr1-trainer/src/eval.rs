//! Held-out evaluation: greedy accuracy and format rate, sampled accuracy and pass@k.

use lmmr1_model::Qwen25VL;
use lmmr1_rewards::Score;
use lmmr1_rollout::{rollout, Experience, PromptEncoder, RolloutConfig};
use lmmr1_tasks::Sample;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Evaluation results on the held-out split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// Prompts evaluated.
    pub prompts: usize,
    /// Greedy decoding: fraction of prompts answered correctly.
    pub accuracy: f64,
    /// Greedy decoding: fraction with the exact `<think>…</think><answer>…</answer>` format.
    pub format_rate: f64,
    /// Greedy decoding: mean reward.
    pub mean_reward: f64,
    /// Greedy decoding: mean response length in tokens.
    pub response_len: f64,
    /// Sampling at the rollout temperature: fraction of samples correct.
    pub sampled_accuracy: f64,
    /// Sampling: fraction of prompts with at least one correct answer among `k`.
    pub pass_at_k: f64,
    /// `k`.
    pub k: usize,
}

/// Whether a score counts as solved: its `accuracy` component if it has one (math, geometry),
/// its `solved` component (agents), else a positive total.
pub fn solved(components: &[(String, f64)], total: f64) -> bool {
    for (name, v) in components {
        if name == "accuracy" || name == "solved" {
            return *v > 0.5;
        }
    }
    total > 0.0
}

fn formatted(components: &[(String, f64)]) -> bool {
    components.iter().any(|(n, v)| n == "format" && *v > 0.0)
}

/// Greedy accuracy, format rate and pass@k of `model` on `samples`.
pub fn evaluate(
    model: &Qwen25VL,
    encoder: &PromptEncoder,
    samples: &[Sample],
    base: &RolloutConfig,
    k: usize,
    seed: u64,
    reward: &(dyn Fn(&Sample, &str) -> Score + Sync),
) -> Result<(EvalResult, Experience)> {
    if samples.is_empty() {
        return Ok((EvalResult::default(), Experience { n: 1, rows: vec![] }));
    }
    let greedy_cfg = RolloutConfig {
        n_samples_per_prompt: 1,
        temperature: 0.0,
        ..base.clone()
    };
    let greedy = rollout(
        model,
        encoder,
        samples,
        &greedy_cfg,
        seed,
        reward,
        &mut |_, _| {},
    )?;
    let n = samples.len() as f64;
    let mut r = EvalResult {
        prompts: samples.len(),
        k,
        ..Default::default()
    };
    let count = |f: &dyn Fn(&lmmr1_rollout::experience::Row) -> bool| {
        greedy.rows.iter().filter(|r| f(r)).count() as f64 / n
    };
    r.accuracy = count(&|row| solved(&row.components, row.reward));
    r.format_rate = count(&|row| formatted(&row.components));
    r.mean_reward = greedy.rows.iter().map(|row| row.reward).sum::<f64>() / n;
    r.response_len = greedy
        .rows
        .iter()
        .map(|row| row.response.len())
        .sum::<usize>() as f64
        / n;
    let sampled_cfg = RolloutConfig {
        n_samples_per_prompt: k,
        ..base.clone()
    };
    let sampled = rollout(
        model,
        encoder,
        samples,
        &sampled_cfg,
        seed ^ 0xE7A1,
        reward,
        &mut |_, _| {},
    )?;
    let (mut hits_all, mut passed) = (0usize, 0usize);
    for group in sampled.rows.chunks(k) {
        let hits = group
            .iter()
            .filter(|row| solved(&row.components, row.reward))
            .count();
        hits_all += hits;
        passed += (hits > 0) as usize;
    }
    r.sampled_accuracy = hits_all as f64 / (n * k as f64);
    r.pass_at_k = passed as f64 / n;
    Ok((r, greedy))
}
