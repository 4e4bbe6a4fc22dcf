//! The memory planner against measured peak memory on this machine: for each case a fresh
//! process builds what a run holds (the policy, a frozen reference, AdamW's state), does one
//! training update (so that the optimizer's moments are resident, as in a run), resets its
//! peak (`/proc/self/clear_refs`), then does one more update or one generation; its peak
//! resident memory over that phase (Linux `VmHWM`, less the process's resident memory before
//! anything was built) is compared with [`lmmr1_model::memory::plan`]'s prediction. The
//! children run with a fixed glibc mmap threshold, so that freed buffers leave the resident
//! set (live memory is measured, as a GPU allocator's would be). Cases: the embedded policy and a random
//! ~100M-parameter checkpoint (the `100m` preset), native and portable kernels, with and
//! without recompute. Fails (exit status 1) when a prediction is off by more than 25 %.
//!
//! ```text
//! cargo bench -p lmmr1-trainer --bench memory           # every case (about 30 minutes on 2 cores)
//! cargo bench -p lmmr1-trainer --bench memory -- 7 8    # cases 7 and 8
//! ```

use std::process::Command;

use candle_core::{DType, Device};
use lmmr1_model::generate::{generate, SamplingParams};
use lmmr1_model::memory::{plan, KernelPath, Workload};
use lmmr1_model::model::Inputs;
use lmmr1_model::optim::{accumulate_grads, clip_grad_norm, AdamW, AdamWConfig};
use lmmr1_model::{Config, Policy, PolicyOptions};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Train,
    Generate,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    model: &'static str,
    phase: Phase,
    portable: bool,
    recompute: bool,
    micro: usize,
    updates: usize,
    prompt: usize,
    new_tokens: usize,
    gen_batch: usize,
}

/// `(model, phase, portable, recompute, micro-batch, prompt, new tokens, generation batch)`;
/// every training case does two micro-batches per update.
type CaseRow = (&'static str, Phase, bool, bool, usize, usize, usize, usize);

const CASES: [CaseRow; 9] = [
    // The embedded policy at fre_text's shapes: 128 rows of ~64 + 48 tokens per micro-batch,
    // 256 sequences generated together.
    ("embedded", Phase::Train, false, false, 128, 64, 48, 256),
    ("embedded", Phase::Generate, false, false, 128, 64, 48, 256),
    ("embedded", Phase::Train, true, false, 128, 64, 48, 256),
    ("embedded", Phase::Generate, true, false, 128, 64, 48, 256),
    // The 100m preset: 8 rows of 256 + 256 tokens (4 on the portable path).
    ("100m", Phase::Train, false, false, 8, 256, 256, 32),
    ("100m", Phase::Train, false, true, 8, 256, 256, 32),
    ("100m", Phase::Generate, false, false, 8, 256, 256, 32),
    ("100m", Phase::Generate, true, true, 4, 256, 256, 32),
    ("100m", Phase::Train, true, true, 4, 256, 256, 32),
];

fn case(i: usize) -> Case {
    let (model, phase, portable, recompute, micro, prompt, new_tokens, gen_batch) = CASES[i];
    Case {
        model,
        phase,
        portable,
        recompute,
        micro,
        updates: 2,
        prompt,
        new_tokens,
        gen_batch,
    }
}

fn model_config(name: &str) -> Config {
    match name {
        "embedded" => lmmr1_trainer::embedded::config().expect("embedded config"),
        preset => lmmr1_model::config::preset(preset).expect("preset"),
    }
}

fn workload(c: &Case) -> Workload {
    Workload {
        dtype: DType::F32,
        path: if c.portable {
            KernelPath::Portable
        } else {
            KernelPath::Native
        },
        freeze: Vec::new(),
        reference: true,
        critic: false,
        recompute: c.recompute,
        micro_batch: c.micro,
        micro_batches_per_update: c.updates,
        prompt_len: c.prompt,
        max_new_tokens: c.new_tokens,
        generation_batch: c.gen_batch,
        images_per_row: 0,
        patches_per_image: 0,
        filtered_sampling: false,
    }
}

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("status field")
}

/// Random text ids below the vision special tokens (`rows × len`).
fn ids(rows: usize, len: usize, cfg: &Config, seed: u64) -> Vec<u32> {
    let mut rng = lmmr1_model::rng::Rng::new(seed);
    let top = cfg
        .image_token_id
        .min(cfg.video_token_id)
        .min(cfg.vision_start_token_id)
        .min(cfg.vision_end_token_id) as u64;
    (0..rows * len)
        .map(|_| (rng.next_u64() % top) as u32)
        .collect()
}

