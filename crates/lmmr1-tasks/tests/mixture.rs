//! Seeded mixtures: proportions, passes, determinism, resume.

use std::collections::HashMap;

use lmmr1_tasks::{Dataset, Mixture, MixturePosition, Sample};

fn named(name: &str, n: usize) -> Dataset {
    let samples = (0..n)
        .map(|i| Sample::text(&format!("{name}{i}"), &format!("{name} question {i}"), "1"))
        .collect();
    Dataset::new(name, samples)
}

fn three() -> Vec<(Dataset, f64)> {
    vec![
        (named("a", 10), 5.0),
        (named("b", 7), 3.0),
        (named("c", 3), 2.0),
    ]
}

fn ids(samples: &[&Sample]) -> Vec<String> {
    samples.iter().map(|s| s.id.clone()).collect()
}

#[test]
fn draws_follow_the_probabilities() {
    let mut mix = Mixture::new(three(), 17).unwrap();
    assert_eq!(mix.probabilities(), &[0.5, 0.3, 0.2]);
    let n = 20_000;
    let mut counts = [0usize; 3];
    for _ in 0..n {
        counts[mix.next_with_source().0] += 1;
    }
    for (c, p) in counts.iter().zip([0.5, 0.3, 0.2]) {
        let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
        assert!(
            (*c as f64 - mean).abs() < 5.0 * sd,
            "{counts:?} vs p={p} (mean {mean}, sd {sd:.1})"
        );
    }
    assert_eq!(mix.draws(), n as u64);
}

#[test]
fn each_pass_visits_every_sample_once_in_a_fresh_order() {
    let mut mix = Mixture::single(named("s", 10), 3).unwrap();
    let drawn = ids(&mix.batch(30));
    let passes: Vec<&[String]> = drawn.chunks(10).collect();
    for pass in &passes {
        let mut p = pass.to_vec();
        p.sort();
        let mut all: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
        all.sort();
        assert_eq!(p, all);
    }
    assert_ne!(passes[0], passes[1], "each pass is reshuffled");
    let first_ten: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    assert_ne!(
        passes[0],
        first_ten.as_slice(),
        "the first pass is shuffled too"
    );

    // In a mixture, a dataset's own draws are still whole passes.
    let mut mix = Mixture::new(three(), 4).unwrap();
    let c_draws: Vec<String> = (0..300)
        .filter_map(|_| match mix.next_with_source() {
            (2, s) => Some(s.id.clone()),
            _ => None,
        })
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &c_draws[..c_draws.len() / 3 * 3] {
        *counts.entry(id).or_default() += 1;
    }
    let k = c_draws.len() / 3;
    assert!(counts.values().all(|&v| v == k), "{counts:?}");
}

#[test]
fn same_seed_same_sequence_other_seed_other_sequence() {
    let a = ids(&Mixture::new(three(), 1).unwrap().batch(50));
    let b = ids(&Mixture::new(three(), 1).unwrap().batch(50));
    let c = ids(&Mixture::new(three(), 2).unwrap().batch(50));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_saved_position_resumes_the_exact_sequence() {
    let mut mix = Mixture::new(three(), 8).unwrap();
    mix.batch(37);
    let saved = serde_json::to_string(&mix.position()).unwrap();
    let expected = ids(&mix.batch(50));

    // A new process: same datasets and seed, position read back from JSON.
    let mut resumed = Mixture::new(three(), 8).unwrap();
    let pos: MixturePosition = serde_json::from_str(&saved).unwrap();
    resumed.set_position(&pos).unwrap();
    assert_eq!(resumed.draws(), 37);
    assert_eq!(ids(&resumed.batch(50)), expected);
}

#[test]
fn restoring_a_position_for_other_data_is_refused() {
    let mut mix = Mixture::new(three(), 8).unwrap();
    mix.batch(5);
    let pos = mix.position();

    let mut other_seed = Mixture::new(three(), 9).unwrap();
    assert!(other_seed
        .set_position(&pos)
        .unwrap_err()
        .to_string()
        .contains("seed"));

    let mut other_data = Mixture::new(
        vec![
            (named("a", 11), 1.0),
            (named("b", 7), 1.0),
            (named("c", 3), 1.0),
        ],
        8,
    )
    .unwrap();
    assert!(other_data
        .set_position(&pos)
        .unwrap_err()
        .to_string()
        .contains("lengths"));

    let mut bad = pos.clone();
    bad.cursors[2].index = 4;
    let mut same = Mixture::new(three(), 8).unwrap();
    let before = ids(&same.clone().batch(5));
    assert!(same
        .set_position(&bad)
        .unwrap_err()
        .to_string()
        .contains("past its 3 samples"));
    assert_eq!(
        ids(&same.batch(5)),
        before,
        "a refused position leaves the mixture unchanged"
    );
}

#[test]
fn invalid_mixtures_are_errors() {
    assert!(Mixture::new(vec![], 0).is_err());
    assert!(Mixture::new(vec![(named("a", 2), -1.0)], 0).is_err());
    assert!(Mixture::new(vec![(named("a", 2), f64::NAN)], 0).is_err());
    assert!(Mixture::new(vec![(named("a", 2), 0.0)], 0).is_err());
    let err = Mixture::new(vec![(named("a", 2), 1.0), (named("empty", 0), 1.0)], 0).unwrap_err();
    assert!(err.to_string().contains("`empty` is empty"), "{err}");
    // An empty dataset with weight 0 is allowed and never drawn.
    let mut mix = Mixture::new(vec![(named("a", 2), 1.0), (named("e", 0), 0.0)], 0).unwrap();
    assert!(mix.batch(20).iter().all(|s| s.id.starts_with('a')));
}
