//! [`Config::validate`]: every setting checked before any work starts, each error naming its key.

use lmmr1_algos::{AdvantageEstimator, KlControllerKind};

use super::{config_err, Config};
use crate::Result;

impl Config {
    /// Checks values (every float finite, sizes positive, ranges, combinations); errors name
    /// the key.
    pub fn validate(&self) -> Result<()> {
        let pos = |key: &str, v: usize| {
            if v == 0 {
                Err(config_err(format!("{key} must be ≥ 1")))
            } else {
                Ok(())
            }
        };
        let (a, o, r) = (&self.algorithm, &self.optimizer, &self.rollout);
        for (key, v) in [
            ("model.memory_budget_gb", self.model.memory_budget_gb),
            ("warm_start.lr", self.warm_start.lr),
            (
                "warm_start.teacher_error_rate",
                self.warm_start.teacher_error_rate,
            ),
            ("rollout.temperature", r.temperature),
            ("rollout.top_p", r.top_p),
            ("algorithm.gamma", a.gamma),
            ("algorithm.lambda", a.lambda),
            ("algorithm.kl_coef", a.kl_coef),
            ("algorithm.kl_target", a.kl_target),
            ("algorithm.kl_horizon", a.kl_horizon),
            ("algorithm.clip_low", a.clip_low),
            ("algorithm.clip_high", a.clip_high),
            ("algorithm.dual_clip", a.dual_clip),
            ("algorithm.entropy_coef", a.entropy_coef),
            ("algorithm.value_clip", a.value_clip),
            ("algorithm.overlong_penalty", a.overlong_penalty),
            ("optimizer.lr", o.lr),
            ("optimizer.critic_lr", o.critic_lr),
            ("optimizer.betas", o.betas[0]),
            ("optimizer.betas", o.betas[1]),
            ("optimizer.weight_decay", o.weight_decay),
            ("optimizer.max_grad_norm", o.max_grad_norm),
            ("optimizer.min_lr_ratio", o.min_lr_ratio),
            ("optimizer.warmup_ratio", o.warmup_ratio),
        ] {
            if !v.is_finite() {
                return Err(config_err(format!(
                    "{key} must be a finite number, got {v}"
                )));
            }
        }
        for (i, f) in self.data.train.iter().enumerate() {
            if !(f.weight > 0.0 && f.weight.is_finite()) {
                return Err(config_err(format!(
                    "data.train[{i}].weight must be > 0, got {}",
                    f.weight
                )));
            }
        }
        let in_range = |key: &str, v: f64, ok: bool, range: &str| {
            if ok {
                Ok(())
            } else {
                Err(config_err(format!("{key} must be {range}, got {v}")))
            }
        };
        in_range(
            "model.memory_budget_gb",
            self.model.memory_budget_gb,
            self.model.memory_budget_gb >= 0.0,
            "≥ 0 (0 = the device's memory)",
        )?;
        for (key, v) in [
            ("optimizer.lr", o.lr),
            ("optimizer.critic_lr", o.critic_lr),
            ("warm_start.lr", self.warm_start.lr),
        ] {
            in_range(key, v, v > 0.0, "> 0")?;
        }
        let unit = |key: &str, v: f64| in_range(key, v, (0.0..=1.0).contains(&v), "in [0, 1]");
        unit(
            "warm_start.teacher_error_rate",
            self.warm_start.teacher_error_rate,
        )?;
        unit("algorithm.gamma", a.gamma)?;
        unit("algorithm.lambda", a.lambda)?;
        unit("optimizer.min_lr_ratio", o.min_lr_ratio)?;
        in_range(
            "optimizer.warmup_ratio",
            o.warmup_ratio,
            (0.0..1.0).contains(&o.warmup_ratio),
            "in [0, 1)",
        )?;
        for b in o.betas {
            in_range("optimizer.betas", b, (0.0..1.0).contains(&b), "in [0, 1)")?;
        }
        in_range(
            "optimizer.weight_decay",
            o.weight_decay,
            o.weight_decay >= 0.0,
            "≥ 0",
        )?;
        in_range(
            "optimizer.max_grad_norm",
            o.max_grad_norm,
            o.max_grad_norm >= 0.0,
            "≥ 0 (0 = no clipping)",
        )?;
        in_range(
            "rollout.top_p",
            r.top_p,
            r.top_p > 0.0 && r.top_p <= 1.0,
            "in (0, 1]",
        )?;
        in_range(
            "rollout.temperature",
            r.temperature,
            r.temperature >= 0.0,
            "≥ 0 (0 = greedy)",
        )?;
        in_range(
            "algorithm.kl_coef",
            a.kl_coef,
            a.kl_coef >= 0.0,
            "≥ 0 (0 = no reference model)",
        )?;
        in_range(
            "algorithm.clip_low",
            a.clip_low,
            (0.0..1.0).contains(&a.clip_low),
            "in [0, 1)",
        )?;
        in_range(
            "algorithm.clip_high",
            a.clip_high,
            a.clip_high >= 0.0,
            "≥ 0",
        )?;
        in_range(
            "algorithm.dual_clip",
            a.dual_clip,
            a.dual_clip == 0.0 || a.dual_clip > 1.0,
            "> 1 (or 0 = off)",
        )?;
        in_range(
            "algorithm.value_clip",
            a.value_clip,
            a.value_clip >= 0.0,
            "≥ 0 (0 = off)",
        )?;
        in_range(
            "algorithm.overlong_penalty",
            a.overlong_penalty,
            a.overlong_penalty >= 0.0,
            "≥ 0",
        )?;
        if a.kl_controller == KlControllerKind::Adaptive {
            in_range(
                "algorithm.kl_target",
                a.kl_target,
                a.kl_target > 0.0,
                "> 0 (adaptive KL controller)",
            )?;
            in_range(
                "algorithm.kl_horizon",
                a.kl_horizon,
                a.kl_horizon > 0.0,
                "> 0 (adaptive KL controller)",
            )?;
        }

        pos("rollout.prompts_per_step", r.prompts_per_step)?;
        pos("rollout.n_samples_per_prompt", r.n_samples_per_prompt)?;
        pos("rollout.max_new_tokens", r.max_new_tokens)?;
        pos("rollout.generation_batch", r.generation_batch.or(1))?;
        pos("algorithm.epochs", a.epochs)?;
        pos("algorithm.train_batch_size", a.train_batch_size)?;
        pos("algorithm.micro_batch_size", a.micro_batch_size.or(1))?;
        pos("algorithm.max_sampling_rounds", a.max_sampling_rounds)?;
        pos("warm_start.batch_size", self.warm_start.batch_size)?;
        pos("train.eval_pass_k", self.train.eval_pass_k)?;
        pos("train.keep_checkpoints", self.train.keep_checkpoints)?;
        pos("data.max_prompt_len", self.data.max_prompt_len)?;
        let rollout_rows = r.prompts_per_step * r.n_samples_per_prompt;
        if rollout_rows % a.train_batch_size != 0 {
            return Err(config_err(format!(
                "algorithm.train_batch_size ({}) must divide rollout.prompts_per_step × rollout.n_samples_per_prompt ({rollout_rows})",
                a.train_batch_size
            )));
        }
        if a.overlong_buffer > r.max_new_tokens {
            return Err(config_err(format!(
                "algorithm.overlong_buffer ({}) must be at most rollout.max_new_tokens ({})",
                a.overlong_buffer, r.max_new_tokens
            )));
        }
        if a.dynamic_sampling && r.n_samples_per_prompt < 2 {
            return Err(config_err(
                "algorithm.dynamic_sampling needs rollout.n_samples_per_prompt ≥ 2 (it drops groups whose rewards are all equal)",
            ));
        }
        if self.warm_start.steps > 0 && self.warm_start.levels.is_empty() {
            return Err(config_err("warm_start.levels must not be empty"));
        }
        self.warm_start_tasks()?;
        if self.episode.multi_turn {
            pos("episode.max_turns", self.episode.max_turns)?;
            if !matches!(
                a.estimator,
                AdvantageEstimator::Gae | AdvantageEstimator::Reinforce
            ) {
                return Err(config_err(format!(
                    "episode.multi_turn needs algorithm.estimator \"gae\" or \"reinforce\" (turns of one episode are not a group of samples), got {:?}",
                    a.estimator
                )));
            }
            if a.dynamic_sampling {
                return Err(config_err(
                    "algorithm.dynamic_sampling works on groups of samples, not on episodes (episode.multi_turn)",
                ));
            }
        }
        lmmr1_model::dtype(&self.model.dtype)
            .map_err(|e| config_err(format!("model.dtype: {e}")))?;
        let device = self.model.device.as_str();
        let cuda_index = device.strip_prefix("cuda:").map(str::parse::<usize>);
        if !(device == "cpu" || device == "cuda" || matches!(cuda_index, Some(Ok(_)))) {
            return Err(config_err(format!(
                "model.device: unknown device {device:?} (expected cpu, cuda or cuda:N)"
            )));
        }
        if self.data.train.is_empty() && self.data.generator_levels.is_empty() {
            return Err(config_err(
                "data.generator_levels must not be empty when data.train is empty",
            ));
        }
        Ok(())
    }
}
