//! The memory plan of a run: the model's `config.json` and the resolved config go to
//! [`lmmr1_model::memory::plan`]; the `"auto"` settings (`model.recompute`,
//! `algorithm.micro_batch_size`, `rollout.generation_batch`) are resolved here; `--plan` prints
//! the result ([`Resolved::json`], [`Resolved::report`]) without loading any weights.

use candle_core::{DType, Device};
use lmmr1_model::memory::{plan, KernelPath, MemoryPlan, Workload};
use serde_json::json;

use crate::config::{Auto, Config};
use crate::Result;

/// Largest micro-batch `"auto"` picks (more brings no speed on the embedded policy).
pub const AUTO_MICRO_MAX: usize = 128;
/// Largest generation batch `"auto"` picks.
pub const AUTO_GENERATION_MAX: usize = 256;

/// The settings a run uses after resolving `"auto"`, and the plan for them.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Per-layer activation recomputation.
    pub recompute: bool,
    /// Sequences per forward/backward.
    pub micro_batch: usize,
    /// Sequences generated together.
    pub generation_batch: usize,
    /// The memory the run may use, bytes.
    pub budget_bytes: u64,
    /// The plan at these settings.
    pub plan: MemoryPlan,
    /// The workload planned.
    pub workload: Workload,
    /// The model planned for.
    pub model_cfg: lmmr1_model::Config,
}

impl Resolved {
    /// Whether the plan fits the budget.
    pub fn fits(&self) -> bool {
        self.plan.total_bytes <= self.budget_bytes
    }

    /// `{"total_bytes", "components", "fits", "budget_bytes", …}` (`--plan`'s stdout).
    pub fn json(&self) -> serde_json::Value {
        let components: serde_json::Map<String, serde_json::Value> = self
            .plan
            .components
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        json!({
            "total_bytes": self.plan.total_bytes,
            "components": components,
            "fits": self.fits(),
            "budget_bytes": self.budget_bytes,
            "peak_phase": self.plan.peak_phase(),
            "phases": {
                "training": self.plan.training_bytes,
                "generation": self.plan.generation_bytes,
            },
            "settings": {
                "dtype": format!("{:?}", self.workload.dtype).to_lowercase(),
                "recompute": self.recompute,
                "micro_batch_size": self.micro_batch,
                "generation_batch": self.generation_batch,
                "sequence_tokens": self.workload.prompt_len + self.workload.max_new_tokens,
            },
        })
    }

    /// A readable table and, when the plan does not fit, what to change (`--plan`'s stderr).
    pub fn report(&self, cfg: &Config) -> String {
        let gb = |b: u64| b as f64 / 1e9;
        let mut s = String::from("memory plan (GB = 10⁹ bytes)\n");
        for (k, v) in &self.plan.components {
            s.push_str(&format!("  {k:<15} {:>9.2} GB\n", gb(*v)));
        }
        s.push_str(&format!(
            "  total = weights + master_weights + optimizer + reference + critic\n        \
             + max(training: gradients, activations, its logits = {:.2} GB,\n              \
             generation: kv_cache, its logits = {:.2} GB)\n",
            gb(self.plan.training_bytes),
            gb(self.plan.generation_bytes)
        ));
        s.push_str(&format!(
            "  {:<15} {:>9.2} GB of a {:.2} GB budget: {}\n",
            "total",
            gb(self.plan.total_bytes),
            gb(self.budget_bytes),
            if self.fits() { "fits" } else { "DOES NOT FIT" }
        ));
        s.push_str(&format!(
            "  settings: dtype {}, recompute {}, micro_batch_size {}, generation_batch {}, {} + {} tokens per sequence\n",
            format!("{:?}", self.workload.dtype).to_lowercase(),
            self.recompute,
            self.micro_batch,
            self.generation_batch,
            self.workload.prompt_len,
            self.workload.max_new_tokens
        ));
        if !self.fits() {
            s.push_str("  to fit, try:\n");
            for line in self.suggestions(cfg) {
                s.push_str(&format!("    {line}\n"));
            }
        }
        s
    }

