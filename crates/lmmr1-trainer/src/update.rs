//! The PPO update of one rollout: epochs over shuffled mini-batches of `train_batch_size` rows,
//! gradients accumulated over micro-batches, one optimizer step per mini-batch (skipped when the
//! loss or the gradient is not finite).

use std::cell::RefCell;

use candle_core::{DType, Device, Tensor, Var};
use lmmr1_algos::{kl_loss, ppo_clip_loss, value_loss, LossScale, PolicyLossInputs};
use lmmr1_model::critic::ValueModel;
use lmmr1_model::optim::{accumulate_grads, clip_grad_norm, AdamW, LrSchedule};
use lmmr1_model::policy::Policy;
use lmmr1_rollout::Experience;
use lmmr1_tasks::rng::SplitMix64;

use crate::config::{Config, OnNonFinite};
use crate::step::Metrics;
use crate::{Error, Result};

/// A model's trainable variables with their optimizer and schedule.
pub(crate) struct Optimized<'a> {
    pub(crate) vars: &'a [(String, Var)],
    pub(crate) opt: &'a mut AdamW,
    pub(crate) schedule: &'a LrSchedule,
}

/// What the update trains.
pub(crate) struct Learners<'a> {
    pub(crate) policy: &'a Policy,
    pub(crate) actor: Optimized<'a>,
    /// The critic (GAE) and its optimizer.
    pub(crate) critic: Option<(&'a ValueModel, Optimized<'a>)>,
}

