//! The run configuration: one TOML file with a section per concern, every key defaulted, unknown
//! keys rejected, `--set section.key=value` overrides, and validation errors that name the key.

use std::path::{Path, PathBuf};

use lmmr1_algos::{
    AdvantageConfig, AdvantageEstimator, KlConfig, KlController, KlControllerKind, KlEstimator,
    LossAggregation, PolicyLoss, PolicyLossConfig, ValueLossConfig,
};
use lmmr1_model::optim::{AdamWConfig, LrSchedule, ScheduleKind};
use lmmr1_tasks::{BadRows, TaskKind};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

mod auto;
mod validate;

pub use auto::Auto;

/// The whole configuration (sections as in `configs/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The policy.
    pub model: ModelConfig,
    /// Supervised warm start (used by the embedded default policy).
    pub warm_start: WarmStartConfig,
    /// Training and held-out data.
    pub data: DataConfig,
    /// Sampling.
    pub rollout: RolloutSection,
    /// Advantage estimator, KL and losses.
    pub algorithm: AlgorithmConfig,
    /// Optimizer and schedule.
    pub optimizer: OptimizerConfig,
    /// Loop length, evaluation, checkpoints.
    pub train: TrainSection,
    /// Multi-turn episodes (agent tasks).
    pub episode: EpisodeSection,
}

/// `[episode]`: how agent tasks (`sokoban`, `football`) are played.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EpisodeSection {
    /// `false` (LMM-R1's default): the whole plan in one response, scored by replaying it.
    /// `true`: one move per turn, the environment steps and shows its new state, until done or
    /// `max_turns`; each turn's reward is the return from that turn on.
    pub multi_turn: bool,
    /// Turns per episode at most (multi-turn).
    pub max_turns: usize,
    /// Earlier turns (observation with its image, response) kept in the prompt (multi-turn).
    pub history: usize,
}

impl Default for EpisodeSection {
    fn default() -> Self {
        Self {
            multi_turn: false,
            max_turns: 8,
            history: 0,
        }
    }
}

/// `[model]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// A Hugging Face Qwen2.5-VL directory (`config.json`, safetensors, `tokenizer.json`); empty
    /// = the embedded tiny policy.
    pub dir: String,
    /// `cpu`, `cuda`, `cuda:N`.
    pub device: String,
    /// `f32`, `bf16`, `f16`.
    pub dtype: String,
    /// Parameter-name prefixes kept frozen (LMM-R1 Sokoban: `["visual"]`).
    pub freeze: Vec<String>,
    /// Per-layer activation recomputation (`true`, `false`, or `"auto"`: on for a checkpoint
    /// directory, off for the embedded policy).
    pub recompute: Auto<bool>,
    /// The memory the run may use, GB (10⁹ bytes), for the planner (`--plan`) and the `"auto"`
    /// batch sizes; 0 = the device's memory on CUDA, physical RAM on CPU.
    pub memory_budget_gb: f64,
    /// TF32 tensor cores for f32 matmuls on CUDA (candle's reduced-precision switch: f32
    /// inputs and accumulation, 10-bit-mantissa products; no effect on CPU or half dtypes).
    pub tf32: bool,
    /// Start from this Hugging Face directory when it exists (MGT stages: the FRE-Text run's
    /// `final/`), else from `dir` or the warm-started embedded policy.
    pub init_from: String,
    /// Seed of the embedded policy's initial weights.
    pub seed: u64,
    /// Image processor bounds (LMM-R1: 4·28·28 and 640·28·28).
    pub min_pixels: usize,
    /// See `min_pixels`.
    pub max_pixels: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            dir: String::new(),
            device: "cpu".into(),
            dtype: "f32".into(),
            freeze: Vec::new(),
            recompute: Auto::Auto,
            memory_budget_gb: 0.0,
            tf32: true,
            init_from: String::new(),
            seed: 42,
            min_pixels: 4 * 28 * 28,
            max_pixels: 640 * 28 * 28,
        }
    }
}