fn child(c: &Case) -> anyhow::Result<()> {
    lmmr1_model::init_threads();
    let baseline = status_kib("VmRSS:");
    let cfg = model_config(c.model);
    let dev = Device::Cpu;
    let opts = PolicyOptions {
        freeze: Vec::new(),
        recompute: c.recompute,
    };
    let policy = Policy::random(&cfg, 1, DType::F32, &dev, &opts)?;
    let reference = Policy::random(&cfg, 1, DType::F32, &dev, &PolicyOptions::frozen())?;
    let mut opt = AdamW::new(policy.trainable_params(), AdamWConfig::default())?;
    let t = c.prompt + c.new_tokens;
    let vars = policy.trainable_vars();
    let mut update = |seed: u64| -> anyhow::Result<()> {
        let mut acc = None;
        for u in 0..c.updates {
            let inp = Inputs::text(
                c.micro,
                ids(c.micro, t, &cfg, seed + u as u64),
                vec![1; c.micro * t],
            )?;
            policy.log_probs(&inp, c.prompt, false)?;
            reference.log_probs(&inp, c.prompt, false)?;
            let (_, g) = policy
                .forward_backward(&inp, c.prompt, true, |lp| Ok(lp.logp.mean_all()?.neg()?))?;
            accumulate_grads(&mut acc, g, &vars)?;
        }
        let mut grads = acc.expect("gradients");
        clip_grad_norm(&mut grads, &vars, 1.0)?;
        opt.step(&grads, 1e-4)?;
        Ok(())
    };
    update(0)?;
    // The peak from here on (Linux: "5" resets VmHWM to the current resident size).
    std::fs::write("/proc/self/clear_refs", "5")?;
    match c.phase {
        Phase::Train => update(100)?,
        Phase::Generate => {
            let model = policy.rollout_model()?;
            let inp = Inputs::text(
                c.gen_batch,
                ids(c.gen_batch, c.prompt, &cfg, 7),
                vec![1; c.gen_batch * c.prompt],
            )?;
            let g = generate(
                &model,
                &inp,
                &SamplingParams {
                    temperature: 1.0,
                    max_new_tokens: c.new_tokens,
                    ..SamplingParams::default()
                },
            )?;
            anyhow::ensure!(g.tokens.iter().all(|r| r.len() == c.new_tokens));
        }
    }
    let peak = status_kib("VmHWM:");
    println!("{}", (peak.saturating_sub(baseline)) * 1024);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        return child(&case(args[i + 1].parse::<usize>()?));
    }
    println!(
        "| model | phase | kernels | recompute | shape | predicted MB | measured MB | measured / predicted |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let picked: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let mut worst: f64 = 0.0;
    for i in 0..CASES.len() {
        if !picked.is_empty() && !picked.contains(&i) {
            continue;
        }
        let c = &case(i);
        let out = Command::new(std::env::current_exe()?)
            .args(["--child", &i.to_string()])
            .env(
                "LMMR1_KERNELS",
                if c.portable { "portable" } else { "native" },
            )
            // A fixed mmap threshold: freed buffers go back to the system, so the resident
            // size follows live memory (glibc otherwise keeps freed heap memory, and the
            // training update's would count in the generation's peak).
            .env("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072")
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "case {i} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let measured: u64 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
        let cfg = model_config(c.model);
        let p = plan(&cfg, &workload(c));
        let fixed = p.static_bytes();
        let predicted = fixed
            + match c.phase {
                Phase::Train => p.training_bytes,
                Phase::Generate => p.generation_bytes,
            };
        let ratio = measured as f64 / predicted as f64;
        worst = worst.max((ratio - 1.0).abs());
        let shape = match c.phase {
            Phase::Train => format!(
                "{} micro-batches of {}×({}+{}) tokens",
                c.updates, c.micro, c.prompt, c.new_tokens
            ),
            Phase::Generate => {
                format!("{} rows, {}+{} tokens", c.gen_batch, c.prompt, c.new_tokens)
            }
        };
        println!(
            "| {} | {:?} | {} | {} | {shape} | {:.0} | {:.0} | {ratio:.2} |",
            c.model,
            c.phase,
            if c.portable { "portable" } else { "native" },
            c.recompute,
            predicted as f64 / 1e6,
            measured as f64 / 1e6,
        );
    }
    println!("largest deviation: {:.0} %", worst * 100.0);
    if worst > 0.25 {
        anyhow::bail!("a prediction is off by more than 25 %");
    }
    Ok(())
}
