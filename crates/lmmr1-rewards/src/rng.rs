//! The one seeded generator of the project (SplitMix64): environments (Sokoban levels, football
//! noise), datasets, mixtures and generated problems are pure functions of a `u64` seed,
//! without a `rand` dependency whose streams could change between versions.

/// SplitMix64 (Steele, Lea and Flood 2014; Vigna's reference `splitmix64.c`):
/// `state += 0x9E3779B97F4A7C15`, then two xor-shift-multiply rounds and a final xor-shift.
///
/// The whole state is one `u64` ([`SplitMix64::state`]), so a position is saved by saving it.
///
/// ```
/// use lmmr1_rewards::rng::SplitMix64;
/// let mut a = SplitMix64::new(7);
/// let mut b = SplitMix64::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The internal state; `SplitMix64::new(g.state())` continues where `g` is.
    pub fn state(&self) -> u64 {
        self.state
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (Lemire's multiply-shift with rejection, no modulo bias);
    /// 0 when `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// A uniform integer in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo);
        if span == u64::MAX {
            return self.next_u64() as i64;
        }
        lo.wrapping_add(self.below(span + 1) as i64)
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform float in `[0, 1)` with 24 random bits.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// A uniform float in `[-1, 1)` (24 random bits).
    pub fn next_signed(&mut self) -> f32 {
        self.next_f32() * 2.0 - 1.0
    }

    /// `true` with probability `p` (24-bit draw; `p ≤ 0` never, `p ≥ 1` always).
    pub fn chance(&mut self, p: f32) -> bool {
        self.next_f32() < p
    }

    /// `true` with probability 1/2.
    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }

    /// An index drawn with probability `weights[i] / Σ weights`. The weights must be finite,
    /// non-negative and not all zero (callers validate); otherwise the last positive index or 0.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit_f64() * total;
        let mut last = 0;
        for (i, &w) in weights.iter().enumerate() {
            if w > 0.0 {
                if x < w {
                    return i;
                }
                x -= w;
                last = i;
            }
        }
        last
    }

    /// One element of `items` chosen uniformly (`None` when empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// A seed derived from a base seed and a stream number (one SplitMix64 step of their mix), so
/// that sub-streams (one per dataset, per epoch) are independent of each other.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    SplitMix64::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_splitmix64_outputs() {
        // Published outputs of Vigna's splitmix64.c for seeds 0 and 1234567.
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(g.next_u64(), 0x06C4_5D18_8009_454F);
        let mut g = SplitMix64::new(1_234_567);
        assert_eq!(g.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(g.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn state_resumes_the_stream() {
        let mut g = SplitMix64::new(99);
        g.next_u64();
        let mut h = SplitMix64::new(g.state());
        assert_eq!(g.next_u64(), h.next_u64());
    }

    #[test]
    fn below_and_range_stay_in_bounds_and_cover_them() {
        let mut g = SplitMix64::new(3);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            let v = g.range(-3, 3);
            assert!((-3..=3).contains(&v));
            seen[(v + 3) as usize] += 1;
        }
        // Each of 7 values expected 1000 times; 6 sigma ≈ 180.
        assert!(seen.iter().all(|&c| (820..=1180).contains(&c)), "{seen:?}");
        assert_eq!(g.below(0), 0);
        assert_eq!(g.range(5, 5), 5);
        assert_eq!(g.range(5, 1), 5);
        // The full i64 span must not overflow (any value is valid).
        let _ = g.range(i64::MIN, i64::MAX);
    }

    #[test]
    fn weighted_follows_the_weights_and_skips_zero_weights() {
        let mut g = SplitMix64::new(11);
        let w = [0.0, 3.0, 1.0, 0.0];
        let mut c = [0usize; 4];
        for _ in 0..8000 {
            c[g.weighted(&w)] += 1;
        }
        assert_eq!(c[0] + c[3], 0);
        // Expected 6000 / 2000; sigma ≈ 39.
        assert!((5760..=6240).contains(&c[1]), "{c:?}");
    }

    #[test]
    fn floats_stay_in_range() {
        let mut r = SplitMix64::new(7);
        for _ in 0..10_000 {
            assert!((0.0..1.0).contains(&r.next_f32()));
            assert!((-1.0..1.0).contains(&r.next_signed()));
            assert!((0.0..1.0).contains(&r.unit_f64()));
        }
        assert!(!r.chance(0.0) && r.chance(1.0));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut g = SplitMix64::new(5);
        let mut v: Vec<u32> = (0..100).collect();
        g.shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