/// `[warm_start]`: supervised fine-tuning on generated demonstrations before RL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WarmStartConfig {
    /// Optimizer steps (0 = none). Applies to the embedded policy only unless `always`.
    pub steps: usize,
    /// Demonstrations per step.
    pub batch_size: usize,
    /// Peak learning rate (cosine to 10 %, 5 % warm-up).
    pub lr: f64,
    /// Generator levels of the demonstrations.
    pub levels: Vec<u8>,
    /// Seed of the demonstrations.
    pub seed: u64,
    /// Also warm-start a model loaded from `model.dir`.
    pub always: bool,
    /// Fraction of demonstrations from a noisy teacher: the worked steps are right but the final
    /// answer carries a systematic slip (an integer answer ten too high; a Sokoban plan one move
    /// short; …). The warm-started base then learns the format and the method but answers right
    /// only part of the time — the imperfect starting point that RL with a verifiable reward
    /// improves on.
    pub teacher_error_rate: f64,
    /// Task families of the demonstrations, drawn uniformly (empty = `data.task`); an entry
    /// `name:L` uses level `L` instead of `levels`, and repeating an entry weights it. A base
    /// that every stage shares lists them all.
    pub tasks: Vec<String>,
    /// A directory where the warm-started base is kept and reused by any run whose model and
    /// `[warm_start]` settings are the same (empty = no cache).
    pub cache: String,
}

impl Default for WarmStartConfig {
    fn default() -> Self {
        Self {
            steps: 0,
            batch_size: 32,
            lr: 2e-3,
            levels: vec![1, 2],
            seed: 1,
            always: false,
            teacher_error_rate: 0.0,
            tasks: Vec::new(),
            cache: String::new(),
        }
    }
}

/// One training file and its mixing weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    /// A jsonl file (LMM-R1 `message` rows or plain `problem`/`answer` rows).
    pub path: PathBuf,
    /// Sampling weight.
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

/// `[data]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Training files; empty = the seeded problem generator of `task`.
    pub train: Vec<DataFile>,
    /// The task family: `arith` (FRE-Text), `visual_math` (FRE-Multi), `geo`, `perce_reason`,
    /// `sokoban`, `football`. Picks the generator and the reward.
    pub task: TaskKind,
    /// Held-out evaluation file; empty = a split of the training data (generated data: the
    /// generator's held-out problems).
    pub eval: String,
    /// Rows kept out of training for evaluation (when `eval` is empty).
    pub held_out: usize,
    /// Generator: problems to generate.
    pub generator_count: usize,
    /// Generator: difficulty levels, drawn uniformly.
    pub generator_levels: Vec<u8>,
    /// Seed of the generator and of the split.
    pub seed: u64,
    /// `auto` (LMM-R1's math system prompt for a model directory, none for the embedded policy),
    /// `r1`, `none`, or a literal prompt.
    pub system_prompt: SystemPrompt,
    /// Longest prompt accepted, in tokens.
    pub max_prompt_len: usize,
    /// `error` (default) or `skip` malformed rows.
    pub bad_rows: BadRows,
}

/// `data.system_prompt`: written as `"auto"`, `"r1"`, `"none"` (or `""`), or the prompt's
/// literal text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SystemPrompt {
    /// LMM-R1's math prompt for a real checkpoint; none for the embedded policy and the runs
    /// that start from it (whose CPU budget the 112 extra tokens per sample would quadruple).
    #[default]
    Auto,
    /// LMM-R1's math prompt ([`lmmr1_tasks::prompts::R1_MATH`]).
    R1,
    /// No system message.
    None,
    /// This text.
    Text(String),
}

impl Serialize for SystemPrompt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            SystemPrompt::Auto => "auto",
            SystemPrompt::R1 => "r1",
            SystemPrompt::None => "none",
            SystemPrompt::Text(t) => t,
        })
    }
}

