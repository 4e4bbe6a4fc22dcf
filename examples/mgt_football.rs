//! MGT-Football: RL on football frames (a plan of MageBench actions, or one action per turn), continuing from the FRE-Text checkpoint, with `configs/mgt_football.toml`.
//!
//! ```text
//! cargo run --release --example mgt_football -- --out runs/mgt_football
//! ```

mod common;

fn main() -> anyhow::Result<()> {
    common::main_for_stage("mgt_football").map(|_| ())
}
