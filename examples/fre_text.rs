//! FRE-Text: rule-based RL on text-only math (LMM-R1 stage 1), with `configs/fre_text.toml`.
//!
//! ```text
//! cargo run --release --example fre_text -- --out runs/fre_text
//! cargo run --release --example fre_text --features cuda -- --model /path/to/Qwen2.5-VL-3B-Instruct --device cuda
//! ```

mod common;

fn main() -> anyhow::Result<()> {
    common::main_for_stage("fre_text").map(|_| ())
}
