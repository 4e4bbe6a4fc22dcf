//! MGT-PerceReason: RL on perception-then-reasoning images, continuing from the FRE-Text checkpoint, with `configs/mgt_perce_reason.toml`.
//!
//! ```text
//! cargo run --release --example mgt_perce_reason -- --out runs/mgt_perce_reason
//! ```

mod common;

fn main() -> anyhow::Result<()> {
    common::main_for_stage("mgt_perce_reason").map(|_| ())
}
