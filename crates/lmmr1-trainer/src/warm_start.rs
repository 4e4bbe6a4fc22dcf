//! Supervised warm start: cross-entropy on the response tokens of generated demonstrations
//! (`<think>steps</think><answer>$x$</answer><|im_end|>`), as the embedded default's base model.

use std::collections::HashSet;
use std::sync::Arc;

use lmmr1_model::optim::{clip_grad_norm, AdamW, AdamWConfig, LrSchedule, ScheduleKind};
use lmmr1_model::policy::{sft_loss, Policy};
use lmmr1_rollout::experience::Row;
use lmmr1_rollout::{Experience, PromptEncoder};
use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::{Content, Sample, Turn};

use crate::config::WarmStartConfig;
use crate::Result;

/// One demonstration as a prompt sample and its response text.
pub fn demonstration(
    level: u8,
    rng: &mut SplitMix64,
    system: Option<&str>,
) -> (Sample, String) {
    let p = lmmr1_tasks::generator::generate(level, rng);
    let mut s = Sample {
        id: format!("demo-{level}"),
        messages: vec![Turn {
            role: "user".into(),
            content: vec![Content::Text(p.question.clone())],
        }],
        answer: p.answer.clone(),
        datasource: Some("warm_start".into()),
    };
    if let Some(sys) = system {
        s = s.with_system(sys);
    }
    (s, lmmr1_tasks::generator::demonstration(&p))
}

/// Runs `cfg.steps` SFT steps on `policy`; demonstrations whose question is in `exclude` (the
/// held-out split) are skipped. Returns the loss of each step.
pub fn warm_start(
    policy: &Policy,
    encoder: &PromptEncoder,
    cfg: &WarmStartConfig,
    system: Option<&str>,
    exclude: &HashSet<String>,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<Vec<f64>> {
    if cfg.steps == 0 {
        return Ok(Vec::new());
    }
    let im_end = encoder.tokenizer.token_id("<|im_end|>");
    let pad = encoder.tokenizer.token_id("<|endoftext|>").unwrap_or(0);
    let mut opt = AdamW::new(
        policy.trainable_vars(),
        AdamWConfig {
            lr: cfg.lr,
            ..AdamWConfig::default()
        },
    )?;
    let sched = LrSchedule {
        kind: ScheduleKind::Cosine { min_lr_ratio: 0.1 },
        peak_lr: cfg.lr,
        warmup_steps: (cfg.steps as u64 / 20).max(1),
        total_steps: cfg.steps as u64,
    };
    let mut rng = SplitMix64::new(cfg.seed);
    let vars = policy.trainable_vars();
    let mut losses = Vec::with_capacity(cfg.steps);
    for step in 0..cfg.steps {
        let mut rows = Vec::with_capacity(cfg.batch_size);
        while rows.len() < cfg.batch_size {
            let level = cfg.levels[rng.below(cfg.levels.len() as u64) as usize];
            let (sample, demo) = demonstration(level, &mut rng, system);
            if exclude.contains(&sample.question_text()) {
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
                sampler_logp: Vec::new(),
                reward: 0.0,
                components: Vec::new(),
                old_logp: Vec::new(),
                ref_logp: Vec::new(),
                values: Vec::new(),
                advantages: Vec::new(),
                returns: Vec::new(),
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
