//! `lmm_r1::math_reward` must return a well-formed score for any response and label.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lmmr1_rewards::lmm_r1;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (response, gold) = text.split_once('\0').unwrap_or((&text, "42"));
    let s = lmm_r1::math_reward(response, gold);
    assert!(s.format == 0.0 || s.format == 0.5);
    assert!(s.accuracy == 0.0 || s.accuracy == 1.0);
    assert_eq!(s.total, s.format + s.accuracy);
});
