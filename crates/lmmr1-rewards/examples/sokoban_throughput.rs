//! Sokoban throughput, printed as one JSON line (read by `tools/bench_sokoban.py`).
//!
//! * `steps_per_s`: `Env::step` with uniformly random gym actions (0–8) on Sokoban-small-v0
//!   levels, resetting the episode when it is done (200 steps or solved).
//! * `gen_small_v0_per_s`, `gen_v0_per_s`: levels per second from `Generator::next_level`.
//!
//! ```text
//! cargo run --release -p lmmr1-rewards --example sokoban_throughput -- [steps] [small] [v0]
//! ```

use std::time::Instant;

use lmmr1_rewards::sokoban::{Action, Env, Generator, Variant};

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn levels_per_s(variant: Variant, n: usize) -> f64 {
    let mut gen = Generator::new(variant.config(), 1).expect("gym's variants are supported");
    let t = Instant::now();
    for _ in 0..n {
        gen.next_level().expect("a level within the room budget");
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let (steps, small, v0) = (arg(1, 20_000_000), arg(2, 2_000), arg(3, 200));

    let level = Generator::new(Variant::Small0.config(), 0)
        .and_then(|mut g| g.next_level())
        .expect("a small level");
    let mut env = Env::new(level, Variant::Small0.max_steps());
    // A xorshift stream for the actions: cheap next to a step.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut reward = 0.0f64;
    let t = Instant::now();
    for _ in 0..steps {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let action = Action::from_gym_index(((x >> 32) % 9) as u8).expect("0..=8");
        let step = env.step(action);
        reward += step.reward_f64;
        if step.done {
            env.reset();
        }
    }
    let steps_per_s = steps as f64 / t.elapsed().as_secs_f64();

    let gen_small = levels_per_s(Variant::Small0, small);
    let gen_v0 = levels_per_s(Variant::V0, v0);
    println!(
        "{{\"steps_per_s\": {steps_per_s:.0}, \"gen_small_v0_per_s\": {gen_small:.1}, \
         \"gen_v0_per_s\": {gen_v0:.2}, \"steps\": {steps}, \"reward_sum\": {reward:.1}}}"
    );
}