impl<'de> Deserialize<'de> for SystemPrompt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(match String::deserialize(d)?.as_str() {
            "auto" => SystemPrompt::Auto,
            "r1" => SystemPrompt::R1,
            "" | "none" => SystemPrompt::None,
            text => SystemPrompt::Text(text.to_string()),
        })
    }
}

/// What to do with a non-finite loss or gradient norm (`train.on_nonfinite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnNonFinite {
    /// Skip that optimizer update and count it (`skipped_updates`).
    #[default]
    Skip,
    /// End the run with an error; the last checkpoint stays.
    Stop,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            train: Vec::new(),
            task: TaskKind::Arith,
            eval: String::new(),
            held_out: 200,
            generator_count: 20_000,
            generator_levels: vec![1, 2],
            seed: 7,
            system_prompt: SystemPrompt::Auto,
            max_prompt_len: 4096,
            bad_rows: BadRows::Error,
        }
    }
}

/// `[rollout]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RolloutSection {
    /// Prompts per rollout step (`rollout_batch_size`).
    pub prompts_per_step: usize,
    /// Responses per prompt.
    pub n_samples_per_prompt: usize,
    /// Generation budget.
    pub max_new_tokens: usize,
    /// Sampling temperature.
    pub temperature: f64,
    /// Nucleus mass.
    pub top_p: f64,
    /// Top-k (0 = off).
    pub top_k: usize,
    /// Sequences generated together (`"auto"`: the largest power of two up to 256 and the
    /// rollout's rows that the memory budget holds).
    pub generation_batch: Auto<usize>,
}

impl Default for RolloutSection {
    fn default() -> Self {
        Self {
            prompts_per_step: 16,
            n_samples_per_prompt: 16,
            max_new_tokens: 48,
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            generation_batch: Auto::Auto,
        }
    }
}

/// `[algorithm]` (OpenRLHF / verl / DAPO names); the formulas are in `configs/README.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlgorithmConfig {
    /// `reinforce_baseline`, `gae`, `group_norm`, `dr_grpo`, `rloo`, `reinforce`.
    pub estimator: AdvantageEstimator,
    /// Discount γ.
    pub gamma: f64,
    /// GAE λ.
    pub lambda: f64,
    /// β of the KL term, its starting value under the adaptive controller (0 = no reference
    /// model).
    pub kl_coef: f64,
    /// `k1`, `k2`, `k3` (`low_var_kl`): the per-token KL, in the reward and in the loss.
    pub kl_estimator: KlEstimator,
    /// KL as a loss term (GRPO) instead of inside the reward (LMM-R1).
    pub use_kl_loss: bool,
    /// `fixed` (β constant) or `adaptive` (β steered towards `kl_target`).
    pub kl_controller: KlControllerKind,
    /// Target KL of the adaptive controller.
    pub kl_target: f64,
    /// Horizon of the adaptive controller, in samples.
    pub kl_horizon: f64,
    /// `ppo` (per-token ratios) or `gspo` (the sequence ratio `exp(mean_t log ρ_t)`).
    pub policy_loss: PolicyLoss,
    /// PPO clip ε (low side).
    pub clip_low: f64,
    /// PPO clip ε (high side; DAPO clip-higher 0.28).
    pub clip_high: f64,
    /// Dual-clip constant `c > 1` (verl 3.0): for `A < 0` the loss is at most `−c·A`; 0 = off.
    pub dual_clip: f64,
    /// `token-mean`, `seq-mean-token-mean`, `seq-mean-token-sum`, `seq-mean-token-sum-norm`.
    pub loss_aggregation: LossAggregation,
    /// Entropy bonus coefficient.
    pub entropy_coef: f64,
    /// PPO epochs over each rollout (`max_epochs`).
    pub epochs: usize,
    /// Sequences per optimizer step (`train_batch_size`).
    pub train_batch_size: usize,
    /// Sequences per forward/backward (`micro_train_batch_size`; `"auto"`: the largest power
    /// of two up to 128 and `train_batch_size` that the memory budget holds).
    pub micro_batch_size: Auto<usize>,
    /// Value clip ε (critic); 0 = off.
    pub value_clip: f64,
    /// DAPO dynamic sampling: groups whose rewards are all equal are dropped and more prompts
    /// are sampled until the step has `prompts_per_step` groups.
    pub dynamic_sampling: bool,
    /// Rollouts per step at most under dynamic sampling (the step trains on what it has then).
    pub max_sampling_rounds: usize,
    /// DAPO soft overlong punishment: responses longer than `max_new_tokens − overlong_buffer`
    /// lose up to `overlong_penalty`, linearly over the buffer; 0 = off.
    pub overlong_buffer: usize,
    /// The penalty at `max_new_tokens` (DAPO: 1.0).
    pub overlong_penalty: f64,
}

