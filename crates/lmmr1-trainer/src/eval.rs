//! Held-out evaluation: greedy accuracy and format rate, sampled accuracy and pass@k.

use lmmr1_model::Qwen25VL;
use lmmr1_rewards::Score;
use lmmr1_rollout::{
    rollout, rollout_episodes, EpisodeConfig, Experience, PlayedEpisode, PromptEncoder,
    RolloutConfig,
};
use lmmr1_tasks::{Sample, TaskKind};
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
    /// Greedy decoding: the mean of every reward component (e.g. `magebench` for Sokoban).
    #[serde(default)]
    pub components: std::collections::BTreeMap<String, f64>,
}

fn component_means<'a>(
    rows: impl Iterator<Item = &'a [(String, f64)]>,
) -> std::collections::BTreeMap<String, f64> {
    let mut sums: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
    for comps in rows {
        for (k, v) in comps {
            let e = sums.entry(k.clone()).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(k, (s, n))| (k, s / n.max(1) as f64))
        .collect()
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
        ..greedy(base)
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
    r.components = component_means(greedy.rows.iter().map(|row| row.components.as_slice()));
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
    let flags: Vec<bool> = sampled
        .rows
        .iter()
        .map(|row| solved(&row.components, row.reward))
        .collect();
    (r.sampled_accuracy, r.pass_at_k) = sampled_accuracy_and_pass_at_k(&flags, k);
    Ok((r, greedy))
}

/// From per-sample solved flags in groups of `k` per prompt (group-major): the fraction of
/// samples solved and the fraction of prompts with at least one solved sample (pass@k).
fn sampled_accuracy_and_pass_at_k(solved: &[bool], k: usize) -> (f64, f64) {
    let groups = solved.len().div_ceil(k.max(1)).max(1) as f64;
    let hits = solved.iter().filter(|&&s| s).count() as f64;
    let passed = solved
        .chunks(k.max(1))
        .filter(|g| g.contains(&true))
        .count() as f64;
    (hits / (groups * k.max(1) as f64), passed / groups)
}

/// Multi-turn evaluation: greedy episodes give the solve rate (`accuracy`), the mean format
/// rate, the mean return (`mean_reward`) and turns (`response_len`); `k` sampled episodes per
/// prompt give pass@k.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_episodes(
    model: &Qwen25VL,
    encoder: &PromptEncoder,
    samples: &[Sample],
    task: TaskKind,
    base: &RolloutConfig,
    ecfg: &EpisodeConfig,
    k: usize,
    seed: u64,
) -> Result<(EvalResult, Experience)> {
    if samples.is_empty() {
        return Ok((EvalResult::default(), Experience { n: 1, rows: vec![] }));
    }
    let play =
        |cfg: &RolloutConfig, reps: usize, seed: u64| -> Result<(Experience, Vec<PlayedEpisode>)> {
            let mut eps = Vec::new();
            let mut groups = Vec::new();
            for (g, s) in samples.iter().enumerate() {
                for _ in 0..reps {
                    eps.push(episode_of(task, s)?);
                    groups.push(g);
                }
            }
            let prefix = system_turns(&samples[0]);
            Ok(rollout_episodes(
                model,
                encoder,
                &prefix,
                &mut eps,
                &groups,
                cfg,
                ecfg,
                seed,
                &mut |_, _| {},
            )?)
        };
    let greedy_cfg = greedy(base);
    let (exp, greedy) = play(&greedy_cfg, 1, seed)?;
    let n = samples.len() as f64;
    let mut r = EvalResult {
        prompts: samples.len(),
        k,
        ..Default::default()
    };
    let comps = |e: &PlayedEpisode| -> Vec<(String, f64)> {
        e.score
            .components
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    };
    let all: Vec<Vec<(String, f64)>> = greedy.iter().map(comps).collect();
    r.accuracy = greedy
        .iter()
        .zip(&all)
        .filter(|(e, c)| solved(c, e.score.total))
        .count() as f64
        / n;
    r.format_rate = all
        .iter()
        .map(|c| c.iter().find(|(k, _)| k == "format").map_or(0.0, |x| x.1))
        .sum::<f64>()
        / n;
    r.mean_reward = greedy.iter().map(|e| e.score.total).sum::<f64>() / n;
    r.response_len = greedy.iter().map(|e| e.turns as f64).sum::<f64>() / n;
    r.components = component_means(all.iter().map(|c| c.as_slice()));
    let (_, sampled) = play(base, k, seed ^ 0xE7A1)?;
    let flags: Vec<bool> = sampled
        .iter()
        .map(|e| solved(&comps(e), e.score.total))
        .collect();
    (r.sampled_accuracy, r.pass_at_k) = sampled_accuracy_and_pass_at_k(&flags, k);
    Ok((r, exp))
}

/// The episode of an agent-task sample, or an error naming the task.
pub fn episode_of(task: TaskKind, s: &Sample) -> Result<Box<dyn lmmr1_tasks::Episode>> {
    task.episode(s).ok_or_else(|| {
        crate::Error::Config(format!(
            "episode.multi_turn: task `{}` has no multi-turn episodes (sample {})",
            task.name(),
            s.id
        ))
    })
}

/// The system turns at the start of a sample (the prefix of every turn's prompt).
pub fn system_turns(s: &Sample) -> Vec<lmmr1_tasks::Turn> {
    s.messages
        .iter()
        .take_while(|t| t.role == "system")
        .cloned()
        .collect()
}

/// `base` with greedy decoding (temperature 0).
fn greedy(base: &RolloutConfig) -> RolloutConfig {
    let mut cfg = base.clone();
    cfg.sampling.temperature = 0.0;
    cfg
}
