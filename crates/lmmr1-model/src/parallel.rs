//! When the native kernels split their work across rayon's threads.

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
