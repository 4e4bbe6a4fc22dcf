//! One rollout step up to the PPO update: sampling (with DAPO's overlong shaping and dynamic
//! sampling), old/reference log-probs and values from the training forward, and advantages.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};
use lmmr1_algos::{
    compute_advantages, dynamic_sampling, kl_penalty, masked_mean, overlong_penalty,
    AdvantageInputs, KlController,
};
use lmmr1_model::critic::ValueModel;
use lmmr1_model::model::Qwen25VL;
use lmmr1_model::policy::Policy;
use lmmr1_rollout::{
    rollout, rollout_episodes, EpisodeConfig, Experience, PromptEncoder, RolloutConfig,
};
use lmmr1_tasks::{Mixture, Sample, TaskKind};

use crate::config::Config;
use crate::eval::{episode_of, system_turns};
use crate::Result;

/// Metrics of one step, by name.
pub(crate) type Metrics = BTreeMap<String, f64>;

/// What sampling produced for one step.
pub(crate) struct Collected {
    /// The rows, group-major; `rows[i].group` indexes `prompts`.
    pub(crate) exp: Experience,
    /// The prompts of the groups kept.
    pub(crate) prompts: Vec<Sample>,
}

/// What sampling needs.
pub(crate) struct Sampling<'a> {
    pub(crate) cfg: &'a Config,
    pub(crate) model: &'a Qwen25VL,
    pub(crate) encoder: &'a PromptEncoder,
    pub(crate) rollout: &'a RolloutConfig,
    pub(crate) episode: &'a EpisodeConfig,
    pub(crate) task: TaskKind,
}

