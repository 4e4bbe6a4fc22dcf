//! The training loop. [`run`] reads top to bottom: setup → resume → per rollout step: rollout
//! ([`step::collect`]), old/reference log-probs and values ([`step::fill_log_probs`]),
//! advantages ([`step::estimate_advantages`]), PPO epochs ([`update::ppo_update`]), metrics,
//! evaluation (always at the last step), checkpoint → export, plots, summary.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use lmmr1_model::checkpoint::{load_latest_checkpoint, save_hf, write_atomic, LoadedCheckpoint};
use lmmr1_model::critic::ValueModel;
use lmmr1_model::optim::AdamW;
use lmmr1_model::policy::{Policy, PolicyOptions};
use lmmr1_model::sampling::SamplingParams;
use lmmr1_model::tokenizer::Tokenizer;
use lmmr1_rollout::{EpisodeConfig, Experience, RolloutConfig};
use lmmr1_tasks::{sample_key, Sample};
use serde::Serialize;
use serde_json::json;

use crate::config::Config;
use crate::eval::{evaluate, evaluate_episodes, solved, EvalResult};
use crate::output::{progress_bar, write_plots, JsonLines, MetricsLog};
use crate::plan::{self, Resolved};
use crate::setup::{setup, Setup};
use crate::state::{self, TrainState, Trained, TRAIN_STATE_VERSION};
use crate::step::{self, Metrics, Sampling, Scorers};
use crate::tensorboard::EventWriter;
use crate::update::{self, Learners, Optimized, UpdateCount};
use crate::{data, io_err, Error, Result};

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
    // The checkpoint first: when it cannot be read, nothing in `out` has been touched yet.
    let resumed = match opts.resume {
        true => find_checkpoint(&out.join("checkpoints"))?,
        false => None,
    };
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    write_atomic(&out.join("config.toml"), cfg.to_toml()?.as_bytes())?;
    let device = lmmr1_model::device(&cfg.model.device)?;
    let dtype = lmmr1_model::dtype(&cfg.model.dtype)?;
    if device.is_cuda() {
        lmmr1_model::set_tf32(cfg.model.tf32);
    }
    let (model_cfg, from_dir) = plan::model_config(cfg)?;
    let resolved = plan::resolve(cfg, &model_cfg, from_dir, Some(&device))?;
    print_plan(cfg, &resolved);
    let ckpt_root = out.join("checkpoints");
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
    let Setup {
        policy,
        encoder,
        base,
        label,
        warm_start_s,
    } = setup(
        cfg,
        out,
        &device,
        dtype,
        fresh,
        &exclude,
        opts.progress,
        resolved.recompute,
    )?;
    let mut summary = Summary {
        model: label,
        task: cfg.data.task.name().to_string(),
        estimator: serde_json::to_value(cfg.algorithm.estimator)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        held_out_prompts: eval_set.len(),
        k: cfg.train.eval_pass_k,
        warm_start_s,
        ..Summary::default()
    };
    let reference = match cfg.needs_reference() {
        true => Some(Policy::from_dir(
            &base,
            dtype,
            &device,
            &PolicyOptions::frozen(),
        )?),
        false => None,
    };
    let critic = match cfg.needs_critic() {
        true => {
            let popts = PolicyOptions {
                freeze: cfg.model.freeze.clone(),
                recompute: resolved.recompute,
            };
            Some(ValueModel::from_dir(
                &base,
                dtype,
                &device,
                &popts,
                cfg.model.seed ^ 0xC417,
            )?)
        }
        false => None,
    };
    let (actor_vars, actor_params) = (policy.trainable_vars(), policy.trainable_params());
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
    let actor_sched = cfg.optimizer.schedule(cfg.optimizer.lr, total_updates);
    let critic_sched = cfg
        .optimizer
        .schedule(cfg.optimizer.critic_lr, total_updates);
    let mut actor_opt = AdamW::new(actor_params.clone(), cfg.optimizer.adamw(cfg.optimizer.lr))?;
    let mut critic_opt = AdamW::new(
        critic_params.clone(),
        cfg.optimizer.adamw(cfg.optimizer.critic_lr),
    )?;

    // ---- Resume ------------------------------------------------------------------------------
    let mut before = EvalResult::default();
    let mut last = EvalResult::default();
    let mut count = UpdateCount::default();
    let mut kl_ctl = cfg.algorithm.kl_controller();
    let mut start_step = 0;
    if let Some(ck) = &resumed {
        let st = state::read_state(ck)?;
        state::restore(
            ck,
            "policy",
            &actor_params,
            &mut actor_opt,
            st.actor_opt_steps,
        )?;
        if critic.is_some() {
            state::restore(
                ck,
                "critic",
                &critic_params,
                &mut critic_opt,
                st.critic_opt_steps,
            )?;
        }
        data.train.set_position(&st.data_position)?;
        (before, last, kl_ctl) = (st.before, st.last, st.kl_controller);
        start_step = ck.step as usize;
        count = UpdateCount {
            planned: st.update,
            skipped: st.skipped_updates,
        };
        eprintln!("resuming from {} (step {start_step})", ck.dir.display());
    } else {
        // A fresh start in a used directory: the old logs describe another run.
        for f in ["metrics.jsonl", "samples.jsonl"] {
            let p = out.join(f);
            if p.exists() {
                std::fs::remove_file(&p).map_err(io_err(&p))?;
            }
        }
        let tb = out.join("tb");
        if tb.is_dir() {
            std::fs::remove_dir_all(&tb).map_err(io_err(&tb))?;
        }
    }
    let keep = (!fresh).then_some(start_step);
    let mut metrics_log = MetricsLog {
        jsonl: JsonLines::open(&out.join("metrics.jsonl"), keep)?,
        tensorboard: EventWriter::create(&out.join("tb"))?,
    };
    let config_text = format!("```toml\n{}\n```", cfg.to_toml()?);
    metrics_log
        .tensorboard
        .text(start_step, "config", &config_text)?;
    let mut samples_log = JsonLines::open(&out.join("samples.jsonl"), keep)?;
    let tok = &encoder.tokenizer;
    let pad = tok.token_id("<|endoftext|>").unwrap_or(0);
    let rcfg = rollout_config(cfg, tok, resolved.generation_batch);
    let ecfg = EpisodeConfig {
        max_turns: cfg.episode.max_turns,
        history: cfg.episode.history,
    };
    let rollout_model = policy.rollout_model()?;
    let sampling = Sampling {
        cfg,
        model: &rollout_model,
        encoder: &encoder,
        rollout: &rcfg,
        episode: &ecfg,
        task: cfg.data.task,
    };
    let do_eval = |step: usize, log: &mut MetricsLog, summary: &mut Summary| {
        let t = Instant::now();
        let r = evaluate_and_log(&sampling, &eval_set, step, log)?;
        summary.eval_s += t.elapsed().as_secs_f64();
        Ok::<_, Error>(r)
    };
    if fresh {
        before = do_eval(0, &mut metrics_log, &mut summary)?;
        last = before.clone();
    }

    // ---- The loop ----------------------------------------------------------------------------
    let pb = progress_bar(opts.progress, cfg.train.steps as u64, "rl");
    pb.set_position(start_step as u64);
    let mut progress = |msg: String| pb.set_message(msg);
    for step in start_step + 1..=cfg.train.steps {
        let t_step = Instant::now();
        let mut m = Metrics::new();

        // Rollout: n samples per prompt with the current weights, scored by the rule reward.
        let step::Collected { mut exp, prompts } =
            step::collect(&sampling, &mut data.train, step, &mut m, &mut progress)?;
        let t_rollout = t_step.elapsed().as_secs_f64();
        if !exp.is_empty() {
            // Old (and reference) log-probs and values, with the training forward.
            let t = Instant::now();
            progress(format!("step {step}: log-probs"));
            let scorers = Scorers {
                policy: &policy,
                reference: reference.as_ref(),
                critic: critic.as_ref(),
            };
            step::fill_log_probs(&scorers, &mut exp, resolved.micro_batch, pad, &device)?;
            m.insert("time/logprob_s".into(), t.elapsed().as_secs_f64());

            // Advantages over the whole rollout (group-major rows), at this step's β.
            let beta = kl_ctl.value();
            step::estimate_advantages(cfg, &mut exp, &mut kl_ctl, &device, &mut m)?;

            // PPO epochs over shuffled mini-batches, micro-batch gradient accumulation.
            let t = Instant::now();
            let mut learners = Learners {
                policy: &policy,
                actor: Optimized {
                    vars: &actor_vars,
                    opt: &mut actor_opt,
                    schedule: &actor_sched,
                },
                critic: critic.as_ref().map(|c| {
                    let opt = Optimized {
                        vars: &critic_vars,
                        opt: &mut critic_opt,
                        schedule: &critic_sched,
                    };
                    (c, opt)
                }),
            };
            let batching = (resolved.micro_batch, pad, &device);
            let r = update::ppo_update(
                cfg,
                &mut learners,
                &exp,
                beta,
                batching,
                step,
                &mut count,
                &mut m,
                &mut progress,
            );
            if r.is_err() {
                pb.abandon();
            }
            r?;
            m.insert("time/train_s".into(), t.elapsed().as_secs_f64());
        }

        // Metrics and samples of the step.
        rollout_metrics(&exp, &mut m);
        m.insert("time/rollout_s".into(), t_rollout);
        m.insert("time/step_s".into(), t_step.elapsed().as_secs_f64());
        summary.rollout_s += t_rollout;
        summary.logprob_s += m.get("time/logprob_s").copied().unwrap_or(0.0);
        summary.train_s += m.get("time/train_s").copied().unwrap_or(0.0);
        metrics_log.write(step, "train", &m)?;
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
        let (reward, accuracy) = (m["reward/mean"], m["reward/accuracy"]);
        pb.set_position(step as u64);
        pb.set_message(format!("reward {reward:.3} acc {accuracy:.3}"));
        if !opts.progress {
            let secs = t_step.elapsed().as_secs_f64();
            let steps = cfg.train.steps;
            eprintln!("step {step}/{steps}: reward {reward:.3}, solved {accuracy:.3}, {secs:.0} s");
        }

        // Evaluation and checkpoint.
        let interrupted = opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
        // The final evaluation belongs to the last step, so that its checkpoint holds it and a
        // rerun after a crash in the export neither repeats nor loses it.
        let eval_due = cfg.train.eval_every > 0 && step % cfg.train.eval_every == 0;
        if eval_due || step == cfg.train.steps {
            last = do_eval(step, &mut metrics_log, &mut summary)?;
            write_plots(out)?;
        }
        let ckpt_due = cfg.train.checkpoint_every > 0 && step % cfg.train.checkpoint_every == 0;
        if ckpt_due || interrupted || step == cfg.train.steps {
            let mut models = vec![Trained {
                name: "policy",
                params: &actor_params,
                opt: &actor_opt,
            }];
            if critic.is_some() {
                models.push(Trained {
                    name: "critic",
                    params: &critic_params,
                    opt: &critic_opt,
                });
            }
            let st = TrainState {
                version: TRAIN_STATE_VERSION,
                data_position: data.train.position(),
                before: before.clone(),
                last: last.clone(),
                update: count.planned,
                actor_opt_steps: actor_opt.steps(),
                critic_opt_steps: critic_opt.steps(),
                skipped_updates: count.skipped,
                kl_controller: kl_ctl,
            };
            state::save(&ckpt_root, step, &models, &st, cfg.train.keep_checkpoints).map_err(
                |e| {
                    Error::Other(format!(
                        "step {step}: writing its checkpoint failed (the previous checkpoint is kept): {e}"
                    ))
                },
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

    // ---- Export, plots, summary (the final evaluation was the last step's) -------------------
    let final_dir = out.join("final");
    save_hf(&final_dir, policy.config(), &policy.named_tensors(), dtype)?;
    if let Ok(bytes) = std::fs::read(base.join("tokenizer.json")) {
        write_atomic(&final_dir.join("tokenizer.json"), &bytes)?;
    }
    write_plots(out)?;
    summary.skipped_updates = count.skipped;
    summary.finish(cfg, &before, &last);
    summary.wall_time_s = started.elapsed().as_secs_f64();
    summary.final_model = final_dir.display().to_string();
    let text = serde_json::to_string_pretty(&summary).map_err(|e| Error::Other(e.to_string()))?;
    write_atomic(&out.join("summary.json"), text.as_bytes())?;
    Ok(summary)
}

impl Summary {
    /// Fills the before/after fields from the two evaluations.
    fn finish(&mut self, cfg: &Config, before: &EvalResult, last: &EvalResult) {
        self.steps = cfg.train.steps;
        self.accuracy_before = before.accuracy;
        self.accuracy_after = last.accuracy;
        self.format_rate_before = before.format_rate;
        self.format_rate_after = last.format_rate;
        self.pass_at_k_before = before.pass_at_k;
        self.pass_at_k_after = last.pass_at_k;
        self.mean_reward_before = before.mean_reward;
        self.mean_reward_after = last.mean_reward;
        if cfg.data.task.is_agent() {
            self.solve_rate_before = Some(before.accuracy);
            self.solve_rate_after = Some(last.accuracy);
        }
        self.magebench_score_before = before.components.get("magebench").copied();
        self.magebench_score_after = last.components.get("magebench").copied();
    }
}

/// Prints the memory plan's verdict for this run (and a way to fit when it may not).
fn print_plan(cfg: &Config, resolved: &Resolved) {
    let advice = match resolved.fits() {
        true => String::new(),
        false => format!(
            "; it may NOT FIT, see `--plan`; e.g. {}",
            resolved
                .suggestions(cfg)
                .first()
                .cloned()
                .unwrap_or_default()
        ),
    };
    eprintln!(
        "memory plan: {:.2} GB of {:.2} GB (recompute {}, micro-batch {}, generation batch {}){advice}",
        resolved.plan.total_bytes as f64 / 1e9,
        resolved.budget_bytes as f64 / 1e9,
        resolved.recompute,
        resolved.micro_batch,
        resolved.generation_batch,
    );
}

/// The sampler's settings: `[rollout]`, the tokenizer's stop and pad tokens, and the vision
/// placeholders suppressed.
fn rollout_config(cfg: &Config, tok: &Tokenizer, generation_batch: usize) -> RolloutConfig {
    let ids = |names: &[&str]| names.iter().filter_map(|t| tok.token_id(t)).collect();
    RolloutConfig {
        n_samples_per_prompt: cfg.rollout.n_samples_per_prompt,
        generation_batch,
        sampling: SamplingParams {
            temperature: cfg.rollout.temperature,
            top_p: cfg.rollout.top_p,
            top_k: cfg.rollout.top_k,
            seed: 0,
            max_new_tokens: cfg.rollout.max_new_tokens,
            stop_tokens: ids(&["<|im_end|>", "<|endoftext|>"]),
            pad_token: tok.token_id("<|endoftext|>").unwrap_or(0),
            suppress_tokens: ids(&[
                "<|image_pad|>",
                "<|video_pad|>",
                "<|vision_start|>",
                "<|vision_end|>",
                "<|vision_pad|>",
            ]),
        },
    }
}

/// The checkpoint to resume from under `root`, saying which damaged ones were passed over; an
/// error when checkpoints exist but none is valid (starting over is `--fresh`, deliberately).
fn find_checkpoint(root: &Path) -> Result<Option<LoadedCheckpoint>> {
    let found = load_latest_checkpoint(root).map_err(|e| {
        Error::Other(format!(
            "cannot resume: {e}; nothing was changed (to start over, rerun with --fresh)"
        ))
    })?;
    Ok(found.map(|f| {
        for s in &f.skipped {
            eprintln!(
                "warning: skipping damaged checkpoint {}: {}",
                s.dir.display(),
                s.reason
            );
        }
        f.checkpoint
    }))
}

/// The rollout's reward, accuracy, format rate and response lengths.
fn rollout_metrics(exp: &Experience, m: &mut Metrics) {
    let n = exp.len().max(1) as f64;
    let mean = |f: &dyn Fn(&lmmr1_rollout::experience::Row) -> f64| {
        exp.rows.iter().map(f).sum::<f64>() / n
    };
    let format_ok = |r: &lmmr1_rollout::experience::Row| {
        r.components.iter().any(|(k, v)| k == "format" && *v > 0.0)
    };
    m.insert("reward/mean".into(), mean(&|r| r.reward));
    m.insert(
        "reward/accuracy".into(),
        mean(&|r| solved(&r.components, r.reward) as u8 as f64),
    );
    m.insert("reward/format".into(), mean(&|r| format_ok(r) as u8 as f64));
    m.insert(
        "response/length_mean".into(),
        mean(&|r| r.response.len() as f64),
    );
    m.insert(
        "response/truncated".into(),
        mean(&|r| (!r.stopped) as u8 as f64),
    );
}

/// Evaluates on the held-out prompts (greedy accuracy, format rate, sampled pass@k) and logs
/// one `eval` row.
fn evaluate_and_log(
    s: &Sampling<'_>,
    eval_set: &[Sample],
    step: usize,
    log: &mut MetricsLog,
) -> Result<EvalResult> {
    let (cfg, seed) = (s.cfg, s.cfg.train.seed ^ 0xE7A1_0000);
    let (r, greedy) = if cfg.episode.multi_turn {
        let k = cfg.train.eval_pass_k;
        evaluate_episodes(
            s.model, s.encoder, eval_set, s.task, s.rollout, s.episode, k, seed,
        )?
    } else {
        let task = s.task;
        let reward = move |x: &Sample, text: &str| task.score(x, text);
        evaluate(
            s.model,
            s.encoder,
            eval_set,
            s.rollout,
            cfg.train.eval_pass_k,
            seed,
            &reward,
        )?
    };
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
    log.write(step, "eval", &m)?;
    if let Some(row) = greedy.rows.first() {
        eprintln!(
            "eval @ step {step}: greedy accuracy {:.3}, format {:.3}, pass@{} {:.3}; e.g. {:?}",
            r.accuracy, r.format_rate, r.k, r.pass_at_k, row.text
        );
    }
    Ok(r)
}
