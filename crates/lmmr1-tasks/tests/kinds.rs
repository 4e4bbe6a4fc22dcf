//! Every task family through the by-name interface the trainer uses: the teacher's
//! demonstration is solved by the family's own reward, the noisy teacher's is not, and generated
//! splits never share a problem.

use std::collections::HashSet;

use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::{kind, sample_key, slip_answer, TaskKind};

fn solved(kind: TaskKind, s: &lmmr1_tasks::Sample, response: &str) -> bool {
    let score = kind.score(s, response);
    let key = if kind.is_agent() {
        "solved"
    } else {
        "accuracy"
    };
    score.component(key).unwrap_or(0.0) > 0.5
}

#[test]
fn names_round_trip_and_unknown_names_are_errors() {
    for k in TaskKind::ALL {
        assert_eq!(TaskKind::from_name(k.name()).unwrap(), k);
    }
    let e = TaskKind::from_name("chess").unwrap_err().to_string();
    assert!(e.contains("chess") && e.contains("sokoban"), "{e}");
}

#[test]
fn demonstrations_are_solved_and_slips_are_not() {
    for k in TaskKind::ALL {
        let mut rng = SplitMix64::new(11);
        let n = if k == TaskKind::Football { 40 } else { 200 };
        let (mut demo_ok, mut slip_ok) = (0, 0);
        for i in 0..n {
            let level = 1 + (i % 2) as u8;
            let g = k.generate(level, &mut rng).unwrap();
            demo_ok += solved(k, &g.sample, &g.demonstration) as usize;
            // Decoded responses arrive with the end-of-turn marker: it changes nothing.
            let decoded = format!("{}<|im_end|>", g.demonstration);
            assert_eq!(
                k.score(&g.sample, &decoded),
                k.score(&g.sample, &g.demonstration),
                "{}: {decoded}",
                k.name()
            );
            slip_ok += solved(k, &g.sample, &g.slipped) as usize;
        }
        let (demo, slip) = (demo_ok as f64 / n as f64, slip_ok as f64 / n as f64);
        // Football's teacher is a search over a game with a keeper: it scores in most games.
        let floor = if k == TaskKind::Football { 0.85 } else { 1.0 };
        assert!(demo >= floor, "{}: demonstrations solved {demo}", k.name());
        assert!(slip <= 0.1, "{}: slipped solved {slip}", k.name());
    }
}

#[test]
fn generated_splits_are_disjoint() {
    for k in TaskKind::ALL {
        let (train, held) = kind::train_and_held_out(k, 300, 40, &[1, 2], 3).unwrap();
        assert_eq!((train.len(), held.len()), (300, 40));
        let keys: HashSet<u64> = held.samples.iter().map(sample_key).collect();
        assert!(
            train.samples.iter().all(|s| !keys.contains(&sample_key(s))),
            "{}",
            k.name()
        );
        // By content: held-out problems come from the evaluation-only share, training problems
        // never do (so a warm start, which skips that share too, cannot have seen them).
        assert!(
            held.samples.iter().all(kind::reserved_for_held_out),
            "{}",
            k.name()
        );
        assert!(
            !train.samples.iter().any(kind::reserved_for_held_out),
            "{}",
            k.name()
        );
    }
}

#[test]
fn the_integer_slip_adds_ten_and_leaves_other_answers() {
    assert_eq!(
        slip_answer("<think>2+2=4</think><answer>$4$</answer>", "4"),
        "<think>2+2=4</think><answer>$14$</answer>"
    );
    let frac = "<think>1/2</think><answer>$\\frac{1}{2}$</answer>";
    assert_eq!(slip_answer(frac, "\\frac{1}{2}"), frac);
}

/// The share of `samples` with each datasource (the level) and with options.
fn composition(samples: &[lmmr1_tasks::Sample]) -> Vec<(String, f64)> {
    let n = samples.len() as f64;
    let mut shares: std::collections::BTreeMap<String, f64> = Default::default();
    for s in samples {
        *shares
            .entry(s.datasource.clone().unwrap_or_default())
            .or_default() += 1.0 / n;
        if !s.choices.is_empty() {
            *shares.entry("multiple choice".into()).or_default() += 1.0 / n;
        }
    }
    shares.into_iter().collect()
}

#[test]
fn held_out_problems_follow_the_training_distribution() {
    // Level-1 geometry is a quarter multiple choice; arithmetic at levels 1–2 is half level 1,
    // whose space is small. Distinct held-out problems would be 94 % multiple choice and
    // almost only level 2.
    for (k, levels) in [
        (TaskKind::Geo, &[1u8][..]),
        (TaskKind::PerceReason, &[1, 2][..]),
        (TaskKind::Arith, &[1, 2][..]),
    ] {
        let (train, held) = kind::train_and_held_out(k, 1000, 300, levels, 5).unwrap();
        let (tc, hc) = (composition(&train.samples), composition(&held.samples));
        let share = |c: &[(String, f64)], key: &str| {
            c.iter().find(|(k, _)| k == key).map_or(0.0, |(_, v)| *v)
        };
        let keys: HashSet<&String> = tc.iter().chain(&hc).map(|(k, _)| k).collect();
        for key in keys {
            let (t, h) = (share(&tc, key), share(&hc, key));
            assert!(
                (t - h).abs() < 0.1,
                "{}: {key}: training {t:.2}, held out {h:.2}",
                k.name()
            );
        }
    }
}
