//! Supervised warm start: cross-entropy on the response tokens of generated demonstrations
//! (`<think>steps</think><answer>$x$</answer><|im_end|>`) of one or more task families, as the
//! embedded default's base model.

use std::collections::HashSet;
use std::sync::Arc;

use lmmr1_model::optim::{clip_grad_norm, AdamW, AdamWConfig, LrSchedule, ScheduleKind};
use lmmr1_model::policy::{sft_loss, Policy};
use lmmr1_rollout::experience::Row;
use lmmr1_rollout::{Experience, PromptEncoder};
use lmmr1_tasks::kind::reserved_for_held_out;
use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::{sample_key, Generated, Sample, TaskKind};

use crate::config::WarmStartConfig;
use crate::Result;

/// One demonstration of task `kind` as a prompt sample and its response text; with probability
/// `teacher_error_rate` it is the noisy teacher's version (see [`Generated::slipped`]).
pub fn demonstration(
    kind: TaskKind,
    level: u8,
    rng: &mut SplitMix64,
    system: Option<&str>,
    teacher_error_rate: f64,
) -> Result<(Sample, String)> {
    let g: Generated = kind.generate(level, rng)?;
    let slip = teacher_error_rate > 0.0 && rng.unit_f64() < teacher_error_rate;
    let mut s = g.sample;
    s.datasource = Some(format!("warm_start/{}", kind.name()));
    if let Some(sys) = system {
        s = s.with_system(sys);
    }
    Ok((s, if slip { g.slipped } else { g.demonstration }))
}

/// Runs `cfg.steps` SFT steps on `policy` with demonstrations of `kinds` (drawn uniformly, each
/// at its fixed level or one of `cfg.levels`);
/// demonstrations whose [`sample_key`] is in `exclude` (the held-out split) or that belong to the
/// evaluation-only share of generated problems are skipped.
/// Returns the loss of each step.
pub fn warm_start(
    policy: &Policy,
    encoder: &PromptEncoder,
    cfg: &WarmStartConfig,
    kinds: &[(TaskKind, Option<u8>)],
    system: Option<&str>,
    exclude: &HashSet<u64>,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<Vec<f64>> {
    if cfg.steps == 0 {
        return Ok(Vec::new());
    }
    let im_end = encoder.tokenizer.token_id("<|im_end|>");
    let pad = encoder.tokenizer.token_id("<|endoftext|>").unwrap_or(0);
    let mut opt = AdamW::new(
        policy.trainable_params(),
        AdamWConfig {
            lr: cfg.lr,
            ..AdamWConfig::default()
        },
    )?;
    let sched = LrSchedule {
        kind: ScheduleKind::Cosine,
        peak_lr: cfg.lr,
        warmup_steps: (cfg.steps as u64 / 20).max(1),
        total_steps: cfg.steps as u64,
        min_lr_ratio: 0.1,
    };
    let mut rng = SplitMix64::new(cfg.seed);
    let vars = policy.trainable_vars();
    let mut losses = Vec::with_capacity(cfg.steps);
    for step in 0..cfg.steps {
        let mut rows = Vec::with_capacity(cfg.batch_size);
        while rows.len() < cfg.batch_size {
            let (kind, fixed_level) = kinds[rng.below(kinds.len().max(1) as u64) as usize];
            let level = match fixed_level {
                Some(l) => l,
                None => cfg.levels[rng.below(cfg.levels.len() as u64) as usize],
            };
            let (sample, demo) =
                demonstration(kind, level, &mut rng, system, cfg.teacher_error_rate)?;
            if exclude.contains(&sample_key(&sample)) || reserved_for_held_out(&sample) {
                continue;
            }
            let prompt = encoder.encode(&sample)?;
            let mut response = encoder.tokenizer.encode(&demo)?;
            response.extend(im_end);
            rows.push(Row {
                group: rows.len(),
                prompt: Arc::new(prompt.ids),
                images: prompt.pixel_values.map(|pv| (pv, prompt.grids)),
                response,
                text: demo,
                stopped: true,
                ..Row::default()
            });
        }
        let exp = Experience { n: 1, rows };
        let all: Vec<usize> = (0..exp.len()).collect();
        let mb = exp.micro_batch(&all, pad, &encoder.device)?;
        let (loss, mut grads) =
            policy.forward_backward(&mb.inputs, mb.start, false, |lp| sft_loss(lp, &mb.mask))?;
        let loss = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        clip_grad_norm(&mut grads, &vars, 1.0)?;
        opt.step(&grads, sched.lr_at(step as u64))?;
        losses.push(loss);
        progress(step + 1, loss);
    }
    Ok(losses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_noisy_teacher_slips_at_the_configured_rate_and_only_in_the_answer() {
        let mut rng = SplitMix64::new(5);
        let n = 2000;
        let mut wrong = 0;
        for _ in 0..n {
            let (s, demo) = demonstration(TaskKind::Arith, 2, &mut rng, None, 0.3).unwrap();
            let score = lmmr1_rewards::lmm_r1::math_reward(&demo, &s.answer);
            assert_eq!(score.format, 0.5, "{demo}");
            let think = demo.split("</think>").next().unwrap();
            assert!(
                think.ends_with(&s.answer),
                "the worked steps stay right: {demo}"
            );
            wrong += (score.accuracy == 0.0) as usize;
        }
        let rate = wrong as f64 / n as f64;
        assert!((rate - 0.3).abs() < 0.04, "{rate}");
    }
}
