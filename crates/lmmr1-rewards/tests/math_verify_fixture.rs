//! Agreement with Math-Verify 0.9.0 on the corpus it produced itself
//! (`tools/math_verify_fixture.py` → `tests/fixtures/math_verify.jsonl`), and with LMM-R1's
//! reward (`tests/fixtures/lmm_r1_reward.jsonl`).
//!
//! Every disagreement is listed below with its reason; a new disagreement, or a listed one
//! that now agrees, fails the test so that the list stays true.

use std::collections::BTreeMap;

use lmmr1_rewards::{format, lmm_r1, math};

#[derive(serde::Deserialize)]
struct Row {
    id: u64,
    category: String,
    gold: String,
    pred: String,
    verdict: bool,
    #[serde(default)]
    timeout: bool,
}

#[derive(serde::Deserialize)]
struct RewardRow {
    id: u64,
    gold: String,
    response: String,
    format: f64,
    accuracy: f64,
}

/// Known disagreements with Math-Verify, by fixture id.
const KNOWN: &[(u64, &str)] = &[
    (432, "Math-Verify cannot parse a Unicode degree sign inside a boxed gold (`120°`); we read it as 120"),
    (1334, "Math-Verify false positive: 1/2004! and 1/2006! differ; its chopped float difference is 0"),
    (1335, "Math-Verify false positive: 2^-99 ≠ 2^-98 (chop at 15 digits); we compare exactly"),
    (1337, "Math-Verify false positive: 10^-20 ≠ 10^-21 (chop at 15 digits); we compare exactly"),
    (1360, "calculus (\\lim) is not evaluated; Math-Verify's sympy computes the limit"),
    (1361, "calculus (\\int) is not evaluated; Math-Verify's sympy computes the integral"),
    (1362, "calculus (\\sum with bounds) is not evaluated; Math-Verify's sympy computes the sum"),
];

fn load<T: serde::de::DeserializeOwned>(name: &str) -> Vec<T> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}:{}: {e}", i + 1)))
        .collect()
}

#[test]
fn agrees_with_math_verify() {
    let rows: Vec<Row> = load("math_verify.jsonl");
    assert!(rows.len() >= 2000, "fixture has only {} rows", rows.len());
    let mut disagreements = BTreeMap::new();
    let mut per_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut compared = 0usize;
    for r in &rows {
        if r.timeout {
            // Math-Verify gave up (its 5 s alarm); there is no verdict to agree with.
            continue;
        }
        compared += 1;
        let ours = math::verify(&r.gold, &r.pred);
        let entry = per_category.entry(&r.category).or_default();
        entry.0 += 1;
        if ours != r.verdict {
            entry.1 += 1;
            disagreements.insert(
                r.id,
                (
                    r.category.clone(),
                    r.gold.clone(),
                    r.pred.clone(),
                    r.verdict,
                ),
            );
        }
    }
    let agreement = 1.0 - disagreements.len() as f64 / compared as f64;
    eprintln!("agreement {agreement:.4} over {compared} cases");
    for (cat, (n, bad)) in &per_category {
        if *bad > 0 {
            eprintln!("  {cat}: {bad} of {n} disagree");
        }
    }
    assert!(agreement >= 0.98, "agreement {agreement:.4} below 0.98");

    let known: BTreeMap<u64, &str> = KNOWN.iter().copied().collect();
    let unexpected: Vec<String> = disagreements
        .iter()
        .filter(|(id, _)| !known.contains_key(id))
        .map(|(id, (cat, g, p, v))| {
            format!("#{id} [{cat}] gold {g:?} pred {p:?}: Math-Verify says {v}")
        })
        .collect();
    let stale: Vec<u64> = known
        .keys()
        .filter(|id| !disagreements.contains_key(id))
        .copied()
        .collect();
    assert!(
        unexpected.is_empty(),
        "new disagreements:\n{}",
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed disagreements that now agree (remove them): {stale:?}"
    );
}

/// The fixture applies LMM-R1's format regex to the response exactly as given; the server
/// strips the decoded response first, which `math_reward` does too. So the format rule is
/// checked on the raw text, and the whole reward on rows that are already stripped.
#[test]
fn agrees_with_lmm_r1_reward() {
    let rows: Vec<RewardRow> = load("lmm_r1_reward.jsonl");
    assert!(rows.len() >= 300);
    let mut wrong = Vec::new();
    let mut whole = 0;
    for r in &rows {
        let format = if format::r1(&r.response) { 0.5 } else { 0.0 };
        let accuracy = lmm_r1::accuracy(&r.response, &r.gold);
        if format != r.format || accuracy != r.accuracy {
            wrong.push(format!(
                "#{}: gold {:?} response {:?}: ours ({format}, {accuracy}) LMM-R1 ({}, {})",
                r.id, r.gold, r.response, r.format, r.accuracy
            ));
        }
        if lmm_r1::clean_response(&r.response) == r.response {
            whole += 1;
            let s = lmm_r1::math_reward(&r.response, &r.gold);
            assert_eq!(
                (s.format, s.accuracy),
                (r.format, r.accuracy),
                "row #{}",
                r.id
            );
            assert_eq!(s.total, r.format + r.accuracy);
        }
    }
    assert!(
        whole > rows.len() / 2,
        "only {whole} rows exercise the whole reward"
    );
    assert!(
        wrong.is_empty(),
        "{} of {} rows differ:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}
