//! The training loop. [`run`] reads top to bottom: setup → (warm start) → evaluate → per rollout
//! step: rollout, old/ref log-probs and values, advantages, PPO epochs, metrics, evaluation,
//! checkpoint → final evaluation, export, plots, summary.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use lmmr1_algos::{
    compute_advantages, kl_loss, ppo_clip_loss, value_loss, AdvantageConfig, AdvantageInputs,
    KlConfig, LossScale, PolicyLossConfig, PolicyLossInputs, ValueLossConfig,
};
use lmmr1_model::checkpoint::{load_latest_checkpoint, save_checkpoint, save_hf, write_atomic};
use lmmr1_model::optim::{
    accumulate_grads, clip_grad_norm, AdamW, AdamWConfig, LrSchedule, TrainParam,
};
use lmmr1_model::policy::{Policy, PolicyOptions};
use lmmr1_model::processor::ImageProcessor;
use lmmr1_model::tokenizer::Tokenizer;
use lmmr1_model::value::ValueModel;
use lmmr1_rewards::Score;
use lmmr1_rollout::{rollout, rollout_episodes, EpisodeConfig, PromptEncoder, RolloutConfig};
use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::{sample_key, Sample};
use serde::Serialize;
use serde_json::json;

use crate::config::Config;
use crate::data;
use crate::eval::{episode_of, evaluate, evaluate_episodes, solved, system_turns, EvalResult};
use crate::output::{metrics_row, write_plots, JsonLines};
use crate::plan::{self, Resolved};
use crate::{io_err, tiny, warm_start, Error, Result};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Resume from `out/checkpoints` when a checkpoint exists (else start fresh).
    pub resume: bool,
    /// Relative data paths are resolved against this directory.
    pub base_dir: PathBuf,
    /// Show progress bars.
    pub progress: bool,
    /// Set (e.g. by a Ctrl-C handler) to stop after the current step with a checkpoint.
    pub stop: Option<Arc<AtomicBool>>,
}

impl RunOptions {
    /// Defaults for an output directory: resume, paths relative to the working directory,
    /// progress bars on.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            resume: true,
            base_dir: PathBuf::from("."),
            progress: true,
            stop: None,
        }
    }
}

/// What `summary.json` holds.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// `embedded-tiny` or the model directory the run started from.
    pub model: String,
    /// The task family (`data.task`).
    pub task: String,
    /// The estimator.
    pub estimator: String,
    /// Rollout steps done.
    pub steps: usize,
    /// Held-out prompts evaluated.
    pub held_out_prompts: usize,
    /// Greedy held-out accuracy of the starting (warm-started) policy.
    pub accuracy_before: f64,
    /// Greedy held-out accuracy after RL.
    pub accuracy_after: f64,
    /// Format-reward rate before.
    pub format_rate_before: f64,
    /// Format-reward rate after.
    pub format_rate_after: f64,
    /// Sampled pass@k before.
    pub pass_at_k_before: f64,
    /// Sampled pass@k after.
    pub pass_at_k_after: f64,
    /// `k`.
    pub k: usize,
    /// Mean greedy reward before.
    pub mean_reward_before: f64,
    /// Mean greedy reward after.
    pub mean_reward_after: f64,
    /// Agent tasks: fraction of held-out levels or games solved (greedy) before RL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solve_rate_before: Option<f64>,
    /// Agent tasks: the same after RL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solve_rate_after: Option<f64>,
    /// Agent tasks: the mean MageBench score (greedy) before RL — Sokoban's level score (100 =
    /// an optimal plan, 41.18 = MageBench's idle baseline) or football's accumulated reward.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub magebench_score_before: Option<f64>,
    /// Agent tasks: the same after RL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub magebench_score_after: Option<f64>,
    /// Whole run, seconds (this process).
    pub wall_time_s: f64,
    /// Supervised warm start, seconds.
    pub warm_start_s: f64,
    /// Generation and rewards, seconds.
    pub rollout_s: f64,
    /// Old/reference log-probs and values with the training forward, seconds.
    pub logprob_s: f64,
    /// PPO updates (forward, backward, optimizer), seconds.
    pub train_s: f64,
    /// Evaluations, seconds.
    pub eval_s: f64,
    /// Optimizer updates skipped for a non-finite loss or gradient.
    pub skipped_updates: usize,
    /// Where the final weights are (Hugging Face layout).
    pub final_model: String,
}

/// The directory the policy starts from: `model.init_from` when it holds a checkpoint (a
/// two-stage run), else `model.dir`; `None` = the embedded policy.
pub fn model_dir(cfg: &Config) -> Option<PathBuf> {
    let init = Path::new(&cfg.model.init_from);
    if !cfg.model.init_from.is_empty() && init.join("config.json").is_file() {
        return Some(init.to_path_buf());
    }
    (!cfg.model.dir.is_empty()).then(|| PathBuf::from(&cfg.model.dir))
}

