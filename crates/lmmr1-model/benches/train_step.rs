//! Training throughput (tokens/s): forward + backward + AdamW step of a Var-backed random-weight
//! model in differentiable mode, f32, CPU, for the `tiny` and `100m` presets at batch shapes
//! 4×128 and 8×256.
//!
//! `cargo bench -p lmmr1-model --bench train_step`; `LMMR1_BENCH_PRESETS=tiny` and
//! `LMMR1_BENCH_SHAPES=4x128` restrict the cases. `tools/bench_train_vs_pytorch.py` runs the
//! same step in PyTorch on the same shapes and prints the ratio.

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lmmr1_model::model::Inputs;
use lmmr1_model::{AdamW, AdamWConfig, OpsMode, Qwen25VL};

fn trainable(cfg: &lmmr1_model::Config) -> (Qwen25VL, Vec<(String, Var)>) {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let mut model =
        Qwen25VL::new(cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev)).expect("model");
    model.mode = OpsMode::Differentiable;
    let vars: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .expect("varmap")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, v) in &vars {
        let dims = v.dims();
        let t = if name.ends_with("bias") {
            Tensor::zeros(dims, DType::F32, &dev)
        } else if dims.len() == 1 {
            Tensor::ones(dims, DType::F32, &dev)
        } else {
            let fan_in: usize = dims[1..].iter().product();
            let std = if name.contains("embed_tokens") {
                0.02
            } else {
                1.0 / (fan_in as f32).sqrt()
            };
            Tensor::randn(0f32, std, dims, &dev)
        };
        v.set(&t.expect("init")).expect("set");
    }
    (model, vars)
}

fn inputs(batch: usize, seq: usize) -> Inputs {
    let ids: Vec<u32> = (0..batch * seq).map(|i| (i * 7919 % 1000) as u32).collect();
    Inputs::text(batch, ids, vec![1; batch * seq]).expect("inputs")
}

fn bench(c: &mut Criterion) {
    lmmr1_model::init_threads();
    let presets = std::env::var("LMMR1_BENCH_PRESETS").unwrap_or_else(|_| "tiny,100m".into());
    let shapes = std::env::var("LMMR1_BENCH_SHAPES").unwrap_or_else(|_| "4x128,8x256".into());
    for preset in presets.split(',') {
        let cfg = lmmr1_model::config::preset(preset).expect("preset");
        let (model, vars) = trainable(&cfg);
        let mut opt = AdamW::new(vars, AdamWConfig::default()).expect("adamw");
        let mut g = c.benchmark_group(format!("train_step/{preset}"));
        g.sample_size(10);
        g.warm_up_time(std::time::Duration::from_millis(500));
        g.measurement_time(std::time::Duration::from_secs(if preset == "tiny" {
            3
        } else {
            20
        }));
        for shape in shapes.split(',') {
            let (b, t) = shape.split_once('x').expect("shape BxT");
            let (b, t): (usize, usize) = (b.parse().expect("B"), t.parse().expect("T"));
            let inp = inputs(b, t);
            g.throughput(Throughput::Elements((b * t) as u64));
            g.bench_function(format!("{b}x{t}"), |bench| {
                bench.iter(|| {
                    let loss = model
                        .token_logprobs(&inp)
                        .and_then(|lp| Ok(lp.mean_all()?.neg()?))
                        .expect("forward");
                    let grads = loss.backward().expect("backward");
                    drop(loss);
                    opt.step(&grads, 1e-5).expect("adamw");
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