/// Counters the update advances.
#[derive(Debug, Default)]
pub(crate) struct UpdateCount {
    /// Updates planned so far (the schedule's position; skipped ones count).
    pub(crate) planned: u64,
    /// Updates skipped for a non-finite loss or gradient.
    pub(crate) skipped: usize,
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

fn model_err(e: impl std::fmt::Display) -> lmmr1_model::Error {
    lmmr1_model::Error::Input(e.to_string())
}

/// Runs `algorithm.epochs` epochs of PPO over `exp` at β = `kl_coef` (KL loss only). The
/// metrics are means over the updates that were applied (none when all were skipped).
#[allow(clippy::too_many_arguments)]
pub(crate) fn ppo_update(
    cfg: &Config,
    learners: &mut Learners<'_>,
    exp: &Experience,
    kl_coef: f64,
    (micro, pad, device): (usize, u32, &Device),
    step: usize,
    count: &mut UpdateCount,
    m: &mut Metrics,
    progress: &mut dyn FnMut(String),
) -> Result<()> {
    let a = &cfg.algorithm;
    let (pl_cfg, kl_cfg, vl_cfg) = (a.policy_loss(), a.kl(), a.value_loss());
    let want_entropy = cfg.train.log_entropy || a.entropy_coef != 0.0;
    let kl_loss_on = cfg.needs_reference() && a.use_kl_loss;
    let mut rng = SplitMix64::new(crate::step::step_seed(cfg, step, 0) ^ 0x7EA1);
    let all: Vec<usize> = (0..exp.len()).collect();
    let mut applied = Metrics::new();
    let mut n_applied = 0usize;
    for _epoch in 0..a.epochs {
        let mut perm = all.clone();
        rng.shuffle(&mut perm);
        for mini in perm.chunks(a.train_batch_size) {
            progress(format!("step {step}: update {}", n_applied + 1));
            let scale = LossScale {
                global_token_count: Some(exp.token_count(mini) as f64),
                global_seq_count: Some(mini.len() as f64),
                norm_length: Some(cfg.rollout.max_new_tokens as f64),
                dp_size: 1,
            };
            // Metrics of this mini-batch, weighted by each micro-batch's share of its tokens.
            let acc = RefCell::new(Metrics::new());
            let add = |k: String, v: f64, w: f64| {
                if !(k.starts_with("actor/ratio/max") || k.starts_with("actor/ratio/min")) {
                    *acc.borrow_mut().entry(k).or_insert(0.0) += v * w;
                }
            };
            let (mut actor_grads, mut critic_grads) = (None, None);
            let (mut loss_sum, mut vloss_sum) = (0.0, 0.0);
            for mchunk in mini.chunks(micro) {
                let mb = exp.micro_batch(mchunk, pad, device)?;
                let l = mb.response_len;
                let old = exp.padded(mchunk, l, |r| &r.old_logp, device)?;
                let advs = exp.padded(mchunk, l, |r| &r.advantages, device)?;
                let refl = match kl_loss_on {
                    true => Some(exp.padded(mchunk, l, |r| &r.ref_logp, device)?),
                    false => None,
                };
                let weight = exp.token_count(mchunk) as f64 / exp.token_count(mini) as f64;
                let (loss, grads) =
                    learners
                        .policy
                        .forward_backward(&mb.inputs, mb.start, want_entropy, |lp| {
                            let inputs = PolicyLossInputs {
                                log_probs: &lp.logp,
                                old_log_probs: &old,
                                advantages: &advs,
                                mask: &mb.mask,
                                entropy: lp.entropy.as_ref(),
                                scale,
                            };
                            let (pl, pm) = ppo_clip_loss(&inputs, &pl_cfg).map_err(model_err)?;
                            pm.into_iter().for_each(|(k, v)| add(k, v, weight));
                            let Some(r) = &refl else { return Ok(pl) };
                            let (kl, km) =
                                kl_loss(&lp.logp, r, &mb.mask, &kl_cfg, pl_cfg.aggregation, &scale)
                                    .map_err(model_err)?;
                            km.into_iter().for_each(|(k, v)| add(k, v, weight));
                            Ok((pl + (kl * kl_coef)?)?)
                        })?;
                loss_sum += scalar(&loss)?;
                accumulate_grads(&mut actor_grads, grads, learners.actor.vars)?;
                if let Some((critic, opt)) = &learners.critic {
                    let old_v = exp.padded(mchunk, l, |r| &r.values, device)?;
                    let ret = exp.padded(mchunk, l, |r| &r.returns, device)?;
                    let (vl, g) = critic.forward_backward(&mb.inputs, mb.start, |v| {
                        let (loss, vm) = value_loss(v, &old_v, &ret, &mb.mask, &vl_cfg, &scale)
                            .map_err(model_err)?;
                        vm.into_iter().for_each(|(k, x)| add(k, x, weight));
                        Ok(loss)
                    })?;
                    vloss_sum += scalar(&vl)?;
                    accumulate_grads(&mut critic_grads, g, opt.vars)?;
                }
            }
            let Some(mut grads) = actor_grads else {
                continue;
            };
            let update = count.planned;
            count.planned += 1;
            let gnorm =
                clip_grad_norm(&mut grads, learners.actor.vars, cfg.optimizer.max_grad_norm)?;
            if !loss_sum.is_finite() || !gnorm.is_finite() {
                let what = if loss_sum.is_finite() {
                    "gradient norm"
                } else {
                    "loss"
                };
                if cfg.train.on_nonfinite == OnNonFinite::Stop {
                    return Err(Error::NonFinite {
                        step,
                        what: what.into(),
                    });
                }
                eprintln!("step {step}: non-finite {what}, update skipped");
                count.skipped += 1;
                continue;
            }
            let actor = &mut learners.actor;
            actor.opt.step(&grads, actor.schedule.lr_at(update))?;
            if let (Some((_, opt)), Some(mut g)) = (&mut learners.critic, critic_grads) {
                let cn = clip_grad_norm(&mut g, opt.vars, cfg.optimizer.max_grad_norm)?;
                if cn.is_finite() && vloss_sum.is_finite() {
                    opt.opt.step(&g, opt.schedule.lr_at(update))?;
                }
            }
            let mut acc = acc.into_inner();
            acc.insert("actor/grad_norm".into(), gnorm);
            for (k, v) in acc {
                *applied.entry(k).or_insert(0.0) += v;
            }
            m.insert("actor/lr".into(), learners.actor.schedule.lr_at(update));
            n_applied += 1;
        }
    }
    for (k, v) in applied {
        m.insert(k, v / n_applied as f64);
    }
    m.insert("actor/updates".into(), n_applied as f64);
    Ok(())
}
