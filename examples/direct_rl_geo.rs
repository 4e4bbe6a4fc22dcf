//! Direct-RL-Geo: the MGT-Geo recipe started from the base instead of the FRE-Text checkpoint (LMM-R1's ablation), with `configs/direct_rl_geo.toml`.
//!
//! ```text
//! cargo run --release --example direct_rl_geo -- --out runs/direct_rl_geo
//! ```

mod common;

fn main() -> anyhow::Result<()> {
    common::main_for_stage("direct_rl_geo").map(|_| ())
}
