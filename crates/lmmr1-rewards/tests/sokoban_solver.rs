//! The solver against independent references: the breadth-first solutions recorded with
//! gym-sokoban (`tools/sokoban_traces.py`, policies `solver` and `solver_then_more`), Microban's
//! published solutions, and generated levels.

use std::path::Path;

use lmmr1_rewards::sokoban::{
    best_prefix_reward, is_solution, magebench_score, optimal_reward, parse_collection, solve,
    Action, Generator, Level, SolveLimits, Variant,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Trace {
    policy: String,
    grid: Vec<String>,
    actions: String,
    rewards: Vec<f64>,
}

#[test]
fn plans_are_as_short_as_gym_breadth_first_solutions() {
    let mut checked = 0;
    for line in include_str!("fixtures/sokoban_traces.jsonl").lines() {
        let t: Trace = serde_json::from_str(line).unwrap();
        let extra = match t.policy.as_str() {
            "solver" => 0,
            "solver_then_more" => 5,
            _ => continue,
        };
        let level = Level::from_xsb(&t.grid.join("\n")).unwrap();
        let plan = solve(&level, &SolveLimits::default()).unwrap();
        assert!(is_solution(&level, &plan), "{level}");
        assert_eq!(plan.len(), t.actions.len() - extra, "{level}");
        // The optimal plan's reward is gym's reward for the recorded solution.
        let gym_sum: f64 = t.rewards[..plan.len()].iter().sum();
        let best = optimal_reward(&level, &SolveLimits::default()).unwrap();
        assert!((best - gym_sum).abs() < 1e-9, "{best} vs {gym_sum}");
        assert_eq!(magebench_score(best, best), 100.0);
        checked += 1;
    }
    assert_eq!(checked, 50);
}

#[test]
fn small_microban_levels_solve_no_longer_than_published() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sokoban/microban.sok");
    let levels = parse_collection(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut solved = 0;
    for entry in levels.iter().filter(|e| e.level.num_boxes() <= 2).take(40) {
        let published = entry.solution().unwrap().unwrap();
        let plan = solve(&entry.level, &SolveLimits::default()).unwrap();
        assert!(is_solution(&entry.level, &plan), "{:?}", entry.title());
        assert!(plan.len() <= published.len(), "{:?}", entry.title());
        solved += 1;
    }
    assert_eq!(solved, 40);
}

#[test]
fn generated_levels_are_solvable_and_idling_scores_below_100() {
    for variant in [Variant::Small0, Variant::Small1] {
        let mut gen = Generator::new(variant.config(), 5).unwrap();
        for _ in 0..15 {
            let level = gen.next_level().unwrap();
            let plan =
                solve(&level, &SolveLimits::default()).expect("generated levels are solvable");
            assert!(is_solution(&level, &plan) && !plan.is_empty());
            let best = optimal_reward(&level, &SolveLimits::default()).unwrap();
            let idle = best_prefix_reward(&level, [Action::NoOp; 10], variant.max_steps());
            assert_eq!(idle, 0.0);
            assert!(magebench_score(idle, best) < 100.0);
        }
    }
}
