//! Sokoban throughput: env steps, level generation, solving and LMM-R1 scoring.
//!
//! `cargo bench -p lmmr1-rewards --bench sokoban`; `tools/bench_sokoban.py` compares the same
//! work with gym-sokoban.

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lmmr1_rewards::sokoban::{solve, Action, Env, Generator, LmmR1Sokoban, SolveLimits, Variant};

fn env_steps(c: &mut Criterion) {
    let level = Generator::new(Variant::Small0.config(), 0)
        .and_then(|mut g| g.next_level())
        .unwrap();
    // Uniform random gym actions, as in gym-sokoban's measured 66,080 steps/s.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let actions: Vec<Action> = (0..10_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Action::from_gym_index(((x >> 32) % 9) as u8).unwrap()
        })
        .collect();
    let mut group = c.benchmark_group("sokoban_env");
    group.throughput(Throughput::Elements(actions.len() as u64));
    group.bench_function("step_small_v0_x10000", |b| {
        let mut env = Env::new(level.clone(), Variant::Small0.max_steps());
        b.iter(|| {
            let mut sum = 0.0;
            for &a in &actions {
                let s = env.step(a);
                sum += s.reward_f64;
                if s.done {
                    env.reset();
                }
            }
            sum
        })
    });
    group.finish();
}

fn generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("sokoban_generate");
    group.throughput(Throughput::Elements(1));
    for variant in [Variant::Small0, Variant::Small1, Variant::V0] {
        let mut gen = Generator::new(variant.config(), 1).unwrap();
        group.bench_function(variant.gym_id(), |b| b.iter(|| gen.next_level().unwrap()));
    }
    group.finish();
}

fn solving_and_scoring(c: &mut Criterion) {
    let mut gen = Generator::new(Variant::Small1.config(), 2).unwrap();
    let levels: Vec<_> = (0..16).map(|_| gen.next_level().unwrap()).collect();
    let mut group = c.benchmark_group("sokoban_solve");
    group.throughput(Throughput::Elements(levels.len() as u64));
    group.bench_function("small_v1_x16", |b| {
        b.iter(|| {
            levels
                .iter()
                .map(|l| solve(l, &SolveLimits::default()).unwrap().len())
                .sum::<usize>()
        })
    });
    group.finish();

    let response = "<think>push the box left then go around and push it down</think>\
                    <answer>Left, Up, Left, Down, Right, Right, Down, Left, Left, Up</answer>";
    let mut group = c.benchmark_group("sokoban_score");
    group.throughput(Throughput::Elements(1));
    group.bench_function("lmm_r1_breakdown", |b| {
        b.iter(|| LmmR1Sokoban.breakdown(response, &levels[0]))
    });
    group.finish();
}

criterion_group!(benches, env_steps, generation, solving_and_scoring);
criterion_main!(benches);
