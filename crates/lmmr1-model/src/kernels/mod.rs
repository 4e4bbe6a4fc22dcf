//! The model's kernels, one op per file, each in two implementations:
//!
//! * **native**: hand-written CPU kernels for f32 (candle 0.11.1 custom ops with an analytic
//!   backward, each one autograd node, its loops compiled for the CPU's widest SIMD through
//!   `pulp`). candle's backward allocates a zero tensor and adds into it for every node of the
//!   graph, views included, and computes the gradients of constants too; these nodes collapse
//!   the big per-token pieces into single nodes whose backward computes only what is needed;
//! * **portable**: compositions of candle tensor ops that run on any candle device. This is the
//!   path CUDA (and every dtype but f32) runs, and the reference the native kernels are tested
//!   against.
//!
//! The files: [`linear`] (`y = x·wᵀ + b`), [`logprobs`] (token log-probabilities and entropy,
//! with the LM head inside, in chunks of rows), [`rms_norm`], [`softmax`] (scale + additive
//! mask + softmax of attention scores), [`attention`] (flash-attention-style node, also serving
//! inference on a KV cache), [`swiglu`], [`rope`] (rotate-half RoPE), [`simd`] (the vectorised
//! helpers they share), [`layout`] (the CUDA GEMM layout rule and the matmul that checks it) and
//! [`custom_grad`] (a device-generic value with a hand-written backward).
//!
//! # Choosing the path
//!
//! A CPU f32 tensor takes the native kernels unless the **portable** path is forced:
//! `LMMR1_KERNELS=portable` in the environment (or [`KernelSettings::scope`] in code) makes the
//! CPU run exactly what CUDA runs, so that path is exercised and tested on machines without a
//! GPU. `LMMR1_CHECK_GPU_LAYOUT=1` adds a check of every matmul of that path against the
//! operand layouts candle's CUDA GEMM accepts ([`layout`]), an error naming the op and the
//! strides instead of a silent success on CPU.

pub mod attention;
pub mod custom_grad;
pub mod layout;
pub mod linear;
pub mod logprobs;
pub mod rms_norm;
pub mod rope;
pub mod simd;
pub mod softmax;
pub mod swiglu;

#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::sync::OnceLock;

use candle_core::{CpuStorage, DType, Device, Layout, Storage, Tensor};

pub use attention::{attention, attention_cached, attention_no_grad};
pub use layout::matmul;
pub use linear::linear;
pub use logprobs::{head_token_logprobs, token_logprobs, token_logprobs_entropy};
pub use rms_norm::rms_norm;
pub use rope::{rope, rotate_half};
pub use softmax::masked_softmax;
pub use swiglu::swiglu;

/// Which kernels run and whether the GPU layout rule is checked (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelSettings {
    /// Only the device-generic compositions, also on CPU (`LMMR1_KERNELS=portable`).
    pub portable: bool,
    /// Every matmul of the device-generic path is checked against candle's CUDA GEMM layout
    /// rule (`LMMR1_CHECK_GPU_LAYOUT=1`).
    pub check_gpu_layout: bool,
}

thread_local! {
    static SCOPED: Cell<Option<KernelSettings>> = const { Cell::new(None) };
}

impl KernelSettings {
    /// The settings named by `LMMR1_KERNELS` (`native`, the default, or `portable`) and
    /// `LMMR1_CHECK_GPU_LAYOUT` (`0`, the default, or `1`); an unknown value is an error that
    /// names the variable.
    pub fn from_env() -> crate::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let portable = match var("LMMR1_KERNELS").as_deref() {
            None | Some("native") => false,
            Some("portable") => true,
            Some(v) => {
                return Err(crate::Error::Input(format!(
                    "LMMR1_KERNELS={v:?}: expected \"native\" or \"portable\""
                )))
            }
        };
        let check_gpu_layout = match var("LMMR1_CHECK_GPU_LAYOUT").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(v) => {
                return Err(crate::Error::Input(format!(
                    "LMMR1_CHECK_GPU_LAYOUT={v:?}: expected 0 or 1"
                )))
            }
        };
        Ok(Self {
            portable,
            check_gpu_layout,
        })
    }

    /// The settings in force on this thread: those of an enclosing [`KernelSettings::scope`],
    /// else the environment's (read once; an invalid value counts as unset, and
    /// [`KernelSettings::from_env`] reports it).
    pub fn current() -> Self {
        static ENV: OnceLock<KernelSettings> = OnceLock::new();
        SCOPED
            .with(Cell::get)
            .unwrap_or_else(|| *ENV.get_or_init(|| Self::from_env().unwrap_or_default()))
    }

    /// Runs `f` with these settings on this thread (restored afterwards, also on panic).
    /// [`crate::on_pool`] carries them to the worker it runs on.
    pub fn scope<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<KernelSettings>);
        impl Drop for Restore {
            fn drop(&mut self) {
                SCOPED.with(|s| s.set(self.0));
            }
        }
        let _restore = Restore(SCOPED.with(|s| s.replace(Some(self))));
        f()
    }
}

/// Whether the native CPU kernels serve tensors on `device` (a CPU, portable path not forced).
pub fn native(device: &Device) -> bool {
    device.is_cpu() && !KernelSettings::current().portable
}

/// Whether the native f32 kernels apply to all of these tensors.
pub(crate) fn native_f32(ts: &[&Tensor]) -> bool {
    !KernelSettings::current().portable
        && ts
            .iter()
            .all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}

pub(crate) fn cpu_err(what: &str) -> candle_core::Error {
    candle_core::Error::Msg(format!("{what}: expected a contiguous f32 CPU tensor"))
}

/// The f32 data of a contiguous CPU tensor, passed to `f`.
pub(crate) fn with_f32<R>(
    t: &Tensor,
    what: &str,
    f: impl FnOnce(&[f32]) -> R,
) -> candle_core::Result<R> {
    let (s, l) = t.storage_and_layout();
    match (&*s, l.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) => Ok(f(&v[a..b])),
        _ => Err(cpu_err(what)),
    }
}

/// The f32 data of a contiguous CPU storage.
pub(crate) fn f32_slice<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    what: &str,
) -> candle_core::Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => Err(cpu_err(what)),
    }
}

pub(crate) fn poisoned(what: &str) -> candle_core::Error {
    candle_core::Error::Msg(format!("{what}: poisoned"))
}

/// Whether `dtype` is a half type (bf16, f16): mixed precision keeps f32 masters for it.
pub fn is_half(dtype: DType) -> bool {
    matches!(dtype, DType::BF16 | DType::F16)
}

/// The dtype the compositions compute reductions in: f64 stays f64 (gradient checks), the
/// rest (f32, bf16, f16) uses f32.
pub fn work_dtype(dtype: DType) -> DType {
    if dtype == DType::F64 {
        DType::F64
    } else {
        DType::F32
    }
}
