//! The bundled sample of responses (`data/sample_responses.jsonl`, scored by the
//! `score_rewards` example) gets the rewards its comments promise, through the facade crate.

use lmmr1::rewards::lmm_r1::MathReward;
use lmmr1::rewards::Reward;

#[derive(serde::Deserialize)]
struct Row {
    id: String,
    answer: String,
    response: String,
}

#[test]
fn bundled_sample_scores() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample_responses.jsonl");
    let text = std::fs::read_to_string(path).expect("bundled sample");
    let rows: Vec<Row> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    let score = |id: &str| {
        let r = rows.iter().find(|r| r.id == id).expect(id);
        let s = MathReward.score(&r.response, &r.answer);
        (
            s.component("format").unwrap(),
            s.component("accuracy").unwrap(),
        )
    };
    // Well-formed and right.
    assert_eq!(score("gsm8k-1"), (0.5, 1.0));
    // A space between </think> and <answer> breaks the format only.
    assert_eq!(score("gsm8k-3"), (0.0, 1.0));
    // No `$…$` around the answer: LMM-R1 extracts nothing.
    assert_eq!(score("gsm8k-4"), (0.5, 0.0));
    // An open interval is not the closed one.
    assert_eq!(score("math-4"), (0.5, 0.0));
    // Equivalent forms: 0.5 = 1/2, sqrt(12) = 2 sqrt(3), 2y = 4x + 6 ⇔ y = 2x + 3, 3 1/2 = 7/2.
    for id in ["math-1", "math-3", "math-9", "math-12"] {
        assert_eq!(score(id), (0.5, 1.0), "{id}");
    }
    // Two <think> tags: no format reward.
    assert_eq!(score("math-13"), (0.0, 1.0));
    // 3.14 is not π.
    assert_eq!(score("math-15"), (0.5, 0.0));
    let total: f64 = rows
        .iter()
        .map(|r| MathReward.score(&r.response, &r.answer).total)
        .sum();
    assert_eq!(rows.len(), 20);
    assert!(
        (total / 20.0 - 1.3).abs() < 1e-12,
        "mean reward {}",
        total / 20.0
    );
}
