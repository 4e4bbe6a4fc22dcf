//! `math::verify` must return for any pair of strings: no panic, no hang, bounded memory.
//! The input is split at the first NUL byte into gold and prediction.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lmmr1_rewards::math;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (gold, pred) = text.split_once('\0').unwrap_or((&text, &text));
    let forward = math::verify(gold, pred);
    let _ = math::verify(pred, gold);
    let _ = math::extract(pred);
    // Determinism: the same call gives the same verdict.
    assert_eq!(forward, math::verify(gold, pred));
});