/// The sampling seed of a rollout step (and of a dynamic-sampling round after the first).
pub(crate) fn step_seed(cfg: &Config, step: usize, round: usize) -> u64 {
    let seed = cfg
        .train
        .seed
        .wrapping_mul(1_000_003)
        .wrapping_add(step as u64);
    if round == 0 {
        seed
    } else {
        seed ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

/// Samples the step's rows: `prompts_per_step` prompts × `n` responses, scored; with
/// `overlong_buffer`, DAPO's length penalty added to each reward; with `dynamic_sampling`,
/// groups whose rewards are all equal dropped and more prompts sampled (at most
/// `max_sampling_rounds` rollouts) until `prompts_per_step` groups are kept.
pub(crate) fn collect(
    s: &Sampling<'_>,
    data: &mut Mixture,
    step: usize,
    m: &mut Metrics,
    progress: &mut dyn FnMut(String),
) -> Result<Collected> {
    let a = &s.cfg.algorithm;
    let want = s.cfg.rollout.prompts_per_step;
    let n = s.cfg.rollout.n_samples_per_prompt;
    let mut kept = Collected {
        exp: Experience {
            n,
            rows: Vec::new(),
        },
        prompts: Vec::new(),
    };
    let (mut rounds, mut dropped) = (0, 0);
    while kept.prompts.len() < want
        && (rounds == 0 || (a.dynamic_sampling && rounds < a.max_sampling_rounds))
    {
        let prompts: Vec<Sample> = data.batch(want).into_iter().cloned().collect();
        let mut exp = sample_once(
            s,
            &prompts,
            step_seed(s.cfg, step, rounds),
            step,
            m,
            progress,
        )?;
        rounds += 1;
        shape_overlong(s.cfg, &mut exp, m)?;
        if !a.dynamic_sampling {
            kept = Collected { exp, prompts };
            break;
        }
        dropped += keep_varied_groups(&mut kept, &exp, &prompts, want)?;
    }
    if a.dynamic_sampling {
        m.insert("dapo/sampling_rounds".into(), rounds as f64);
        m.insert("dapo/dropped_groups".into(), dropped as f64);
        m.insert("dapo/kept_groups".into(), kept.prompts.len() as f64);
        if kept.prompts.len() < want {
            eprintln!(
                "step {step}: dynamic sampling kept {} of {want} groups after {rounds} rollouts (algorithm.max_sampling_rounds); training on those",
                kept.prompts.len()
            );
        }
    }
    Ok(kept)
}

/// Dynamic sampling's filter: appends the groups of `exp` (prompts `prompts`) whose rewards
/// are not all equal to `kept`, renumbered after its groups, until it holds `want` groups.
/// Returns how many groups were dropped for equal rewards.
pub(crate) fn keep_varied_groups(
    kept: &mut Collected,
    exp: &Experience,
    prompts: &[Sample],
    want: usize,
) -> Result<usize> {
    let n = exp.n;
    let rewards: Vec<f64> = exp.rows.iter().map(|r| r.reward).collect();
    let ds = dynamic_sampling(&rewards, n)?;
    for g in ds.kept_groups {
        if kept.prompts.len() == want {
            break;
        }
        let group = kept.prompts.len();
        kept.prompts.push(prompts[g].clone());
        kept.exp
            .rows
            .extend(exp.rows[g * n..(g + 1) * n].iter().cloned().map(|mut r| {
                r.group = group;
                r
            }));
    }
    Ok(ds.dropped_groups)
}

/// One rollout of `prompts`: single answers, or multi-turn episodes.
fn sample_once(
    s: &Sampling<'_>,
    prompts: &[Sample],
    seed: u64,
    step: usize,
    m: &mut Metrics,
    progress: &mut dyn FnMut(String),
) -> Result<Experience> {
    if !s.cfg.episode.multi_turn {
        let task = s.task;
        let reward = move |x: &Sample, text: &str| task.score(x, text);
        return Ok(rollout(
            s.model,
            s.encoder,
            prompts,
            s.rollout,
            seed,
            &reward,
            &mut |d, t| progress(format!("step {step}: sampling {d}/{t}")),
        )?);
    }
    let n = s.cfg.rollout.n_samples_per_prompt;
    let mut eps = Vec::with_capacity(prompts.len() * n);
    let mut groups = Vec::with_capacity(prompts.len() * n);
    for (g, x) in prompts.iter().enumerate() {
        for _ in 0..n {
            eps.push(episode_of(s.task, x)?);
            groups.push(g);
        }
    }
    let prefix = prompts.first().map(system_turns).unwrap_or_default();
    let (exp, played) = rollout_episodes(
        s.model,
        s.encoder,
        &prefix,
        &mut eps,
        &groups,
        s.rollout,
        s.episode,
        seed,
        &mut |t, tmax| progress(format!("step {step}: turn {t}/{tmax}")),
    )?;
    let ne = played.len().max(1) as f64;
    let solved = played
        .iter()
        .filter(|e| e.score.component("solved").unwrap_or(0.0) > 0.5)
        .count();
    m.insert("episode/solved".into(), solved as f64 / ne);
    m.insert(
        "episode/return".into(),
        played.iter().map(|e| e.score.total).sum::<f64>() / ne,
    );
    m.insert(
        "episode/turns".into(),
        played.iter().map(|e| e.turns as f64).sum::<f64>() / ne,
    );
    Ok(exp)
}

/// DAPO's soft overlong punishment (`algorithm.overlong_buffer` > 0): each reward gains
/// `overlong_penalty(|y|, max_new_tokens, buffer, factor)` ≤ 0.
pub(crate) fn shape_overlong(cfg: &Config, exp: &mut Experience, m: &mut Metrics) -> Result<()> {
    let a = &cfg.algorithm;
    if a.overlong_buffer == 0 || exp.is_empty() {
        return Ok(());
    }
    let mut total = 0.0;
    for r in &mut exp.rows {
        let p = overlong_penalty(
            r.response.len(),
            cfg.rollout.max_new_tokens,
            a.overlong_buffer,
            a.overlong_penalty,
        )?;
        r.reward += p;
        total += p;
    }
    m.insert("reward/overlong_penalty".into(), total / exp.len() as f64);
    Ok(())
}

/// The models whose forwards score a rollout.
pub(crate) struct Scorers<'a> {
    pub(crate) policy: &'a Policy,
    pub(crate) reference: Option<&'a Policy>,
    pub(crate) critic: Option<&'a ValueModel>,
}

/// Old (and reference) log-probs and critic values of every row, with the training forward,
/// in micro-batches of `micro` rows.
pub(crate) fn fill_log_probs(
    models: &Scorers<'_>,
    exp: &mut Experience,
    micro: usize,
    pad: u32,
    device: &Device,
) -> Result<()> {
    let all: Vec<usize> = (0..exp.len()).collect();
    for chunk in all.chunks(micro) {
        let mb = exp.micro_batch(chunk, pad, device)?;
        let lp = models.policy.log_probs(&mb.inputs, mb.start, false)?;
        exp.scatter(chunk, &lp.logp.detach(), |r| &mut r.old_logp)?;
        if let Some(r) = models.reference {
            let lp = r.log_probs(&mb.inputs, mb.start, false)?;
            exp.scatter(chunk, &lp.logp.detach(), |r| &mut r.ref_logp)?;
        }
        if let Some(c) = models.critic {
            let v = c.values(&mb.inputs, mb.start)?;
            exp.scatter(chunk, &v.detach(), |r| &mut r.values)?;
        }
    }
    Ok(())
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

/// Advantages and returns of every row (group-major), from the rewards, the KL to the
/// reference (`algorithm.kl_estimator`, in the reward unless `use_kl_loss`) at the
/// controller's β, and the critic's values; then the controller sees this step's KL.
pub(crate) fn estimate_advantages(
    cfg: &Config,
    exp: &mut Experience,
    kl_ctl: &mut KlController,
    device: &Device,
    m: &mut Metrics,
) -> Result<()> {
    let a = &cfg.algorithm;
    let all: Vec<usize> = (0..exp.len()).collect();
    let rmax = exp.max_response_len();
    let mask = exp.mask(&all, rmax, device)?;
    let rewards = Tensor::from_vec(
        exp.rows.iter().map(|r| r.reward as f32).collect::<Vec<_>>(),
        exp.len(),
        device,
    )?;
    let old = exp.padded(&all, rmax, |r| &r.old_logp, device)?;
    let kl = if cfg.needs_reference() {
        let reference = exp.padded(&all, rmax, |r| &r.ref_logp, device)?;
        Some(kl_penalty(&old, &reference, &a.kl())?)
    } else {
        None
    };
    let beta = kl_ctl.value();
    let values = match cfg.needs_critic() {
        true => Some(exp.padded(&all, rmax, |r| &r.values, device)?),
        false => None,
    };
    let kl_in_reward = a.kl_in_reward();
    // Turns of an episode are rows of their own: no groups of equal size (validated).
    let n = if cfg.episode.multi_turn { 1 } else { exp.n };
    let adv = compute_advantages(
        &AdvantageInputs {
            seq_rewards: &rewards,
            mask: &mask,
            kl: kl.as_ref().filter(|_| kl_in_reward),
            kl_coef: if kl_in_reward { beta } else { 0.0 },
            values: values.as_ref(),
        },
        &a.advantage(n),
    )?;
    exp.scatter(&all, &adv.advantages, |r| &mut r.advantages)?;
    exp.scatter(&all, &adv.returns, |r| &mut r.returns)?;
    m.extend(adv.metrics);
    if let Some(kl) = &kl {
        let kl_mean = scalar(&masked_mean(kl, &mask)?)?;
        m.insert("kl/mean".into(), kl_mean);
        m.insert("kl/coef".into(), beta);
        kl_ctl.update(kl_mean, exp.len())?;
    }
    let sampler = exp.padded(&all, rmax, |r| &r.sampler_logp, device)?;
    m.insert(
        "rollout/logp_mismatch".into(),
        scalar(&masked_mean(&(&sampler - &old)?.abs()?, &mask)?)?,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lmmr1_rollout::experience::Row;

    fn config(sets: &[&str]) -> Config {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::from_toml_str("", "test", &sets).unwrap()
    }

    /// `groups` groups of `n` rows; row `i` has reward `rewards[i]`, a response of `len[i]`
    /// tokens and per-token old/reference log-probs.
    fn experience(n: usize, rewards: &[f64], lens: &[usize]) -> Experience {
        let rows = rewards
            .iter()
            .zip(lens)
            .enumerate()
            .map(|(i, (&reward, &len))| Row {
                group: i / n,
                response: vec![7; len],
                reward,
                old_logp: (0..len).map(|t| -0.5 - 0.1 * (i + t) as f32).collect(),
                ref_logp: (0..len).map(|t| -0.9 + 0.05 * (i * t) as f32).collect(),
                sampler_logp: vec![-0.5; len],
                ..Row::default()
            })
            .collect();
        Experience { n, rows }
    }

    fn sample(q: &str) -> Sample {
        Sample::text(q, q, "1")
    }

    #[test]
    fn overlong_shaping_penalises_only_the_buffer() {
        // max_new_tokens 10, buffer 4: lengths ≤ 6 keep their reward, 8 loses half, 10 all.
        let cfg = config(&[
            "rollout.max_new_tokens=10",
            "algorithm.overlong_buffer=4",
            "algorithm.overlong_penalty=1.0",
        ]);
        let mut exp = experience(1, &[1.0, 1.0, 1.0, 1.0], &[3, 6, 8, 10]);
        let mut m = Metrics::new();
        shape_overlong(&cfg, &mut exp, &mut m).unwrap();
        let r: Vec<f64> = exp.rows.iter().map(|r| r.reward).collect();
        assert_eq!(r, vec![1.0, 1.0, 0.5, 0.0]);
        assert_eq!(m["reward/overlong_penalty"], -1.5 / 4.0);
        // Off by default.
        let mut exp = experience(1, &[1.0], &[10]);
        shape_overlong(&config(&["rollout.max_new_tokens=10"]), &mut exp, &mut m).unwrap();
        assert_eq!(exp.rows[0].reward, 1.0);
    }

    #[test]
    fn dynamic_sampling_keeps_varied_groups_renumbered_up_to_the_target() {
        let n = 2;
        let mut kept = Collected {
            exp: Experience {
                n,
                rows: Vec::new(),
            },
            prompts: Vec::new(),
        };
        // Round 1: groups 0 (1, 1: dropped), 1 (0, 1: kept), 2 (0.5, 0.5: dropped).
        let exp = experience(n, &[1.0, 1.0, 0.0, 1.0, 0.5, 0.5], &[1; 6]);
        let prompts = [sample("a"), sample("b"), sample("c")];
        assert_eq!(keep_varied_groups(&mut kept, &exp, &prompts, 2).unwrap(), 2);
        assert_eq!(kept.prompts.len(), 1);
        assert_eq!(kept.prompts[0].question_text(), "b");
        // Round 2: two varied groups, only one more is wanted.
        let exp = experience(n, &[0.0, 1.5, 1.0, 0.0], &[1; 4]);
        let prompts = [sample("d"), sample("e")];
        assert_eq!(keep_varied_groups(&mut kept, &exp, &prompts, 2).unwrap(), 0);
        let groups: Vec<usize> = kept.exp.rows.iter().map(|r| r.group).collect();
        assert_eq!(groups, vec![0, 0, 1, 1]);
        let rewards: Vec<f64> = kept.exp.rows.iter().map(|r| r.reward).collect();
        assert_eq!(rewards, vec![0.0, 1.0, 0.0, 1.5]);
        assert_eq!(kept.prompts[1].question_text(), "d");
    }

    fn advantages(sets: &[&str]) -> (Experience, Metrics, KlController) {
        let cfg = config(sets);
        let mut exp = experience(2, &[1.5, 0.0, 0.5, 1.5], &[3, 2, 4, 1]);
        let mut m = Metrics::new();
        let mut ctl = cfg.algorithm.kl_controller();
        estimate_advantages(&cfg, &mut exp, &mut ctl, &Device::Cpu, &mut m).unwrap();
        (exp, m, ctl)
    }

    #[test]
    fn the_kl_estimator_acts_in_the_reward() {
        let (k1, m1, _) = advantages(&["algorithm.kl_coef=0.5", "algorithm.kl_estimator=\"k1\""]);
        let (k3, m3, _) = advantages(&["algorithm.kl_coef=0.5", "algorithm.kl_estimator=\"k3\""]);
        // kl/mean is the masked mean of the chosen estimator over the rollout's tokens.
        let exp = experience(2, &[1.5, 0.0, 0.5, 1.5], &[3, 2, 4, 1]);
        let (mut s1, mut s3, mut count) = (0.0, 0.0, 0.0);
        for r in &exp.rows {
            for (o, f) in r.old_logp.iter().zip(&r.ref_logp) {
                let d = f64::from(o - f);
                s1 += d;
                s3 += (-d).exp() + d - 1.0;
                count += 1.0;
            }
        }
        assert!(
            (m1["kl/mean"] - s1 / count).abs() < 1e-5,
            "{}",
            m1["kl/mean"]
        );
        assert!(
            (m3["kl/mean"] - s3 / count).abs() < 1e-5,
            "{}",
            m3["kl/mean"]
        );
        // And the advantages differ: the estimator reaches the token rewards.
        assert_ne!(k1.rows[0].advantages, k3.rows[0].advantages);
        // Without a reference there is no KL at all.
        let (_, m0, _) = advantages(&["algorithm.kl_coef=0.0"]);
        assert!(!m0.contains_key("kl/mean"));
    }

    #[test]
    fn the_adaptive_controller_moves_beta_and_the_fixed_one_does_not() {
        let (_, m, fixed) = advantages(&["algorithm.kl_coef=0.1"]);
        assert_eq!(fixed.value(), 0.1);
        assert_eq!(m["kl/coef"], 0.1);
        let (_, m, adaptive) = advantages(&[
            "algorithm.kl_coef=0.1",
            "algorithm.kl_controller=\"adaptive\"",
            "algorithm.kl_target=0.01",
            "algorithm.kl_horizon=100",
        ]);
        // KL well above the target: β grows by the clipped error 0.2 × 4 rows / 100.
        assert!(m["kl/mean"] > 0.012, "{}", m["kl/mean"]);
        assert!((adaptive.value() - 0.1 * (1.0 + 0.2 * 4.0 / 100.0)).abs() < 1e-12);
        assert!(matches!(adaptive, KlController::Adaptive { .. }));
    }
}
