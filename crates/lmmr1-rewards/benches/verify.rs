//! `math::verify` and `lmm_r1::math_reward` throughput over the Math-Verify fixture corpus.
//!
//! ```text
//! cargo bench -p lmmr1-rewards --bench verify
//! ```
//!
//! `tools/bench_math_verify.py` measures Math-Verify itself on the same corpus in the same run
//! and prints the ratio.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lmmr1_rewards::{lmm_r1, math};

#[derive(serde::Deserialize)]
struct Row {
    gold: String,
    pred: String,
}

#[derive(serde::Deserialize)]
struct RewardRow {
    gold: String,
    response: String,
}

fn load<T: serde::de::DeserializeOwned>(name: &str) -> Vec<T> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture row"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let rows: Vec<Row> = load("math_verify.jsonl");
    let mut g = c.benchmark_group("math");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("verify/fixture", |b| {
        b.iter(|| {
            rows.iter()
                .filter(|r| math::verify(&r.gold, &r.pred))
                .count()
        })
    });
    g.finish();

    let rewards: Vec<RewardRow> = load("lmm_r1_reward.jsonl");
    let mut g = c.benchmark_group("lmm_r1");
    g.throughput(Throughput::Elements(rewards.len() as u64));
    g.bench_function("math_reward/fixture", |b| {
        b.iter(|| {
            rewards
                .iter()
                .map(|r| lmm_r1::math_reward(&r.response, &r.gold).total)
                .sum::<f64>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
