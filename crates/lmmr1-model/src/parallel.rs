//! When the native kernels split their work across rayon's threads, and [`on_pool`], which
//! runs a whole loop on one of rayon's workers.

use crate::kernels::KernelSettings;

/// Multiply-adds from which a kernel splits its work across rayon's threads: below it, handing
/// the work to the pool (a futex wake-up and wait per call) costs more than it saves (decoding
/// the tiny preset at batch 64: 93 → 111 thousand tok/s, medians of 3 in one A/B run).
pub(crate) const PAR_MIN_MULS: usize = 1 << 18;
/// Elements from which an elementwise kernel splits its work across rayon's threads.
pub(crate) const PAR_MIN_ELEMS: usize = 1 << 15;

/// Whether `work` reaches `min` and there is more than one thread to share it.
pub(crate) fn worth_threads(work: usize, min: usize) -> bool {
    work >= min && rayon::current_num_threads() > 1
}

/// Rows per parallel task of the row kernels.
pub(crate) fn row_block(rows: usize) -> usize {
    rows.div_ceil(4 * rayon::current_num_threads()).max(1)
}

/// Runs `f` on one of rayon's worker threads and waits for it. A training or generation loop
/// run this way does its serial work on a pool thread, so with `RAYON_NUM_THREADS` equal to
/// the cores no third thread competes with the workers (their idle spinning yields to it):
/// measured on 2 cores, decoding the tiny preset at batch 64 went from 111 to 152 thousand
/// tok/s, and a tiny 8×256 training step from a median of 34 to 29 ms.
/// [`crate::generate::generate`] uses it itself; nested calls run `f` directly. The caller's
/// [`KernelSettings`] go with `f`.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let settings = KernelSettings::current();
    rayon::scope(|_| settings.scope(f))
}
