//! Prints a few generated problems per level with their demonstrations.
//!
//! `cargo run -p lmmr1-tasks --example show_problems -- [per_level] [seed]`

use lmmr1_tasks::generator::{self, demonstration};
use lmmr1_tasks::rng::SplitMix64;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let per_level: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0);
    let mut rng = SplitMix64::new(seed);
    for level in 1..=generator::MAX_DIFFICULTY {
        println!("== level {level}");
        for _ in 0..per_level {
            let p = generator::generate(level, &mut rng);
            println!("{:<95} {}", p.question, demonstration(&p));
        }
    }
    Ok(())
}
