//! candle's f32 matmul against [`lmmr1_model::matmul::PackedWeight`] at the shapes of the 100m
//! preset, streaming about 400 MB of distinct weights per timing (as decoding does: every
//! weight read once per step), 2 threads unless `RAYON_NUM_THREADS` says otherwise; best of 3.
//!
//! ```text
//! cargo run --release -p lmmr1-model --example bench_matmul -- --rows 1,16,64,2048
//! ```

use std::time::Instant;

use anyhow::Result;
use candle_core::{Device, Tensor};
use clap::Parser;
use lmmr1_model::matmul::PackedWeight;

#[derive(Parser)]
struct Args {
    /// Row counts `m` of `x`.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,2048")]
    rows: Vec<usize>,
}

fn main() -> Result<()> {
    let a = Args::parse();
    lmmr1_model::init_threads();
    let dev = Device::Cpu;
    println!("rows  k     n      | candle x·Wᵀ GFLOP/s | packed GFLOP/s | ratio | max |Δ|");
    for &m in &a.rows {
        for &(k, n) in &[
            (768usize, 1024usize),
            (768, 4096),
            (2048, 768),
            (768, 32000),
        ] {
            let count = (400_000_000 / (4 * k * n)).max(2);
            let ws: Vec<Tensor> = (0..count)
                .map(|_| Tensor::randn(0f32, 1.0, (n, k), &dev))
                .collect::<candle_core::Result<_>>()?;
            // candle's fastest layout for x·Wᵀ: the weight transposed and contiguous.
            let wts: Vec<Tensor> = ws
                .iter()
                .map(|w| w.t()?.contiguous())
                .collect::<candle_core::Result<_>>()?;
            let packed: Vec<PackedWeight> = ws
                .iter()
                .map(|w| Ok(PackedWeight::from_rows(&w.flatten_all()?.to_vec1()?, n, k)))
                .collect::<candle_core::Result<_>>()?;
            let x = Tensor::randn(0f32, 1.0, (m, k), &dev)?;
            let xv: Vec<f32> = x.flatten_all()?.to_vec1()?;
            let reference: Vec<f32> = x.matmul(&wts[0])?.flatten_all()?.to_vec1()?;
            let err = packed[0]
                .matmul(&xv, m)
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            let mut best = [f64::INFINITY; 2];
            for _ in 0..3 {
                let t = Instant::now();
                for w in &wts {
                    x.matmul(w)?;
                }
                best[0] = best[0].min(t.elapsed().as_secs_f64());
                let t = Instant::now();
                for p in &packed {
                    p.matmul(&xv, m);
                }
                best[1] = best[1].min(t.elapsed().as_secs_f64());
            }
            let flop = 2.0 * (m * k * n * count) as f64;
            println!(
                "{m:<5} {k:<5} {n:<6} | {:>19.0} | {:>14.0} | {:>4.2}x | {err:.1e}",
                flop / best[0] / 1e9,
                flop / best[1] / 1e9,
                best[0] / best[1]
            );
        }
    }
    Ok(())
}