/// What identifies a warm-started base: the embedded policy (its config and tokenizer, by
/// FNV-1a hash, and its seed) and the `[warm_start]` settings (its `cache` path aside).
fn warm_start_key(cfg: &Config) -> Result<String> {
    let mut ws = cfg.warm_start.clone();
    ws.cache.clear();
    let text = toml::to_string(&ws).map_err(|e| Error::Other(e.to_string()))?;
    let fnv1a = |bytes: &[u8]| {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    Ok(format!(
        "model.config = {:016x}\nmodel.tokenizer = {:016x}\nmodel.seed = {}\nmodel.dtype = {:?}\n[warm_start]\n{text}",
        fnv1a(tiny::CONFIG_JSON.as_bytes()),
        fnv1a(tiny::TOKENIZER_JSON.as_bytes()),
        cfg.model.seed,
        cfg.model.dtype
    ))
}

/// Policy, tokenizer and where its starting weights live.
struct Setup {
    policy: Policy,
    encoder: PromptEncoder,
    /// Directory with the starting weights (HF layout): the reference model and resumes load it.
    base: PathBuf,
    label: String,
}

fn bar(enabled: bool, len: u64, what: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(&format!(
            "{what:>10} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// The parameters at full precision (f32 masters in mixed precision), by name, for a checkpoint.
fn named(params: &[TrainParam]) -> Vec<(String, Tensor)> {
    params.iter().map(|p| (p.name.clone(), p.value())).collect()
}

/// Copies checkpointed values into parameters (masters and variables; by name; every
/// parameter must be present).
fn restore(
    params: &[TrainParam],
    group: Option<&HashMap<String, Tensor>>,
    what: &str,
) -> Result<()> {
    let group = group.ok_or_else(|| Error::Other(format!("checkpoint has no `{what}` group")))?;
    for p in params {
        let t = group
            .get(&p.name)
            .ok_or_else(|| Error::Other(format!("checkpoint `{what}` lacks tensor {}", p.name)))?;
        p.set(t)?;
    }
    Ok(())
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

fn model_err(e: impl std::fmt::Display) -> lmmr1_model::Error {
    lmmr1_model::Error::Input(e.to_string())
}

/// Loads or builds the policy and saves its starting weights to `out/base` when they are not a
/// directory already (embedded policy, or a warm start).
#[allow(clippy::too_many_arguments)]
fn setup(
    cfg: &Config,
    out: &Path,
    device: &Device,
    dtype: DType,
    fresh: bool,
    exclude: &HashSet<u64>,
    progress: bool,
    resolved: &Resolved,
    summary: &mut Summary,
) -> Result<Setup> {
    let popts = PolicyOptions {
        freeze: cfg.model.freeze.clone(),
        recompute: resolved.recompute,
    };
    let start_dir = model_dir(cfg);
    let embedded = start_dir.is_none();
    let base_out = out.join("base");
    let (tokenizer, model_cfg, label) = match &start_dir {
        None => (
            tiny::tokenizer()?,
            tiny::config()?,
            "embedded-tiny".to_string(),
        ),
        Some(dir) => (
            Tokenizer::from_file(dir.join("tokenizer.json"))?,
            lmmr1_model::Config::from_file(dir.join("config.json"))?,
            dir.display().to_string(),
        ),
    };
    let warm = cfg.warm_start.steps > 0 && (embedded || cfg.warm_start.always);
    let encoder = PromptEncoder {
        tokenizer: tokenizer.clone(),
        processor: ImageProcessor {
            min_pixels: cfg.model.min_pixels,
            max_pixels: cfg.model.max_pixels,
            patch_size: model_cfg.vision_config.patch_size,
            temporal_patch_size: model_cfg.vision_config.temporal_patch_size,
            merge_size: model_cfg.vision_config.spatial_merge_size,
            ..ImageProcessor::default()
        },
        merge_size: model_cfg.vision_config.spatial_merge_size,
        max_prompt_len: cfg.data.max_prompt_len,
        device: device.clone(),
    };
    if !fresh && (embedded || warm) {
        // Resuming: the starting weights were exported by the first run.
        let policy = Policy::from_dir(&base_out, dtype, device, &popts)?;
        return Ok(Setup {
            policy,
            encoder,
            base: base_out,
            label,
        });
    }
    // The warm start trains every parameter (it stands in for pre-training); RL then freezes
    // what `model.freeze` names.
    let build_opts = if embedded || warm {
        PolicyOptions {
            freeze: Vec::new(),
            recompute: resolved.recompute,
        }
    } else {
        popts.clone()
    };
    let policy = match &start_dir {
        None => Policy::random(&model_cfg, cfg.model.seed, dtype, device, &build_opts)?,
        Some(dir) => Policy::from_dir(dir, dtype, device, &build_opts)?,
    };
    if !(embedded || warm) {
        return Ok(Setup {
            policy,
            encoder,
            base: start_dir.unwrap_or_default(),
            label,
        });
    }
    // A cached base with the same warm-start settings is reused as is.
    let cache = (!cfg.warm_start.cache.is_empty()).then(|| PathBuf::from(&cfg.warm_start.cache));
    let key = warm_start_key(cfg)?;
    if let (Some(c), true) = (&cache, embedded) {
        let same = std::fs::read_to_string(c.join("warm_start.key")).is_ok_and(|k| k == key);
        if same {
            let policy = Policy::from_dir(c, dtype, device, &popts)?;
            eprintln!("warm start: reusing the base cached in {}", c.display());
            save_hf(&base_out, &model_cfg, &policy.named_tensors(), dtype)?;
            write_atomic(
                &base_out.join("tokenizer.json"),
                tiny::TOKENIZER_JSON.as_bytes(),
            )?;
            return Ok(Setup {
                policy,
                encoder,
                base: base_out,
                label,
            });
        }
    }
    let t = Instant::now();
    let system = data::system_prompt(cfg);
    let pb = bar(progress, cfg.warm_start.steps as u64, "warm start");
    let kinds = cfg.warm_start_tasks()?;
    let losses = warm_start::warm_start(
        &policy,
        &encoder,
        &cfg.warm_start,
        &kinds,
        system.as_deref(),
        exclude,
        &mut |i, loss| {
            pb.set_position(i as u64);
            pb.set_message(format!("sft loss {loss:.4}"));
            if !progress && i % (cfg.warm_start.steps / 10).max(1) == 0 {
                eprintln!(
                    "warm start {i}/{}: sft loss {loss:.4}",
                    cfg.warm_start.steps
                );
            }
        },
    )?;
    pb.finish_and_clear();
    summary.warm_start_s = t.elapsed().as_secs_f64();
    if let (Some(first), Some(last)) = (losses.first(), losses.last()) {
        eprintln!(
            "warm start: {} steps, sft loss {first:.3} → {last:.3} ({:.0} s)",
            losses.len(),
            summary.warm_start_s
        );
    }
    save_hf(&base_out, &model_cfg, &policy.named_tensors(), dtype)?;
    let tok_path = base_out.join("tokenizer.json");
    let tok_json = match &start_dir {
        None => tiny::TOKENIZER_JSON.as_bytes().to_vec(),
        Some(dir) => {
            let p = dir.join("tokenizer.json");
            std::fs::read(&p).map_err(io_err(p))?
        }
    };
    write_atomic(&tok_path, &tok_json)?;
    if let (Some(c), true) = (&cache, embedded) {
        // Written next to the cache and renamed, so a half-written cache is never used.
        let tmp = c.with_extension("partial");
        let _ = std::fs::remove_dir_all(&tmp);
        save_hf(&tmp, &model_cfg, &policy.named_tensors(), dtype)?;
        write_atomic(&tmp.join("tokenizer.json"), &tok_json)?;
        write_atomic(&tmp.join("warm_start.key"), key.as_bytes())?;
        let _ = std::fs::remove_dir_all(c);
        if let Some(parent) = c.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        std::fs::rename(&tmp, c).map_err(io_err(c))?;
    }
    let policy = if popts.freeze.is_empty() {
        policy
    } else {
        Policy::from_dir(&base_out, dtype, device, &popts)?
    };
    Ok(Setup {
        policy,
        encoder,
        base: base_out,
        label,
    })
}

/// Runs training as configured; see the module docs for the order of work. The whole run
/// happens on one of rayon's worker threads ([`lmmr1_model::on_pool`]).
pub fn run(cfg: &Config, opts: &RunOptions) -> Result<Summary> {
    lmmr1_model::init_threads();
    lmmr1_model::on_pool(|| run_on_this_thread(cfg, opts))
}

fn run_on_this_thread(cfg: &Config, opts: &RunOptions) -> Result<Summary> {
    // ---- Setup -------------------------------------------------------------------------------
    let started = Instant::now();
    let out = &opts.out;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    write_atomic(&out.join("config.toml"), cfg.to_toml()?.as_bytes())?;
    let device = lmmr1_model::device(&cfg.model.device)?;
    let dtype = lmmr1_model::dtype(&cfg.model.dtype)?;
    if device.is_cuda() {
        lmmr1_model::set_tf32(cfg.model.tf32);
    }
    // The "auto" settings, from the memory plan of this run.
    let (model_cfg, from_dir) = plan::model_config(cfg)?;
    let resolved = plan::resolve(cfg, &model_cfg, from_dir, Some(&device))?;
    eprintln!(
        "memory plan: {:.2} GB of {:.2} GB (recompute {}, micro-batch {}, generation batch {}){}",
        resolved.plan.total_bytes as f64 / 1e9,
        resolved.budget_bytes as f64 / 1e9,
        resolved.recompute,
        resolved.micro_batch,
        resolved.generation_batch,
        if resolved.fits() {
            String::new()
        } else {
            format!(
                "; it may NOT FIT, see `--plan`; e.g. {}",
                resolved
                    .suggestions(cfg)
                    .first()
                    .cloned()
                    .unwrap_or_default()
            )
        }
    );
    let ckpt_root = out.join("checkpoints");
    let resumed = if opts.resume {
        load_latest_checkpoint(&ckpt_root)?
    } else {
        None
    };
    let fresh = resumed.is_none();
    let mut data = data::load(cfg, &opts.base_dir)?;
    if data.skipped + data.uncheckable > 0 {
        eprintln!(
            "data: skipped {} malformed rows and {} rows whose gold answer cannot be parsed",
            data.skipped, data.uncheckable
        );
    }
    let eval_set: Vec<Sample> = data
        .eval
        .iter()
        .take(cfg.train.eval_prompts)
        .cloned()
        .collect();
    let exclude: HashSet<u64> = data.eval.iter().map(sample_key).collect();
    let mut summary = Summary {
        task: cfg.data.task.clone(),
        estimator: cfg.algorithm.estimator.clone(),
        held_out_prompts: eval_set.len(),
        k: cfg.train.eval_pass_k,
        ..Summary::default()
    };
    let Setup {
        policy,
        encoder,
        base,
        label,
    } = setup(
        cfg,
        out,
        &device,
        dtype,
        fresh,
        &exclude,
        opts.progress,
        &resolved,
        &mut summary,
    )?;
    summary.model = label;
    let tok = &encoder.tokenizer;
    let pad = tok.token_id("<|endoftext|>").unwrap_or(0);
    let stop_tokens: Vec<u32> = ["<|im_end|>", "<|endoftext|>"]
        .iter()
        .filter_map(|t| tok.token_id(t))
        .collect();
    let reference = if cfg.needs_reference() {
        Some(Policy::from_dir(
            &base,
            dtype,
            &device,
            &PolicyOptions::frozen(),
        )?)
    } else {
        None
    };
    let popts = PolicyOptions {
        freeze: cfg.model.freeze.clone(),
        recompute: resolved.recompute,
    };
    let critic = if cfg.needs_critic() {
        Some(ValueModel::from_dir(
            &base,
            dtype,
            &device,
            &popts,
            cfg.model.seed ^ 0xC417,
        )?)
    } else {
        None
    };
    let actor_vars = policy.trainable_vars();
    let actor_params = policy.trainable_params();
    let critic_vars = critic
        .as_ref()
        .map(|c| c.trainable_vars())
        .unwrap_or_default();
    let critic_params = critic
        .as_ref()
        .map(|c| c.trainable_params())
        .unwrap_or_default();
    let rows_per_step = cfg.rollout.prompts_per_step * cfg.rollout.n_samples_per_prompt;
    let updates_per_step = rows_per_step / cfg.algorithm.train_batch_size * cfg.algorithm.epochs;
    let total_updates = (cfg.train.steps * updates_per_step) as u64;
    let schedule = |peak: f64| LrSchedule {
        kind: cfg
            .schedule_kind()
            .unwrap_or(lmmr1_model::optim::ScheduleKind::Constant),
        peak_lr: peak,
        warmup_steps: (total_updates as f64 * cfg.optimizer.warmup_ratio).ceil() as u64,
        total_steps: total_updates.max(1),
    };
    let (actor_sched, critic_sched) = (
        schedule(cfg.optimizer.lr),
        schedule(cfg.optimizer.critic_lr),
    );
    let adam = |lr: f64| AdamWConfig {
        lr,
        beta1: cfg.optimizer.betas[0],
        beta2: cfg.optimizer.betas[1],
        eps: 1e-8,
        weight_decay: cfg.optimizer.weight_decay,
    };
    let mut actor_opt = AdamW::new(actor_params.clone(), adam(cfg.optimizer.lr))?;
    let mut critic_opt = AdamW::new(critic_params.clone(), adam(cfg.optimizer.critic_lr))?;
    let mut start_step = 0;
    let mut before = EvalResult::default();
    let mut update: u64 = 0;
    if let Some(ck) = &resumed {
        restore(&actor_params, ck.groups.get("policy"), "policy")?;
        let st = &ck.state;
        let steps_of = |k: &str| st.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        if let Some(g) = ck.groups.get("policy_optim") {
            actor_opt.load_state_tensors(g, steps_of("actor_opt_steps"))?;
        }
        if critic.is_some() {
            restore(&critic_params, ck.groups.get("critic"), "critic")?;
            if let Some(g) = ck.groups.get("critic_optim") {
                critic_opt.load_state_tensors(g, steps_of("critic_opt_steps"))?;
            }
        }
        let pos = serde_json::from_value(st["data_position"].clone())
            .map_err(|e| Error::Other(format!("checkpoint state `data_position`: {e}")))?;
        data.train.set_position(&pos)?;
        before = serde_json::from_value(st["before"].clone()).unwrap_or_default();
        start_step = ck.step as usize;
        update = steps_of("update");
        summary.skipped_updates = steps_of("skipped_updates") as usize;
        eprintln!("resuming from {} (step {start_step})", ck.dir.display());
    }
    if fresh {
        // A fresh start in a used directory: the old logs describe another run.
        for f in ["metrics.jsonl", "samples.jsonl"] {
            let p = out.join(f);
            if p.exists() {
                std::fs::remove_file(&p).map_err(io_err(&p))?;
            }
        }
    }
    let keep = if fresh { None } else { Some(start_step) };
    let mut metrics_log = JsonLines::open(&out.join("metrics.jsonl"), keep)?;
    let mut samples_log = JsonLines::open(&out.join("samples.jsonl"), keep)?;
    let rollout_model = policy.rollout_model()?;
    let rcfg = RolloutConfig {
        n_samples_per_prompt: cfg.rollout.n_samples_per_prompt,
        max_new_tokens: cfg.rollout.max_new_tokens,
        temperature: cfg.rollout.temperature,
        top_p: cfg.rollout.top_p,
        top_k: cfg.rollout.top_k,
        generation_batch: resolved.generation_batch,
        stop_tokens,
        pad_token: pad,
        suppress_tokens: [
            "<|image_pad|>",
            "<|video_pad|>",
            "<|vision_start|>",
            "<|vision_end|>",
            "<|vision_pad|>",
        ]
        .iter()
        .filter_map(|t| tok.token_id(t))
        .collect(),
    };
    let task = cfg.task()?;
    let reward = |s: &Sample, text: &str| -> Score { task.score(s, text) };
    let ecfg = EpisodeConfig {
        max_turns: cfg.episode.max_turns,
        history: cfg.episode.history,
    };
    let adv_cfg = AdvantageConfig {
        estimator: cfg.estimator()?,
        // Turns of an episode are rows of their own: no groups of equal size (validated).
        n_samples_per_prompt: if cfg.episode.multi_turn {
            1
        } else {
            cfg.rollout.n_samples_per_prompt
        },
        gamma: cfg.algorithm.gamma,
        lambda: cfg.algorithm.lambda,
        ..AdvantageConfig::default()
    };
    let pl_cfg = PolicyLossConfig {
        clip_low: cfg.algorithm.clip_low,
        clip_high: cfg.algorithm.clip_high,
        entropy_coef: cfg.algorithm.entropy_coef,
        aggregation: cfg.loss_aggregation()?,
        ..PolicyLossConfig::default()
    };
    let kl_cfg = KlConfig {
        estimator: cfg.kl_estimator()?,
        ..KlConfig::default()
    };
    let vl_cfg = ValueLossConfig {
        value_clip: Some(cfg.algorithm.value_clip),
        aggregation: pl_cfg.aggregation,
    };
    let kl_in_reward = cfg.needs_reference() && !cfg.algorithm.use_kl_loss;
    let want_entropy = cfg.train.log_entropy || cfg.algorithm.entropy_coef != 0.0;
    let micro = resolved.micro_batch;

    let do_eval = |step: usize, log: &mut JsonLines, summary: &mut Summary| -> Result<EvalResult> {
        let t = Instant::now();
        let (r, greedy) = if cfg.episode.multi_turn {
            evaluate_episodes(
                &rollout_model,
                &encoder,
                &eval_set,
                task,
                &rcfg,
                &ecfg,
                cfg.train.eval_pass_k,
                cfg.train.seed ^ 0xE7A1_0000,
            )?
        } else {
            evaluate(
                &rollout_model,
                &encoder,
                &eval_set,
                &rcfg,
                cfg.train.eval_pass_k,
                cfg.train.seed ^ 0xE7A1_0000,
                &reward,
            )?
        };
        summary.eval_s += t.elapsed().as_secs_f64();
        let mut m = BTreeMap::new();
        m.insert("eval/accuracy".to_string(), r.accuracy);
        m.insert("eval/format_rate".to_string(), r.format_rate);
        m.insert("eval/mean_reward".to_string(), r.mean_reward);
        m.insert("eval/response_len".to_string(), r.response_len);
        m.insert("eval/sampled_accuracy".to_string(), r.sampled_accuracy);
        m.insert("eval/pass_at_k".to_string(), r.pass_at_k);
        for (k, v) in &r.components {
            if k != "accuracy" && k != "format" {
                m.insert(format!("eval/{k}"), *v);
            }
        }
        log.write(&metrics_row(step, "eval", &m))?;
        if let Some(row) = greedy.rows.first() {
            eprintln!(
                "eval @ step {step}: greedy accuracy {:.3}, format {:.3}, pass@{} {:.3}; e.g. {:?}",
                r.accuracy, r.format_rate, r.k, r.pass_at_k, row.text
            );
        }
        Ok(r)
    };
    if fresh {
        before = do_eval(0, &mut metrics_log, &mut summary)?;
    }
    let mut last = before.clone();
    let mut last_eval_step = start_step;

    // ---- The loop ----------------------------------------------------------------------------
    let pb = bar(opts.progress, cfg.train.steps as u64, "rl");
    pb.set_position(start_step as u64);
    let mut step = start_step;
    while step < cfg.train.steps {
        step += 1;
        let t_step = Instant::now();
        let mut m: BTreeMap<String, f64> = BTreeMap::new();

        // Rollout: n samples per prompt with the current weights, scored by the rule reward.
        let prompts: Vec<Sample> = data
            .train
            .batch(cfg.rollout.prompts_per_step)
            .into_iter()
            .cloned()
            .collect();
        let seed = cfg
            .train
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(step as u64);
        let mut exp = if cfg.episode.multi_turn {
            let n = cfg.rollout.n_samples_per_prompt;
            let mut eps = Vec::with_capacity(prompts.len() * n);
            let mut groups = Vec::with_capacity(prompts.len() * n);
            for (g, s) in prompts.iter().enumerate() {
                for _ in 0..n {
                    eps.push(episode_of(task, s)?);
                    groups.push(g);
                }
            }
            let prefix = prompts.first().map(system_turns).unwrap_or_default();
            let (exp, played) = rollout_episodes(
                &rollout_model,
                &encoder,
                &prefix,
                &mut eps,
                &groups,
                &rcfg,
                &ecfg,
                seed,
                &mut |t, tmax| pb.set_message(format!("step {step}: turn {t}/{tmax}")),
            )?;
            let ne = played.len().max(1) as f64;
            m.insert(
                "episode/solved".into(),
                played
                    .iter()
                    .filter(|e| e.score.component("solved").unwrap_or(0.0) > 0.5)
                    .count() as f64
                    / ne,
            );
            m.insert(
                "episode/return".into(),
                played.iter().map(|e| e.score.total).sum::<f64>() / ne,
            );
            m.insert(
                "episode/turns".into(),
                played.iter().map(|e| e.turns as f64).sum::<f64>() / ne,
            );
            exp
        } else {
            rollout(
                &rollout_model,
                &encoder,
                &prompts,
                &rcfg,
                seed,
                &reward,
                &mut |d, n| pb.set_message(format!("step {step}: sampling {d}/{n}")),
            )?
        };
        let t_rollout = t_step.elapsed().as_secs_f64();

        // Old (and reference) log-probs and values, with the training forward.
        let t_lp = Instant::now();
        pb.set_message(format!("step {step}: log-probs"));
        let all: Vec<usize> = (0..exp.len()).collect();
        for chunk in all.chunks(micro) {
            let mb = exp.micro_batch(chunk, pad, &device)?;
            let lp = policy.log_probs(&mb.inputs, mb.start, false)?;
            exp.scatter(chunk, &lp.logp.detach(), |r| &mut r.old_logp)?;
            if let Some(r) = &reference {
                let lp = r.log_probs(&mb.inputs, mb.start, false)?;
                exp.scatter(chunk, &lp.logp.detach(), |r| &mut r.ref_logp)?;
            }
            if let Some(c) = &critic {
                let v = c.values(&mb.inputs, mb.start)?;
                exp.scatter(chunk, &v.detach(), |r| &mut r.values)?;
            }
        }
        let t_logprob = t_lp.elapsed().as_secs_f64();

        // Advantages over the whole rollout (group-major rows).
        let rmax = exp.max_response_len();
        let mask = exp.mask(&all, rmax, &device)?;
        let rewards = Tensor::from_vec(
            exp.rows.iter().map(|r| r.reward as f32).collect::<Vec<_>>(),
            exp.len(),
            &device,
        )?;
        let old_all = exp.padded(&all, rmax, |r| &r.old_logp, &device)?;
        let kl = if reference.is_some() {
            let ref_all = exp.padded(&all, rmax, |r| &r.ref_logp, &device)?;
            let kl = (&old_all - &ref_all)?;
            m.insert(
                "kl/mean".into(),
                scalar(&lmmr1_algos::masked_mean(&kl, &mask)?)?,
            );
            Some(kl)
        } else {
            None
        };
        let values_all = match &critic {
            Some(_) => Some(exp.padded(&all, rmax, |r| &r.values, &device)?),
            None => None,
        };
        let adv = compute_advantages(
            &AdvantageInputs {
                seq_rewards: &rewards,
                mask: &mask,
                kl: if kl_in_reward { kl.as_ref() } else { None },
                kl_coef: if kl_in_reward {
                    cfg.algorithm.kl_coef
                } else {
                    0.0
                },
                values: values_all.as_ref(),
            },
            &adv_cfg,
        )?;
        exp.scatter(&all, &adv.advantages, |r| &mut r.advantages)?;
        exp.scatter(&all, &adv.returns, |r| &mut r.returns)?;
        m.extend(adv.metrics.clone());
        let sampler_all = exp.padded(&all, rmax, |r| &r.sampler_logp, &device)?;
        m.insert(
            "rollout/logp_mismatch".into(),
            scalar(&lmmr1_algos::masked_mean(
                &(&sampler_all - &old_all)?.abs()?,
                &mask,
            )?)?,
        );

        // PPO epochs over shuffled mini-batches, micro-batch gradient accumulation.
        let t_train = Instant::now();
        let mut rng = SplitMix64::new(seed ^ 0x7EA1);
        let acc_metrics: RefCell<BTreeMap<String, f64>> = RefCell::new(BTreeMap::new());
        let mut n_updates = 0usize;
        for _epoch in 0..cfg.algorithm.epochs {
            let mut perm = all.clone();
            rng.shuffle(&mut perm);
            for mini in perm.chunks(cfg.algorithm.train_batch_size) {
                pb.set_message(format!("step {step}: update {}", n_updates + 1));
                let scale = LossScale {
                    global_token_count: Some(exp.token_count(mini) as f64),
                    global_seq_count: Some(mini.len() as f64),
                    norm_length: Some(cfg.rollout.max_new_tokens as f64),
                    dp_size: 1,
                };
                let mut actor_grads = None;
                let mut critic_grads = None;
                let (mut loss_sum, mut vloss_sum) = (0.0, 0.0);
                for mchunk in mini.chunks(micro) {
                    let mb = exp.micro_batch(mchunk, pad, &device)?;
                    let l = mb.response_len;
                    let old = exp.padded(mchunk, l, |r| &r.old_logp, &device)?;
                    let advs = exp.padded(mchunk, l, |r| &r.advantages, &device)?;
                    let refl = match &reference {
                        Some(_) if cfg.algorithm.use_kl_loss => {
                            Some(exp.padded(mchunk, l, |r| &r.ref_logp, &device)?)
                        }
                        _ => None,
                    };
                    let weight =
                        exp.token_count(mchunk) as f64 / scale.global_token_count.unwrap_or(1.0);
                    let (loss, grads) =
                        policy.forward_backward(&mb.inputs, mb.start, want_entropy, |lp| {
                            let (pl, pm) = ppo_clip_loss(
                                &PolicyLossInputs {
                                    log_probs: &lp.logp,
                                    old_log_probs: &old,
                                    advantages: &advs,
                                    mask: &mb.mask,
                                    entropy: lp.entropy.as_ref(),
                                    scale,
                                },
                                &pl_cfg,
                            )
                            .map_err(model_err)?;
                            let mut acc = acc_metrics.borrow_mut();
                            for (k, v) in pm {
                                if k.starts_with("actor/ratio/max")
                                    || k.starts_with("actor/ratio/min")
                                {
                                    continue;
                                }
                                *acc.entry(k).or_insert(0.0) += v * weight;
                            }
                            match &refl {
                                Some(r) => {
                                    let (kl, _) = kl_loss(
                                        &lp.logp,
                                        r,
                                        &mb.mask,
                                        &kl_cfg,
                                        pl_cfg.aggregation,
                                        &scale,
                                    )
                                    .map_err(model_err)?;
                                    Ok((pl + (kl * cfg.algorithm.kl_coef)?)?)
                                }
                                None => Ok(pl),
                            }
                        })?;
                    loss_sum += scalar(&loss)?;
                    accumulate_grads(&mut actor_grads, grads, &actor_vars)?;
                    if let Some(c) = &critic {
                        let old_v = exp.padded(mchunk, l, |r| &r.values, &device)?;
                        let ret = exp.padded(mchunk, l, |r| &r.returns, &device)?;
                        let (vl, g) = c.forward_backward(&mb.inputs, mb.start, |v| {
                            let (loss, vm) = value_loss(v, &old_v, &ret, &mb.mask, &vl_cfg, &scale)
                                .map_err(model_err)?;
                            let mut acc = acc_metrics.borrow_mut();
                            for (k, x) in vm {
                                *acc.entry(k).or_insert(0.0) += x * weight;
                            }
                            Ok(loss)
                        })?;
                        vloss_sum += scalar(&vl)?;
                        accumulate_grads(&mut critic_grads, g, &critic_vars)?;
                    }
                }
                let Some(mut grads) = actor_grads else {
                    continue;
                };
                let gnorm = clip_grad_norm(&mut grads, &actor_vars, cfg.optimizer.max_grad_norm)?;
                *acc_metrics
                    .borrow_mut()
                    .entry("actor/grad_norm".into())
                    .or_insert(0.0) += gnorm;
                if !loss_sum.is_finite() || !gnorm.is_finite() {
                    let what = if loss_sum.is_finite() {
                        "gradient norm"
                    } else {
                        "loss"
                    };
                    if cfg.train.on_nonfinite == "stop" {
                        pb.abandon();
                        return Err(Error::NonFinite {
                            step,
                            what: what.into(),
                        });
                    }
                    eprintln!("step {step}: non-finite {what}, update skipped");
                    summary.skipped_updates += 1;
                    update += 1;
                    continue;
                }
                actor_opt.step(&grads, actor_sched.lr_at(update))?;
                if let Some(mut g) = critic_grads {
                    let cn = clip_grad_norm(&mut g, &critic_vars, cfg.optimizer.max_grad_norm)?;
                    if cn.is_finite() && vloss_sum.is_finite() {
                        critic_opt.step(&g, critic_sched.lr_at(update))?;
                    }
                }
                m.insert("actor/lr".into(), actor_sched.lr_at(update));
                update += 1;
                n_updates += 1;
            }
        }
        for (k, v) in acc_metrics.into_inner() {
            m.insert(k, v / (updates_per_step.max(1)) as f64);
        }
        let t_train = t_train.elapsed().as_secs_f64();

        // Metrics of the step.
        let n = exp.len() as f64;
        let mean = |f: &dyn Fn(&lmmr1_rollout::experience::Row) -> f64| {
            exp.rows.iter().map(f).sum::<f64>() / n
        };
        m.insert("reward/mean".into(), mean(&|r| r.reward));
        m.insert(
            "reward/accuracy".into(),
            mean(&|r| solved(&r.components, r.reward) as u8 as f64),
        );
        m.insert(
            "reward/format".into(),
            mean(&|r| r.components.iter().any(|(k, v)| k == "format" && *v > 0.0) as u8 as f64),
        );
        m.insert(
            "response/length_mean".into(),
            mean(&|r| r.response.len() as f64),
        );
        m.insert(
            "response/truncated".into(),
            mean(&|r| (!r.stopped) as u8 as f64),
        );
        m.insert("time/rollout_s".into(), t_rollout);
        m.insert("time/logprob_s".into(), t_logprob);
        m.insert("time/train_s".into(), t_train);
        m.insert("time/step_s".into(), t_step.elapsed().as_secs_f64());
        summary.rollout_s += t_rollout;
        summary.logprob_s += t_logprob;
        summary.train_s += t_train;
        metrics_log.write(&metrics_row(step, "train", &m))?;
        for r in exp.rows.iter().take(cfg.train.log_samples) {
            samples_log.write(&json!({
                "step": step,
                "prompt": prompts[r.group].question_text(),
                "answer": prompts[r.group].answer,
                "response": r.text,
                "reward": r.reward,
                "components": r.components.iter().cloned().collect::<BTreeMap<_, _>>(),
            }))?;
        }
        pb.set_position(step as u64);
        pb.set_message(format!(
            "reward {:.3} acc {:.3}",
            m["reward/mean"], m["reward/accuracy"]
        ));
        if !opts.progress {
            eprintln!(
                "step {step}/{}: reward {:.3}, solved {:.3}, {:.0} s",
                cfg.train.steps,
                m["reward/mean"],
                m["reward/accuracy"],
                t_step.elapsed().as_secs_f64()
            );
        }

        // Evaluation and checkpoint.
        let interrupted = opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
        if cfg.train.eval_every > 0 && step % cfg.train.eval_every == 0 && step < cfg.train.steps {
            last = do_eval(step, &mut metrics_log, &mut summary)?;
            last_eval_step = step;
            write_plots(out)?;
        }
        let ckpt_due = cfg.train.checkpoint_every > 0 && step % cfg.train.checkpoint_every == 0;
        if ckpt_due || interrupted || step == cfg.train.steps {
            let mut groups = vec![
                ("policy", named(&actor_params)),
                ("policy_optim", actor_opt.state_tensors()?),
            ];
            if critic.is_some() {
                groups.push(("critic", named(&critic_params)));
                groups.push(("critic_optim", critic_opt.state_tensors()?));
            }
            let state = json!({
                "data_position": data.train.position(),
                "before": before,
                "update": update,
                "actor_opt_steps": actor_opt.steps(),
                "critic_opt_steps": critic_opt.steps(),
                "skipped_updates": summary.skipped_updates,
            });
            save_checkpoint(
                &ckpt_root,
                step as u64,
                &groups,
                &state,
                cfg.train.keep_checkpoints,
            )?;
        }
        if interrupted {
            pb.abandon_with_message(format!("interrupted after step {step}; checkpoint saved"));
            return Err(Error::Other(format!(
                "interrupted after step {step}; rerun the same command to resume"
            )));
        }
    }
    pb.finish_and_clear();

    // ---- Final evaluation, export, plots, summary --------------------------------------------
    if last_eval_step != cfg.train.steps || cfg.train.steps == 0 || !fresh {
        last = do_eval(cfg.train.steps, &mut metrics_log, &mut summary)?;
    }
    let final_dir = out.join("final");
    save_hf(&final_dir, policy.config(), &policy.named_tensors(), dtype)?;
    let tok_src = base.join("tokenizer.json");
    if let Ok(bytes) = std::fs::read(&tok_src) {
        write_atomic(&final_dir.join("tokenizer.json"), &bytes)?;
    }
    write_plots(out)?;
    summary.steps = cfg.train.steps;
    summary.accuracy_before = before.accuracy;
    summary.accuracy_after = last.accuracy;
    summary.format_rate_before = before.format_rate;
    summary.format_rate_after = last.format_rate;
    summary.pass_at_k_before = before.pass_at_k;
    summary.pass_at_k_after = last.pass_at_k;
    summary.mean_reward_before = before.mean_reward;
    summary.mean_reward_after = last.mean_reward;
    if task.is_agent() {
        summary.solve_rate_before = Some(before.accuracy);
        summary.solve_rate_after = Some(last.accuracy);
    }
    summary.magebench_score_before = before.components.get("magebench").copied();
    summary.magebench_score_after = last.components.get("magebench").copied();
    summary.wall_time_s = started.elapsed().as_secs_f64();
    summary.final_model = final_dir.display().to_string();
    let text = serde_json::to_string_pretty(&summary).map_err(|e| Error::Other(e.to_string()))?;
    write_atomic(&out.join("summary.json"), text.as_bytes())?;
    Ok(summary)
}
