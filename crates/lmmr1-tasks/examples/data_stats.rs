//! Loads jsonl prompt files and reports, per file, the rows, the skipped rows, how many gold
//! answers LMM-R1's reward can parse, and how many of those a response answering the gold
//! itself (`<think></think><answer>$gold$</answer>`) gets right.
//!
//! `cargo run -p lmmr1-tasks --example data_stats -- data/math/*.jsonl`

use std::path::PathBuf;

use lmmr1_rewards::lmm_r1::math_reward;
use lmmr1_tasks::{gold_is_checkable, BadRows, Dataset};

fn main() -> anyhow::Result<()> {
    let files: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    anyhow::ensure!(!files.is_empty(), "usage: data_stats FILE.jsonl...");
    println!("| file | rows | skipped | gold parsed | gold answers itself |");
    println!("|---|---|---|---|---|");
    for path in files {
        let data = Dataset::from_jsonl(&path, BadRows::Skip)?;
        let checkable: Vec<_> = data
            .samples
            .iter()
            .filter(|s| gold_is_checkable(&s.answer))
            .collect();
        let self_right = checkable
            .iter()
            .filter(|s| {
                let gold = s.answer.trim_matches('$');
                let response = format!("<think></think><answer>${gold}$</answer>");
                math_reward(&response, &s.answer).total == 1.5
            })
            .count();
        println!(
            "| {} | {} | {} | {} ({:.2} %) | {} ({:.2} %) |",
            path.display(),
            data.len(),
            data.skipped,
            checkable.len(),
            100.0 * checkable.len() as f64 / data.len().max(1) as f64,
            self_right,
            100.0 * self_right as f64 / checkable.len().max(1) as f64,
        );
    }
    Ok(())
}
