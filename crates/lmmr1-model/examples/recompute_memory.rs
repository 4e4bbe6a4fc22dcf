//! Peak resident memory of one policy forward + backward with and without per-layer activation
//! recomputation (each in its own process, Linux `VmHWM`), on the random `100m` preset with a
//! text batch, vision frozen.
//!
//! ```text
//! cargo run --release -p lmmr1-model --example recompute_memory -- [batch] [seq_len]
//! ```

use anyhow::{Context, Result};
use candle_core::{DType, Device};
use lmmr1_model::model::Inputs;
use lmmr1_model::{config, Policy, PolicyOptions};

fn peak_rss_mib() -> Result<f64> {
    let s = std::fs::read_to_string("/proc/self/status")?;
    let line = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM")?;
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .context("VmHWM value")?
        .parse()?;
    Ok(kib / 1024.0)
}

fn run(recompute: bool, batch: usize, t: usize) -> Result<()> {
    lmmr1_model::init_threads();
    let cfg = config::preset("100m")?;
    let opts = PolicyOptions {
        freeze: vec!["visual".into()],
        recompute,
    };
    let p = Policy::random(&cfg, 0, DType::F32, &Device::Cpu, &opts)?;
    let loaded = peak_rss_mib()?;
    let ids: Vec<u32> = (0..batch * t).map(|i| (i * 7919 % 30000) as u32).collect();
    let inp = Inputs::text(batch, ids, vec![1; batch * t])?;
    let (loss, _) =
        p.forward_backward(&inp, t / 2, false, |lp| Ok(lp.logp.mean_all()?.neg()?))?;
    println!(
        "recompute={recompute:<5} batch {batch} seq {t}: loss {:.4}, peak RSS {:.0} MiB (after loading {loaded:.0} MiB)",
        loss.to_scalar::<f32>()?,
        peak_rss_mib()?
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        return run(args[2] == "1", args[3].parse()?, args[4].parse()?);
    }
    let batch = args.get(1).map_or("2", String::as_str);
    let t = args.get(2).map_or("512", String::as_str);
    for rc in ["0", "1"] {
        let ok = std::process::Command::new(std::env::current_exe()?)
            .args(["--child", rc, batch, t])
            .status()?
            .success();
        anyhow::ensure!(ok, "child failed");
    }
    Ok(())
}
