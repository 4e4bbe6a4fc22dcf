//! Prefill and decode throughput (tokens/s) at batch 1, 16 and 64 for the `tiny` and `100m`
//! presets, random weights, f32, CPU.
//!
//! `cargo bench -p lmmr1-model --bench generate`; `LMMR1_BENCH_PRESETS=tiny` restricts the
//! presets. `tools/bench_vs_transformers.py` compares with transformers on the same shapes.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use candle_core::{DType, Device};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lmmr1_model::kv_cache::KvCache;
use lmmr1_model::model::Inputs;
use lmmr1_model::Qwen25VL;

const PROMPT: usize = 32;
const STEPS: usize = 8;

fn inputs(batch: usize) -> Inputs {
    let ids: Vec<u32> = (0..batch * PROMPT)
        .map(|i| (i * 7919 % 1000) as u32)
        .collect();
    Inputs::text(batch, ids, vec![1; batch * PROMPT]).expect("inputs")
}

fn bench(c: &mut Criterion) {
    lmmr1_model::init_threads();
    let presets = std::env::var("LMMR1_BENCH_PRESETS").unwrap_or_else(|_| "tiny,100m".into());
    for preset in presets.split(',') {
        let cfg = lmmr1_model::config::preset(preset).expect("preset");
        let model = Qwen25VL::random(&cfg, 0, DType::F32, &Device::Cpu).expect("model");
        let mut g = c.benchmark_group(format!("generate/{preset}"));
        g.sample_size(10);
        g.warm_up_time(std::time::Duration::from_millis(500));
        g.measurement_time(std::time::Duration::from_secs(2));
        for batch in [1usize, 16, 64] {
            let inp = inputs(batch);
            g.throughput(Throughput::Elements((batch * PROMPT) as u64));
            g.bench_function(format!("prefill/b{batch}"), |b| {
                b.iter(|| {
                    let mut cache = KvCache::new(model.text.num_layers());
                    model.prefill(&inp, &mut cache).expect("prefill")
                })
            });
            g.throughput(Throughput::Elements((batch * STEPS) as u64));
            let deltas = vec![0i64; batch];
            g.bench_function(format!("decode{STEPS}/b{batch}"), |b| {
                b.iter_batched(
                    || {
                        let mut cache = KvCache::new(model.text.num_layers());
                        model.prefill(&inp, &mut cache).expect("prefill");
                        cache
                    },
                    |mut cache| {
                        let toks = vec![1u32; batch];
                        for s in 0..STEPS {
                            let mask = vec![1u32; batch * (PROMPT + s + 1)];
                            model
                                .decode_step(&toks, &mask, &deltas, &mut cache)
                                .expect("decode");
                        }
                    },
                    BatchSize::PerIteration,
                )
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
