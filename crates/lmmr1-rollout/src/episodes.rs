//! Multi-turn episodes: the policy sees the current board or frame, answers one move, the
//! environment steps, the new observation is appended, until done or a turn limit.
//!
//! Each turn becomes one [`Row`] whose prompt is the conversation so far (the last `history`
//! turns, each observation with its image, then the current one) and whose response is the
//! turn's answer. Its reward is the return from that turn on (γ = 1): the sum of this and all later
//! turn rewards, so a sequence-level estimator (`gae` with a critic, `reinforce`) credits each
//! move with what followed it; `turn_reward` keeps the per-turn reward.

use std::sync::Arc;

use lmmr1_model::Qwen25VL;
use lmmr1_rewards::Score;
use lmmr1_tasks::{Episode, Sample, Turn};

use crate::experience::{Experience, Row};
use crate::prompt::{EncodedPrompt, PromptEncoder};
use crate::sampler::{generate_responses, RolloutConfig};
use crate::{Error, Result};

/// Multi-turn settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeConfig {
    /// Turns per episode at most.
    pub max_turns: usize,
    /// Earlier turns kept in the prompt, images included (0 = the current observation only,
    /// which is enough when the image shows the whole state).
    pub history: usize,
}

impl Default for EpisodeConfig {
    fn default() -> Self {
        Self {
            max_turns: 8,
            history: 0,
        }
    }
}

/// A played episode: its final score and the number of turns taken.
#[derive(Debug, Clone)]
pub struct PlayedEpisode {
    /// Index of its prompt group.
    pub group: usize,
    /// [`Episode::score`] at the end.
    pub score: Score,
    /// Turns played.
    pub turns: usize,
}

/// The prompt of an episode's next turn: `prefix` (e.g. a system turn), the last `history`
/// (observation, response) pairs, then the current observation.
pub fn turn_prompt(
    prefix: &[Turn],
    past: &[(Turn, String)],
    current: Turn,
    history: usize,
) -> Sample {
    let mut messages: Vec<Turn> = prefix.to_vec();
    for (obs, response) in &past[past.len().saturating_sub(history)..] {
        messages.push(obs.clone());
        messages.push(Turn::text("assistant", response));
    }
    messages.push(current);
    Sample {
        id: "episode".into(),
        messages,
        answer: String::new(),
        datasource: None,
        choices: Vec::new(),
    }
}

/// Plays `episodes` (one per entry of `groups`, which names each one's prompt group) with
/// `model`, all active episodes generating together each turn. Returns one row per turn played
/// (reward = return from that turn on) and each episode's final score.
#[allow(clippy::too_many_arguments)]
pub fn rollout_episodes(
    model: &Qwen25VL,
    encoder: &PromptEncoder,
    prefix: &[Turn],
    episodes: &mut [Box<dyn Episode>],
    groups: &[usize],
    cfg: &RolloutConfig,
    ecfg: &EpisodeConfig,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Experience, Vec<PlayedEpisode>)> {
    if groups.len() != episodes.len() {
        return Err(Error::Input(format!(
            "{} episodes but {} group indices",
            episodes.len(),
            groups.len()
        )));
    }
    if ecfg.max_turns == 0 {
        return Err(Error::Input("max_turns must be ≥ 1".into()));
    }
    let n_ep = episodes.len();
    let mut past: Vec<Vec<(Turn, String)>> = vec![Vec::new(); n_ep];
    let mut done = vec![false; n_ep];
    // Rows of each episode, in turn order, with their turn rewards.
    let mut rows_of: Vec<Vec<(Row, f64)>> = (0..n_ep).map(|_| Vec::new()).collect();
    for turn in 0..ecfg.max_turns {
        let active: Vec<usize> = (0..n_ep).filter(|&i| !done[i]).collect();
        if active.is_empty() {
            break;
        }
        let observations: Vec<Turn> = active.iter().map(|&i| episodes[i].observation()).collect();
        let prompts: Vec<EncodedPrompt> = active
            .iter()
            .zip(&observations)
            .map(|(&i, obs)| {
                encoder.encode(&turn_prompt(prefix, &past[i], obs.clone(), ecfg.history))
            })
            .collect::<Result<_>>()?;
        let order: Vec<usize> = (0..active.len()).collect();
        let gens = generate_responses(
            model,
            encoder,
            &prompts,
            &order,
            cfg,
            seed.wrapping_add((turn as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)),
            &mut |_, _| {},
        )?;
        for g in gens {
            let i = active[g.prompt];
            // The answer without the stop token the template adds back.
            let answer = g
                .text
                .trim_end_matches("<|im_end|>")
                .trim_end_matches("<|endoftext|>")
                .to_string();
            let outcome = episodes[i].step(&answer);
            let enc = &prompts[g.prompt];
            let row = Row {
                group: groups[i],
                prompt: Arc::new(enc.ids.clone()),
                images: enc.pixel_values.clone().map(|pv| (pv, enc.grids.clone())),
                response: g.response,
                text: g.text,
                stopped: g.stopped,
                sampler_logp: g.logp,
                ..Row::default()
            };
            rows_of[i].push((row, outcome.reward));
            past[i].push((observations[g.prompt].clone(), answer));
            done[i] = outcome.done;
        }
        progress(turn + 1, ecfg.max_turns);
    }
    let mut rows = Vec::new();
    let mut played = Vec::with_capacity(n_ep);
    for (i, ep_rows) in rows_of.into_iter().enumerate() {
        let score = episodes[i].score();
        let turns = ep_rows.len();
        let mut to_go: f64 = ep_rows.iter().map(|(_, r)| r).sum();
        for (mut row, r) in ep_rows {
            row.reward = to_go;
            to_go -= r;
            row.components = score
                .components
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect();
            row.components.push(("turn_reward".into(), r));
            rows.push(row);
        }
        played.push(PlayedEpisode {
            group: groups[i],
            score,
            turns,
        });
    }
    Ok((Experience { n: 1, rows }, played))
}
