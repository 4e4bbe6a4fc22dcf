//! Football environment throughput: steps per second on one core.
//!
//! `cargo bench -p lmmr1-rewards --bench football`. Each iteration plays 10,000 steps of the
//! 3-vs-1 drill with a fixed cycle of actions (runs, sprint, passes, shots), resetting with a
//! new seed whenever an episode ends, so resets and the reward are part of the cost.

use criterion::{black_box, criterion_main, Criterion, Throughput};
use lmmr1_rewards::football::{Action, Env, Scenario};

const STEPS: u64 = 10_000;
const CYCLE: [Action; 8] = [
    Action::Right,
    Action::TopRight,
    Action::Sprint,
    Action::Right,
    Action::ShortPass,
    Action::BottomRight,
    Action::ReleaseSprint,
    Action::Shot,
];

fn play(env: &mut Env, seed: &mut u64) -> f64 {
    let mut total = 0.0;
    for i in 0..STEPS {
        let step = match env.step(CYCLE[(i as usize / 3) % CYCLE.len()]) {
            Ok(s) => s,
            Err(_) => break,
        };
        total += step.reward;
        if step.done {
            *seed += 1;
            env.reset(*seed);
        }
    }
    total
}

fn bench(c: &mut Criterion) {
    for name in ["academy_3_vs_1_with_keeper", "11_vs_11_kickoff"] {
        let Ok(scenario) = Scenario::from_name(name) else {
            continue;
        };
        let mut env = Env::new(scenario);
        let mut seed = 0;
        let mut group = c.benchmark_group("football_steps");
        group.throughput(Throughput::Elements(STEPS));
        group.bench_function(name, |b| b.iter(|| black_box(play(&mut env, &mut seed))));
        group.finish();
    }
}

// A private module keeps the generated `pub fn benches` out of the `missing_docs` lint.
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
