//! MGT-Geo: RL on geometry diagrams with PPO and a critic, continuing from the FRE-Text checkpoint, with `configs/mgt_geo.toml`.
//!
//! ```text
//! cargo run --release --example mgt_geo -- --out runs/mgt_geo
//! ```

mod common;

fn main() -> anyhow::Result<()> {
    common::main_for_stage("mgt_geo").map(|_| ())
}