impl Default for AlgorithmConfig {
    fn default() -> Self {
        Self {
            estimator: AdvantageEstimator::ReinforceBaseline,
            gamma: 1.0,
            lambda: 1.0,
            kl_coef: 0.001,
            kl_estimator: KlEstimator::K1,
            use_kl_loss: false,
            kl_controller: KlControllerKind::Fixed,
            kl_target: 0.1,
            kl_horizon: 10_000.0,
            policy_loss: PolicyLoss::Ppo,
            clip_low: 0.2,
            clip_high: 0.2,
            dual_clip: 0.0,
            loss_aggregation: LossAggregation::TokenMean,
            entropy_coef: 0.0,
            epochs: 1,
            train_batch_size: 256,
            micro_batch_size: Auto::Auto,
            value_clip: 0.2,
            dynamic_sampling: false,
            max_sampling_rounds: 3,
            overlong_buffer: 0,
            overlong_penalty: 1.0,
        }
    }
}

impl AlgorithmConfig {
    /// The advantage estimator's settings for groups of `n` samples.
    pub fn advantage(&self, n: usize) -> AdvantageConfig {
        AdvantageConfig {
            estimator: self.estimator,
            n_samples_per_prompt: n,
            gamma: self.gamma,
            lambda: self.lambda,
            ..AdvantageConfig::default()
        }
    }

    /// The policy loss's settings.
    pub fn policy_loss(&self) -> PolicyLossConfig {
        PolicyLossConfig {
            clip_low: self.clip_low,
            clip_high: self.clip_high,
            dual_clip: (self.dual_clip > 0.0).then_some(self.dual_clip),
            ratio_level: self.policy_loss.ratio_level(),
            entropy_coef: self.entropy_coef,
            aggregation: self.loss_aggregation,
            ..PolicyLossConfig::default()
        }
    }

    /// The KL estimator's settings (in the reward and in the loss).
    pub fn kl(&self) -> KlConfig {
        KlConfig {
            estimator: self.kl_estimator,
            ..KlConfig::default()
        }
    }

    /// The KL coefficient's controller, at `kl_coef`.
    pub fn kl_controller(&self) -> KlController {
        KlController::new(
            self.kl_controller,
            self.kl_coef,
            self.kl_target,
            self.kl_horizon,
        )
    }

    /// The critic loss's settings.
    pub fn value_loss(&self) -> ValueLossConfig {
        ValueLossConfig {
            value_clip: (self.value_clip > 0.0).then_some(self.value_clip),
            aggregation: self.loss_aggregation,
        }
    }

    /// Whether the KL term sits in the reward (LMM-R1) rather than in the loss.
    pub fn kl_in_reward(&self) -> bool {
        self.kl_coef > 0.0 && !self.use_kl_loss
    }
}

