//! Scores model responses with LMM-R1's math reward (format 0.5 + accuracy 1.0).
//!
//! The input is JSON Lines with `response` and `answer` (the gold label) per row, plus an
//! optional `id`. By default it scores the bundled `data/sample_responses.jsonl`:
//!
//! ```text
//! cargo run --release --example score_rewards
//! cargo run --release --example score_rewards -- --input my_rollouts.jsonl --out scored.jsonl
//! ```
//!
//! Until the trainer lands this is the project's main job: it shows each response's reward
//! components and the batch means, the numbers an RL run would log.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use lmmr1::rewards::lmm_r1::MathReward;
use lmmr1::rewards::Reward;

/// Score responses with LMM-R1's rule-based math reward.
#[derive(Parser)]
struct Args {
    /// JSON Lines input with `response` and `answer` fields.
    #[arg(long, default_value = "data/sample_responses.jsonl")]
    input: PathBuf,
    /// Also write each row with its reward components to this JSON Lines file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct Row {
    #[serde(default)]
    id: Option<serde_json::Value>,
    response: String,
    answer: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}", args.input.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(&line).with_context(|| {
            format!(
                "{}:{}: expected {{\"response\": …, \"answer\": …}}",
                args.input.display(),
                i + 1
            )
        })?;
        rows.push(row);
    }
    if rows.is_empty() {
        bail!("{}: no rows", args.input.display());
    }

    let reward = MathReward;
    let start = Instant::now();
    let scores: Vec<_> = rows
        .iter()
        .map(|r| reward.score(&r.response, &r.answer))
        .collect();
    let elapsed = start.elapsed();

    let mut out = match &args.out {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    println!(
        "{:<10} {:>6} {:>8} {:>6}  answer",
        "id", "format", "accuracy", "total"
    );
    let (mut fmt, mut acc, mut tot) = (0.0, 0.0, 0.0);
    for (i, (row, s)) in rows.iter().zip(&scores).enumerate() {
        let f = s.component("format").unwrap_or(0.0);
        let a = s.component("accuracy").unwrap_or(0.0);
        let id = row.id.as_ref().map_or_else(
            || i.to_string(),
            |v| v.as_str().map_or(v.to_string(), str::to_string),
        );
        println!(
            "{id:<10} {f:>6.1} {a:>8.1} {:>6.1}  {}",
            s.total, row.answer
        );
        (fmt, acc, tot) = (fmt + f, acc + a, tot + s.total);
        if let Some(w) = out.as_mut() {
            let rec = serde_json::json!({"id": id, "answer": row.answer, "response": row.response,
                "format": f, "accuracy": a, "total": s.total});
            writeln!(w, "{rec}")?;
        }
    }
    let n = rows.len() as f64;
    println!(
        "\n{} responses: format rate {:.3}, accuracy {:.3}, mean reward {:.3} ({:.1} µs per response)",
        rows.len(),
        fmt / 0.5 / n,
        acc / n,
        tot / n,
        elapsed.as_secs_f64() * 1e6 / n
    );
    Ok(())
}
