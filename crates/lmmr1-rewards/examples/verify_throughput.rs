//! Times `math::verify` over a Math-Verify fixture and reports agreement with it.
//!
//! ```text
//! cargo run --release -p lmmr1-rewards --example verify_throughput -- \
//!     --fixture crates/lmmr1-rewards/tests/fixtures/math_verify.jsonl [--passes 5] [--show]
//! ```
//!
//! Prints one JSON line: `{"cases": N, "seconds": S, "cases_per_sec": X,
//! "uncached_cases_per_sec": Y, "agreement": A}`, where `seconds` is the best pass (each pass
//! runs every case once, single thread) and `Y` is the same work without `verify`'s cache of
//! recent extractions.
//! `--show` also lists the disagreements on stderr, and `VERIFY_SLOWEST=1` the 15 slowest cases. `tools/bench_math_verify.py` runs this
//! next to Math-Verify itself and prints the ratio.

use std::time::Instant;

use lmmr1_rewards::math;

#[derive(serde::Deserialize)]
struct Row {
    id: u64,
    #[serde(default)]
    category: String,
    gold: String,
    pred: String,
    verdict: bool,
    #[serde(default)]
    gold_parsed: String,
    #[serde(default)]
    pred_parsed: String,
}

fn main() {
    let mut fixture = String::from("crates/lmmr1-rewards/tests/fixtures/math_verify.jsonl");
    let mut passes = 5usize;
    let mut show = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--fixture" => fixture = args.next().unwrap_or(fixture),
            "--passes" => passes = args.next().and_then(|p| p.parse().ok()).unwrap_or(passes),
            "--show" => show = true,
            other => {
                eprintln!("unknown argument {other:?}; see the header of this example");
                std::process::exit(2);
            }
        }
    }
    let text = match std::fs::read_to_string(&fixture) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {fixture}: {e}");
            std::process::exit(1);
        }
    };
    let rows: Vec<Row> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                eprintln!("{fixture}:{}: {e}", i + 1);
                std::process::exit(1)
            })
        })
        .collect();

    let mut agree = 0usize;
    for r in &rows {
        let v = math::verify(&r.gold, &r.pred);
        if v == r.verdict {
            agree += 1;
        } else if show {
            let ours_g = math::extract(&r.gold).map(|a| format!("{a} | {}", a.raw));
            let ours_p = math::extract(&r.pred).map(|a| format!("{a} | {}", a.raw));
            eprintln!(
                "#{} [{}] expected {} got {}\n  gold {:?}\n  pred {:?}\n  mv gold {}  | ours {:?}\n  mv pred {}  | ours {:?}",
                r.id, r.category, r.verdict, v, r.gold, r.pred, r.gold_parsed, ours_g, r.pred_parsed, ours_p
            );
        }
    }
    if std::env::var_os("VERIFY_SLOWEST").is_some() {
        let mut times: Vec<(f64, u64)> = rows
            .iter()
            .map(|r| {
                let t = Instant::now();
                for _ in 0..20 {
                    std::hint::black_box(math::verify(&r.gold, &r.pred));
                }
                (t.elapsed().as_secs_f64() / 20.0, r.id)
            })
            .collect();
        times.sort_by(|a, b| b.0.total_cmp(&a.0));
        let total: f64 = times.iter().map(|t| t.0).sum();
        for (t, id) in times.iter().take(15) {
            eprintln!(
                "#{id}: {:.1} us ({:.1}% of total)",
                t * 1e6,
                100.0 * t / total
            );
        }
    }
    let mut best = f64::INFINITY;
    for _ in 0..passes.max(1) {
        let t = Instant::now();
        let mut n = 0usize;
        for r in &rows {
            n += usize::from(std::hint::black_box(math::verify(&r.gold, &r.pred)));
        }
        std::hint::black_box(n);
        best = best.min(t.elapsed().as_secs_f64());
    }
    // The same work without `verify`'s per-thread cache of recent extractions.
    let cfg = math::CompareConfig::default();
    let mut best_uncached = f64::INFINITY;
    for _ in 0..passes.max(1) {
        let t = Instant::now();
        let mut n = 0usize;
        for r in &rows {
            let (g, p) = (math::extract(&r.gold), math::extract(&r.pred));
            n += usize::from(std::hint::black_box(math::verify_answers(
                g.as_ref(),
                p.as_ref(),
                &cfg,
            )));
        }
        std::hint::black_box(n);
        best_uncached = best_uncached.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{{\"cases\": {}, \"seconds\": {:.6}, \"cases_per_sec\": {:.1}, \"uncached_cases_per_sec\": {:.1}, \"agreement\": {:.4}}}",
        rows.len(),
        best,
        rows.len() as f64 / best,
        rows.len() as f64 / best_uncached,
        agree as f64 / rows.len().max(1) as f64
    );
}