/// `[optimizer]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Actor peak learning rate.
    pub lr: f64,
    /// Critic peak learning rate.
    pub critic_lr: f64,
    /// Adam β₁, β₂.
    pub betas: [f64; 2],
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip (0 = off).
    pub max_grad_norm: f64,
    /// `constant` or `cosine` (to `min_lr_ratio · lr`).
    pub schedule: ScheduleKind,
    /// Floor of the cosine schedule, as a fraction of the peak.
    pub min_lr_ratio: f64,
    /// Linear warm-up, as a fraction of all optimizer steps.
    pub warmup_ratio: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            lr: 2e-4,
            critic_lr: 1e-3,
            betas: [0.9, 0.95],
            weight_decay: 0.0,
            max_grad_norm: 1.0,
            schedule: ScheduleKind::Cosine,
            min_lr_ratio: 0.1,
            warmup_ratio: 0.03,
        }
    }
}

impl OptimizerConfig {
    /// AdamW at peak rate `lr`.
    pub fn adamw(&self, lr: f64) -> AdamWConfig {
        AdamWConfig {
            lr,
            beta1: self.betas[0],
            beta2: self.betas[1],
            eps: 1e-8,
            weight_decay: self.weight_decay,
        }
    }

    /// The schedule to peak rate `peak` over `total_updates` optimizer steps.
    pub fn schedule(&self, peak: f64, total_updates: u64) -> LrSchedule {
        LrSchedule {
            kind: self.schedule,
            peak_lr: peak,
            warmup_steps: (total_updates as f64 * self.warmup_ratio).ceil() as u64,
            total_steps: total_updates.max(1),
            min_lr_ratio: self.min_lr_ratio,
        }
    }
}

/// `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSection {
    /// Rollout steps.
    pub steps: usize,
    /// Evaluate every N rollout steps (and before and after).
    pub eval_every: usize,
    /// Held-out prompts evaluated (≤ the held-out split).
    pub eval_prompts: usize,
    /// `k` of the sampled pass@k.
    pub eval_pass_k: usize,
    /// Checkpoint every N rollout steps (0 = only at the end).
    pub checkpoint_every: usize,
    /// Checkpoints kept.
    pub keep_checkpoints: usize,
    /// `skip` the update or `stop` the run on a non-finite loss or gradient.
    pub on_nonfinite: OnNonFinite,
    /// Seed of sampling and shuffling.
    pub seed: u64,
    /// Responses written to `samples.jsonl` per step.
    pub log_samples: usize,
    /// Compute per-token entropy for the metrics.
    pub log_entropy: bool,
}

impl Default for TrainSection {
    fn default() -> Self {
        Self {
            steps: 40,
            eval_every: 10,
            eval_prompts: 200,
            eval_pass_k: 4,
            checkpoint_every: 10,
            keep_checkpoints: 2,
            on_nonfinite: OnNonFinite::Skip,
            seed: 42,
            log_samples: 4,
            log_entropy: true,
        }
    }
}

fn config_err(msg: impl Into<String>) -> Error {
    Error::Config(msg.into())
}

