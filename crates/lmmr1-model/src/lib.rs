//! # lmmr1-model
//!
//! Qwen2.5-VL (the LMM-R1 policy) written directly on `candle-core` / `candle-nn`, loading real
//! Hugging Face checkpoint directories as they are and matching transformers' logits.
//!
//! One file per part:
//! * [`config`]: `config.json` in the flat hub layout and in transformers 5's nested layout;
//! * [`weights`]: single and sharded safetensors, key-prefix normalisation, tied embeddings,
//!   missing/extra/shape checks;
//! * [`kernels`]: the ops with a native CPU implementation (one autograd node each) and a
//!   device-generic one (the portable path CUDA runs), and the switch between them;
//! * [`ops`]: the forward's ops by [`ops::OpsMode`] (fused inference kernels or differentiable),
//!   and the linear layers;
//! * [`rope`]: M-RoPE tables and `get_rope_index`;
//! * [`vision`]: the vision tower (patch embed, 2-D RoPE, window attention, merger);
//! * [`text`]: the Qwen2 decoder; [`kv_cache`]: its cache for generation;
//! * [`model`]: the whole model (image embeddings merged into `<|image_pad|>` positions);
//! * [`processor`]: the image processor (`smart_resize`, PIL-style bicubic, normalisation, patch order);
//! * [`generate`]: batched, left-padded generation with a KV cache; [`sampling`]: choosing tokens;
//! * [`tokenizer`]: `tokenizer.json` through the `tokenizers` crate and the Qwen2.5-VL chat template;
//! * training: [`policy`] (the trainable policy), [`critic`] (the value model), [`optim`] (AdamW,
//!   clipping, schedules), [`checkpoint`], [`memory`] (the memory planner); [`matmul`] (packed
//!   CPU weights), [`parallel`] (when kernels use threads),
//!   [`rng`].
//!
//! The inference path uses candle's fused kernels ([`ops::OpsMode::Fused`]); a training forward
//! must switch the model to [`ops::OpsMode::Differentiable`] (same values, gradients kept).

pub mod checkpoint;
pub mod config;
pub mod critic;
pub mod error;
pub mod generate;
pub mod kernels;
pub mod kv_cache;
pub mod matmul;
pub mod memory;
pub mod model;
pub mod ops;
pub mod optim;
pub mod parallel;
pub mod policy;
pub mod processor;
pub mod rng;
pub mod rope;
pub mod sampling;
pub mod text;
pub mod tokenizer;
pub mod vision;
pub mod weights;

pub use checkpoint::{
    load_latest_checkpoint, save_checkpoint, save_hf, FoundCheckpoint, LoadedCheckpoint,
    SkippedCheckpoint,
};
pub use config::{Config, VisionConfig};
pub use critic::ValueModel;
pub use error::{Error, Result};
pub use model::Qwen25VL;
pub use ops::OpsMode;
pub use optim::{AdamW, AdamWConfig, LrSchedule, ScheduleKind};
pub use policy::{sft_loss, LogProbs, Policy, PolicyOptions};

/// Device by name: `cpu`, `cuda` or `cuda:N` (the latter need the `cuda` feature; without it
/// candle returns an error, not a panic).
pub fn device(name: &str) -> Result<candle_core::Device> {
    match name {
        "cpu" => Ok(candle_core::Device::Cpu),
        "cuda" => Ok(candle_core::Device::new_cuda(0)?),
        s => match s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(i) => Ok(candle_core::Device::new_cuda(i)?),
            None => Err(Error::Input(format!(
                "unknown device {s:?} (cpu, cuda, cuda:N)"
            ))),
        },
    }
}

/// DType by name: `f32`, `bf16`, `f16`.
pub fn dtype(name: &str) -> Result<candle_core::DType> {
    match name {
        "f32" => Ok(candle_core::DType::F32),
        "bf16" => Ok(candle_core::DType::BF16),
        "f16" => Ok(candle_core::DType::F16),
        s => Err(Error::Input(format!(
            "unknown dtype {s:?} (f32, bf16, f16)"
        ))),
    }
}

/// TF32 tensor cores for f32 matmuls on CUDA (candle's `set_gemm_reduced_precision_f32`): the
/// products take 10-bit mantissas and accumulate in f32, several times the f32 throughput of an
/// Ampere or newer GPU, at about 1e-3 relative error per product. Process-wide; a no-op without
/// the `cuda` feature and for other dtypes.
pub fn set_tf32(enabled: bool) {
    candle_core::cuda::set_gemm_reduced_precision_f32(enabled);
}

/// Pins `RAYON_NUM_THREADS` (if unset) to the available parallelism and returns the thread count.
///
/// Without it, candle 0.11.1 looks up the physical core count on **every matmul** by reading
/// `/proc/cpuinfo`, which made tiny-model decoding 2.5× slower. Call it at the start of `main`,
/// before other threads start: it modifies the process environment.
pub fn init_threads() -> usize {
    if let Some(n) = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n;
    }
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    n
}

/// Runs `f` on one of rayon's worker threads and waits for it. A training or generation loop
/// run this way does its serial work on a pool thread, so with `RAYON_NUM_THREADS` equal to
/// the cores no third thread competes with the workers (their idle spinning yields to it):
/// measured on 2 cores, decoding the tiny preset at batch 64 went from 111 to 152 thousand
/// tok/s, and a tiny 8×256 training step from a median of 34 to 29 ms.
/// [`crate::generate::generate`] uses it itself; nested calls run `f` directly. The caller's
/// [`kernels::KernelSettings`] go with `f`.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let settings = kernels::KernelSettings::current();
    rayon::scope(|_| settings.scope(f))
}
