//! MGT-Sokoban: RL on Sokoban boards (the whole plan in one answer, or one move per turn), continuing from the FRE-Text checkpoint, with `configs/mgt_sokoban.toml`.
//!
//! ```text
//! cargo run --release --example mgt_sokoban -- --out runs/mgt_sokoban
//! ```

mod common;

fn main() -> anyhow::Result<()> {
    common::main_for_stage("mgt_sokoban").map(|_| ())
}