    /// What would shrink the plan, largest saving first, with the total each change gives.
    pub fn suggestions(&self, cfg: &Config) -> Vec<String> {
        let mut out: Vec<(u64, String)> = Vec::new();
        let model = &self.workload;
        let mut try_with = |what: String, w: Workload| {
            let p = plan(&self.model_cfg, &w);
            if p.total_bytes < self.plan.total_bytes {
                out.push((
                    p.total_bytes,
                    format!("{what} (total {:.2} GB)", p.total_bytes as f64 / 1e9),
                ));
            }
        };
        if model.dtype == DType::F32 {
            try_with(
                "--set model.dtype=\"bf16\" (bf16 compute, f32 masters)".into(),
                Workload {
                    dtype: DType::BF16,
                    path: KernelPath::Portable,
                    ..model.clone()
                },
            );
        }
        if !self.recompute {
            try_with(
                "--set model.recompute=true".into(),
                Workload {
                    recompute: true,
                    ..model.clone()
                },
            );
        }
        for m in [self.micro_batch / 2, 1] {
            if m >= 1 && m < self.micro_batch {
                try_with(
                    format!("--set algorithm.micro_batch_size={m}"),
                    Workload {
                        micro_batch: m,
                        micro_batches_per_update: cfg.algorithm.train_batch_size.div_ceil(m),
                        ..model.clone()
                    },
                );
            }
        }
        for g in [self.generation_batch / 2, self.generation_batch / 8] {
            if g >= 1 && g < self.generation_batch {
                try_with(
                    format!("--set rollout.generation_batch={g}"),
                    Workload {
                        generation_batch: g,
                        ..model.clone()
                    },
                );
            }
        }
        if model.reference {
            try_with(
                "--set algorithm.kl_coef=0 (no reference model)".into(),
                Workload {
                    reference: false,
                    ..model.clone()
                },
            );
        }
        if !model.freeze.iter().any(|f| f == "visual") {
            let mut freeze = model.freeze.clone();
            freeze.push("visual".into());
            try_with(
                "--set model.freeze=[\"visual\"]".into(),
                Workload {
                    freeze,
                    ..model.clone()
                },
            );
        }
        out.sort();
        out.into_iter().map(|(_, s)| s).collect()
    }
}

/// The workload of `cfg` for `model_cfg` at the given settings, on a CPU (`cpu`) or a GPU.
fn workload(
    cfg: &Config,
    dtype: DType,
    cpu: bool,
    (recompute, micro, generation): (bool, usize, usize),
) -> Result<Workload> {
    let portable = lmmr1_model::kernels::KernelSettings::current().portable;
    let native = cpu && !portable && dtype == DType::F32;
    let task = cfg.data.task;
    let images = match task {
        lmmr1_tasks::TaskKind::Arith => 0,
        _ if cfg.episode.multi_turn => 1 + cfg.episode.history,
        _ => 1,
    };
    Ok(Workload {
        dtype,
        path: if native {
            KernelPath::Native
        } else {
            KernelPath::Portable
        },
        freeze: cfg.model.freeze.clone(),
        reference: cfg.needs_reference(),
        critic: cfg.needs_critic(),
        recompute,
        micro_batch: micro,
        micro_batches_per_update: cfg.algorithm.train_batch_size.div_ceil(micro.max(1)),
        prompt_len: cfg.data.max_prompt_len,
        max_new_tokens: cfg.rollout.max_new_tokens,
        generation_batch: generation,
        images_per_row: images,
        patches_per_image: cfg.model.max_pixels / (14 * 14),
        filtered_sampling: cfg.rollout.top_k > 0 || cfg.rollout.top_p < 1.0,
    })
}