impl Config {
    /// Parses TOML text (`origin` names it in errors), applies `key=value` overrides, validates.
    /// A value of the wrong type or an unknown name is an error naming the key (and the
    /// `--set` that gave it), with the names that are valid.
    pub fn from_toml_str(text: &str, origin: &str, overrides: &[String]) -> Result<Self> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e: toml::de::Error| {
            // toml's own message spans several lines (a source excerpt); one line here.
            let at = e.span().map_or_else(String::new, |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{column}")
            });
            config_err(format!("{origin}{at}: {}", e.message().trim()))
        })?;
        let defaults = toml::Table::try_from(Config::default())
            .map_err(|e| config_err(format!("defaults: {e}")))?;
        let mut set_keys = Vec::new();
        for o in overrides {
            set_keys.push((apply_override(&mut table, &defaults, o)?, o.trim()));
        }
        let cfg: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(
            |e: serde_path_to_error::Error<toml::de::Error>| {
                let key = e.path().to_string();
                let source = set_keys
                    .iter()
                    .rev()
                    .find(|(k, _)| key == *k || key.starts_with(&format!("{k}.")))
                    .map_or_else(|| origin.to_string(), |(_, o)| format!("--set {o}"));
                // toml adds the key on a line of its own; it is already in front.
                let msg = e.inner().to_string();
                let msg = msg.lines().next().unwrap_or_default().trim();
                config_err(format!("{source}: {key}: {msg}"))
            },
        )?;
        // A bad value that came from an override names the override.
        cfg.validate().map_err(|e| match e {
            Error::Config(msg) => {
                let from_set = set_keys
                    .iter()
                    .rev()
                    .find(|(k, _)| msg.starts_with(k.as_str()) || msg.contains(&format!(" {k} ")));
                match from_set {
                    Some((_, o)) => config_err(format!("--set {o}: {msg}")),
                    None => config_err(format!("{origin}: {msg}")),
                }
            }
            e => e,
        })?;
        Ok(cfg)
    }

    /// Reads a TOML file and applies overrides.
    pub fn from_file(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            error: e,
        })?;
        Self::from_toml_str(&text, &path.display().to_string(), overrides)
    }

    /// The resolved configuration as TOML (saved with the run).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| config_err(e.to_string()))
    }

    /// The directory the policy starts from: `model.init_from` when it holds a checkpoint (a
    /// two-stage run), else `model.dir`; `None` = the embedded policy.
    pub fn start_dir(&self) -> Option<PathBuf> {
        let init = Path::new(&self.model.init_from);
        if !self.model.init_from.is_empty() && init.join("config.json").is_file() {
            return Some(init.to_path_buf());
        }
        (!self.model.dir.is_empty()).then(|| PathBuf::from(&self.model.dir))
    }

    /// Whether a reference model is needed.
    pub fn needs_reference(&self) -> bool {
        self.algorithm.kl_coef > 0.0
    }

    /// Whether a critic is needed.
    pub fn needs_critic(&self) -> bool {
        self.algorithm.estimator.needs_critic()
    }

    /// The task families of the warm start's demonstrations, each with its level override.
    pub fn warm_start_tasks(&self) -> Result<Vec<(TaskKind, Option<u8>)>> {
        if self.warm_start.tasks.is_empty() {
            return Ok(vec![(self.data.task, None)]);
        }
        self.warm_start
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (name, level) = match t.split_once(':') {
                    Some((n, l)) => {
                        let l = l.trim().parse::<u8>().map_err(|_| {
                            config_err(format!(
                                "warm_start.tasks[{i}]: {t:?}: the level after ':' must be a number"
                            ))
                        })?;
                        (n.trim(), Some(l))
                    }
                    None => (t.trim(), None),
                };
                let kind = TaskKind::from_name(name)
                    .map_err(|e| config_err(format!("warm_start.tasks[{i}]: {e}")))?;
                Ok((kind, level))
            })
            .collect()
    }
}

/// Applies one `section.key=value` override; the key must exist in the defaults. The value is
/// read as TOML (`0.5`, `true`, `[1, 2]`, `"text"`), falling back to a bare string.
fn apply_override(table: &mut toml::Table, defaults: &toml::Table, o: &str) -> Result<String> {
    let (key, raw) = o
        .split_once('=')
        .ok_or_else(|| config_err(format!("--set {o:?}: expected key=value")))?;
    let key = key.trim();
    let path: Vec<&str> = key.split('.').collect();
    let mut d = defaults;
    for (i, p) in path.iter().enumerate() {
        match d.get(*p) {
            Some(toml::Value::Table(t)) if i + 1 < path.len() => d = t,
            Some(_) if i + 1 == path.len() => {}
            _ => return Err(config_err(format!("--set {key}: unknown key"))),
        }
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {}", raw.trim()))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));
    let mut t = table;
    for p in &path[..path.len() - 1] {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| config_err(format!("--set {key}: {p} is not a table")))?;
    }
    t.insert(path[path.len() - 1].to_string(), value);
    Ok(key.to_string())
}
