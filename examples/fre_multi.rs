//! FRE-Multi: rule-based RL on math rendered into images, from the base (LMM-R1's control for FRE-Text), with `configs/fre_multi.toml`.
//!
//! ```text
//! cargo run --release --example fre_multi -- --out runs/fre_multi
//! ```

mod common;

fn main() -> anyhow::Result<()> {
    common::main_for_stage("fre_multi").map(|_| ())
}
