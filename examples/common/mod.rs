//! The command line shared by the stage examples: a TOML config, `--set` overrides, `--out`,
//! `--model`, and Ctrl-C = stop after the current step with a checkpoint.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use lmmr1::trainer::{run, Config, RunOptions, Summary};

/// Command-line arguments of a stage example.
#[derive(Debug, Parser)]
pub struct Args {
    /// TOML config (defaults to the stage's file under `configs/`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output directory (metrics, plots, checkpoints, summary.json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A Hugging Face Qwen2.5-VL directory (overrides `model.dir`).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Device: cpu, cuda, cuda:N (overrides `model.device`).
    #[arg(long)]
    pub device: Option<String>,
    /// `section.key=value` overrides, e.g. `--set train.steps=10`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Start over even if `OUT/checkpoints` has a checkpoint.
    #[arg(long)]
    pub fresh: bool,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Print the memory plan of this run and exit without loading weights: one JSON object on
    /// stdout (`total_bytes`, `components`, `fits`, `budget_bytes`, …), a table and what to
    /// change to fit on stderr. The budget is `model.memory_budget_gb`, else the device's
    /// memory.
    #[arg(long)]
    pub plan: bool,
}

/// Parses the command line, loads the stage's config and runs the trainer.
pub fn main_for_stage(stage: &str) -> anyhow::Result<Summary> {
    let args = Args::parse();
    let config = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("configs").join(format!("{stage}.toml")));
    let mut overrides = args.set.clone();
    if let Some(m) = &args.model {
        overrides.push(format!("model.dir={:?}", m.display().to_string()));
    }
    if let Some(d) = &args.device {
        overrides.push(format!("model.device={d:?}"));
    }
    let cfg = Config::from_file(&config, &overrides)
        .with_context(|| format!("loading {}", config.display()))?;
    if args.plan {
        let plan = lmmr1::trainer::plan::plan_run(&cfg).context("planning memory")?;
        eprint!("{}", plan.report(&cfg));
        println!("{}", serde_json::to_string_pretty(&plan.json())?);
        std::process::exit(0);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(stage));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping after this step (checkpoint kept); Ctrl-C again to quit now");
    })
    .context("installing the Ctrl-C handler")?;
    let opts = RunOptions {
        out: out.clone(),
        resume: !args.fresh,
        base_dir: PathBuf::from("."),
        progress: !args.quiet,
        stop: Some(stop),
    };
    let summary = run(&cfg, &opts).with_context(|| format!("stage {stage}"))?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    println!("outputs in {}", out.display());
    Ok(summary)
}