/// The memory budget: `model.memory_budget_gb`, else the device's memory (CUDA) or the
/// machine's physical memory (CPU) of `device`, or of `model.device` opened for the query.
pub fn budget_bytes(cfg: &Config, device: Option<&Device>) -> Result<u64> {
    if cfg.model.memory_budget_gb > 0.0 {
        return Ok((cfg.model.memory_budget_gb * 1e9) as u64);
    }
    let opened;
    let device = match device {
        Some(d) => d,
        None => {
            opened = lmmr1_model::device(&cfg.model.device)?;
            &opened
        }
    };
    Ok(lmmr1_model::memory::device_memory_bytes(device)?)
}

/// The largest power of two up to `max` for which `fits(n)` holds (1 when none does).
fn largest_fitting(max: usize, fits: impl Fn(usize) -> Result<bool>) -> Result<usize> {
    let mut n = max.max(1).next_power_of_two();
    if n > max.max(1) {
        n /= 2;
    }
    while n > 1 {
        if fits(n)? {
            return Ok(n);
        }
        n /= 2;
    }
    Ok(1)
}

/// Resolves `cfg`'s `"auto"` settings for the model `model_cfg` on `model.device` (`device`
/// when it is open already) and plans the run. `from_dir`: the policy comes from a checkpoint
/// directory (recompute `"auto"` is then on).
pub fn resolve(
    cfg: &Config,
    model_cfg: &lmmr1_model::Config,
    from_dir: bool,
    device: Option<&Device>,
) -> Result<Resolved> {
    let dtype = lmmr1_model::dtype(&cfg.model.dtype)?;
    let cpu = cfg.model.device == "cpu";
    let budget = budget_bytes(cfg, device)?;
    let recompute = cfg.model.recompute.or(from_dir);
    let total = |micro: usize, generation: usize| -> Result<u64> {
        let w = workload(cfg, dtype, cpu, (recompute, micro, generation))?;
        Ok(plan(model_cfg, &w).total_bytes)
    };
    let rows = cfg.rollout.prompts_per_step * cfg.rollout.n_samples_per_prompt;
    let micro = match cfg.algorithm.micro_batch_size {
        Auto::Set(m) => m,
        Auto::Auto => {
            let g = cfg.rollout.generation_batch.or(1);
            let max = AUTO_MICRO_MAX.min(cfg.algorithm.train_batch_size);
            largest_fitting(max, |m| Ok(total(m, g)? <= budget))?
        }
    };
    let generation = match cfg.rollout.generation_batch {
        Auto::Set(g) => g,
        Auto::Auto => {
            let max = AUTO_GENERATION_MAX.min(rows);
            largest_fitting(max, |g| Ok(total(micro, g)? <= budget))?
        }
    };
    let w = workload(cfg, dtype, cpu, (recompute, micro, generation))?;
    Ok(Resolved {
        recompute,
        micro_batch: micro,
        generation_batch: generation,
        budget_bytes: budget,
        plan: plan(model_cfg, &w),
        workload: w,
        model_cfg: model_cfg.clone(),
    })
}

/// `config.json` of the model a run starts from (`model.init_from` when it holds a checkpoint,
/// else `model.dir`, else the embedded policy), and whether it is a directory.
pub fn model_config(cfg: &Config) -> Result<(lmmr1_model::Config, bool)> {
    match cfg.start_dir() {
        Some(dir) => {
            let path = dir.join("config.json");
            Ok((lmmr1_model::Config::from_file(&path)?, true))
        }
        None => Ok((crate::embedded::config()?, false)),
    }
}

/// `--plan`: resolves and plans `cfg` without loading weights (and without opening the device
/// when `model.memory_budget_gb` is set).
pub fn plan_run(cfg: &Config) -> Result<Resolved> {
    let (model_cfg, from_dir) = model_config(cfg)?;
    resolve(cfg, &model_cfg, from_dir, None)
}
