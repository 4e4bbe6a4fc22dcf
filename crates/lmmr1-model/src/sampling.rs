//! Choosing the next token of every row from its logits, in one of two implementations that
//! draw the same tokens from the same uniform numbers (up to float rounding at a boundary
//! between two tokens' cumulative masses):
//!
//! * [`sample_row`] and [`HostSampler`]: on the host, over a CPU row of f32 logits (the native
//!   path; rows sampled in parallel);
//! * [`DeviceSampler`]: device ops on the logits where they are (the portable path, which CUDA
//!   runs), so that only the chosen ids and their log-probabilities cross to the host: no
//!   `batch × vocabulary` copy per token.
//!
//! Both do greedy decoding (the first maximum), temperature, top-k, top-p (the smallest set of
//! most likely tokens whose mass reaches `top_p`, after top-k) and suppressed tokens, and return
//! the log-probability of the chosen token under the **unmodified** model distribution
//! (`log_softmax(logits)`), the quantity an RL objective compares with the trained policy's.
//! Sampling is inverse-CDF with one uniform number per row from the caller's seeded
//! [`Rng`], so a seed reproduces the tokens on every device.

use candle_core::{DType, Device, Tensor, D};

use crate::error::Result;
use crate::rng::Rng;

/// Sampling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy (argmax).
    pub temperature: f64,
    /// Nucleus mass in (0, 1]; 1 disables.
    pub top_p: f64,
    /// Keep the `top_k` most likely tokens; 0 disables.
    pub top_k: usize,
    /// RNG seed (the same seed, inputs and settings give the same tokens).
    pub seed: u64,
    /// Upper bound on new tokens per row.
    pub max_new_tokens: usize,
    /// A row stops after emitting one of these (it is included in the output).
    pub stop_tokens: Vec<u32>,
    /// Fed to rows that have stopped while others continue.
    pub pad_token: u32,
    /// Tokens never sampled (transformers' `suppress_tokens`), e.g. `<|image_pad|>`, which a
    /// response must not contain because it would need an image.
    pub suppress_tokens: Vec<u32>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            seed: 0,
            max_new_tokens: 16,
            stop_tokens: Vec::new(),
            pad_token: 0,
            suppress_tokens: Vec::new(),
        }
    }
}

/// `log_softmax(row)[tok]`.
pub(crate) fn logprob(row: &[f32], tok: usize) -> f32 {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let z: f32 = row.iter().map(|&v| (v - m).exp()).sum();
    row[tok] - m - z.ln()
}

/// Picks a token from one row of logits (never one of `p.suppress_tokens`); draws one uniform
/// number from `rng` unless decoding is greedy.
pub fn sample_row(logits: &[f32], p: &SamplingParams, rng: &mut Rng) -> u32 {
    let u = if p.temperature > 0.0 {
        rng.uniform()
    } else {
        0.0
    };
    sample_row_at(logits, p, u)
}

/// [`sample_row`] with its uniform draw `u` in [0, 1) given.
///
/// Plain sampling (`top_k` 0, `top_p` 1, LMM-R1's rollout setting) walks the vocabulary once
/// in index order; `top_k` selects its candidates without sorting the vocabulary; only `top_p`
/// alone sorts it. The draw walks the kept tokens in index order, as [`DeviceSampler`] does.
pub(crate) fn sample_row_at(logits: &[f32], p: &SamplingParams, u: f64) -> u32 {
    let suppressed;
    let logits = if p.suppress_tokens.is_empty() {
        logits
    } else {
        let mut l = logits.to_vec();
        for &t in &p.suppress_tokens {
            if let Some(v) = l.get_mut(t as usize) {
                *v = f32::NEG_INFINITY;
            }
        }
        suppressed = l;
        &suppressed[..]
    };
    let argmax = || {
        let mut best = 0;
        for (i, &v) in logits.iter().enumerate() {
            if v > logits[best] {
                best = i;
            }
        }
        best as u32
    };
    if p.temperature <= 0.0 {
        return argmax();
    }
    let t = p.temperature as f32;
    if p.top_k == 0 && p.top_p >= 1.0 {
        let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if !m.is_finite() {
            return argmax();
        }
        let weight = |v: f32| (((v - m) / t) as f64).exp();
        let target = u * logits.iter().map(|&v| weight(v)).sum::<f64>();
        let (mut acc, mut last) = (0.0, 0);
        for (i, &v) in logits.iter().enumerate() {
            let q = weight(v);
            if q > 0.0 {
                acc += q;
                last = i;
                if target < acc {
                    return i as u32;
                }
            }
        }
        return last as u32;
    }
    let mut cand: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as u32, v / t))
        .collect();
    let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if p.top_k > 0 && p.top_k < cand.len() {
        cand.select_nth_unstable_by(p.top_k - 1, order);
        cand.truncate(p.top_k);
    }
    cand.sort_by(order);
    let m = cand[0].1;
    let mut probs: Vec<f64> = cand.iter().map(|c| ((c.1 - m) as f64).exp()).collect();
    let z: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|v| *v /= z);
    if p.top_p < 1.0 {
        // Smallest prefix whose mass reaches top_p (at least one token).
        let mut acc = 0.0;
        let mut keep = probs.len();
        for (i, &q) in probs.iter().enumerate() {
            acc += q;
            if acc >= p.top_p {
                keep = i + 1;
                break;
            }
        }
        probs.truncate(keep);
        let z: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|v| *v /= z);
    }
    // The draw walks the kept tokens in vocabulary order, as the plain path and the device
    // sampler do, so that a uniform number picks the same token on both.
    let mut kept: Vec<(u32, f64)> = cand.iter().map(|c| c.0).zip(probs).collect();
    kept.sort_unstable_by_key(|k| k.0);
    let mut acc = 0.0;
    for &(tok, q) in &kept {
        acc += q;
        if u < acc {
            return tok;
        }
    }
    kept.iter()
        .rev()
        .find(|k| k.1 > 0.0)
        .map_or(kept[0].0, |k| k.0)
}

/// The host sampler over a batch: rows of a CPU f32 logits tensor, read in place.
#[derive(Debug, Clone)]
pub struct HostSampler {
    params: SamplingParams,
}

impl HostSampler {
    /// A sampler for these settings.
    pub fn new(params: &SamplingParams) -> Self {
        Self {
            params: params.clone(),
        }
    }

    /// For each row of `logits` `(B, V)` whose draw is `Some(u)`: the token and its
    /// log-probability (rows in parallel when the batch is large enough).
    pub fn sample(
        &self,
        logits: &Tensor,
        draws: &[Option<f64>],
    ) -> Result<Vec<Option<(u32, f32)>>> {
        let logits = logits
            .to_dtype(DType::F32)?
            .to_device(&Device::Cpu)?
            .contiguous()?;
        let vocab = logits.dim(1)?;
        let p = &self.params;
        Ok(crate::kernels::with_f32(&logits, "logits", |lr| {
            use rayon::prelude::*;
            let pick = |(row, u): (&[f32], &Option<f64>)| {
                u.map(|u| {
                    let tok = sample_row_at(row, p, u);
                    (tok, logprob(row, tok as usize))
                })
            };
            if crate::parallel::worth_threads(lr.len(), crate::parallel::PAR_MIN_MULS) {
                lr.par_chunks(vocab.max(1))
                    .zip(draws.par_iter())
                    .map(pick)
                    .collect()
            } else {
                lr.chunks(vocab.max(1)).zip(draws).map(pick).collect()
            }
        })?)
    }
}

/// Vocabulary entries per block of the device sampler's two-level inverse CDF.
const BLOCK: usize = 256;
/// Bisection steps of the top-k and top-p thresholds: enough to reach adjacent f32 values
/// from any finite range of logits.
const BISECTION_STEPS: usize = 64;

/// The device sampler: the same choices as the host sampler with tensor ops on the logits'
/// device.
///
/// * Temperature: `z = (logits + bias) / T`, weights `w = exp(z − max z)`; suppressed tokens
///   have a bias of `−∞`, so `w = 0`.
/// * Top-k: `w = 0` below the k-th largest `z`, found by bisection on a threshold `τ` with
///   `count(z ≥ τ) ≥ k` (ties at the k-th value are all kept, where the host keeps the lowest
///   ids).
/// * Top-p: likewise the largest `τ` with `Σ_{z ≥ τ} w / Σ w ≥ top_p`.
/// * The draw: `target = u · Σ w`; the token is the first whose inclusive cumulative weight
///   exceeds `target`, found in two levels (blocks of [`BLOCK`] entries, then within the
///   block) with prefix sums by doubling (no `V × V` matrix, exact f32 adds, TF32-safe).
#[derive(Debug, Clone)]
pub struct DeviceSampler {
    temperature: f64,
    top_p: f64,
    top_k: usize,
    /// `(1, V)`: `−∞` at suppressed ids, 0 elsewhere (f32); `None` without suppression.
    bias: Option<Tensor>,
}

impl DeviceSampler {
    /// A sampler for these settings over a vocabulary of `vocab` on `device`.
    pub fn new(params: &SamplingParams, vocab: usize, device: &Device) -> Result<Self> {
        let bias = if params.suppress_tokens.is_empty() {
            None
        } else {
            let mut b = vec![0f32; vocab];
            for &t in &params.suppress_tokens {
                if let Some(v) = b.get_mut(t as usize) {
                    *v = f32::NEG_INFINITY;
                }
            }
            Some(Tensor::from_vec(b, (1, vocab), device)?)
        };
        Ok(Self {
            temperature: params.temperature,
            top_p: params.top_p,
            top_k: params.top_k,
            bias,
        })
    }

    /// For each row of `logits` `(B, V)` (any float dtype, on its device) whose draw is
    /// `Some(u)`: the token and its log-probability under `log_softmax(logits)`. Only `B`
    /// uniform numbers go to the device and `B` ids and log-probabilities come back.
    pub fn sample(
        &self,
        logits: &Tensor,
        draws: &[Option<f64>],
    ) -> Result<Vec<Option<(u32, f32)>>> {
        let (b, v) = logits.dims2()?;
        let dev = logits.device();
        let x = logits.to_dtype(DType::F32)?;
        let max = x.max_keepdim(1)?;
        let lse = (x.broadcast_sub(&max)?.exp()?.sum_keepdim(1)?.log()? + max)?;
        let y = match &self.bias {
            Some(bias) => x.broadcast_add(bias)?,
            None => x.clone(),
        };
        let ids = if self.temperature <= 0.0 {
            y.argmax_keepdim(1)?
        } else {
            let u: Vec<f32> = draws.iter().map(|d| d.unwrap_or(0.0) as f32).collect();
            let u = Tensor::from_vec(u, (b, 1), dev)?;
            self.draw(&y, &u, v)?
        };
        let lp = x.gather(&ids, 1)?.sub(&lse)?;
        let ids = ids.flatten_all()?.to_vec1::<u32>()?;
        let lp = lp.flatten_all()?.to_vec1::<f32>()?;
        Ok(draws
            .iter()
            .zip(ids.into_iter().zip(lp))
            .map(|(d, pick)| d.map(|_| pick))
            .collect())
    }

    /// Token ids `(B, 1)` u32 drawn from the tempered, filtered logits `y` `(B, V)` f32.
    fn draw(&self, y: &Tensor, u: &Tensor, v: usize) -> Result<Tensor> {
        let z = (y / self.temperature)?;
        let zmax = z.max_keepdim(1)?;
        let mut w = z.broadcast_sub(&zmax)?.exp()?;
        let zero = w.zeros_like()?;
        if self.top_k > 0 && self.top_k < v {
            let k = self.top_k as f64;
            let tau = bisect(&z, &zmax, |keep| {
                Ok(keep.to_dtype(DType::F32)?.sum_keepdim(1)?.ge(k)?)
            })?;
            w = z.broadcast_ge(&tau)?.where_cond(&w, &zero)?;
        }
        if self.top_p < 1.0 {
            let q = w.broadcast_div(&w.sum_keepdim(1)?)?;
            let p = self.top_p;
            let tau = bisect(&z, &zmax, |keep| {
                Ok(keep.where_cond(&q, &zero)?.sum_keepdim(1)?.ge(p)?)
            })?;
            w = z.broadcast_ge(&tau)?.where_cond(&w, &zero)?;
        }
        inverse_cdf(&w, u)
    }
}

/// The largest threshold `τ` (per row, `(B, 1)`) for which `ok(z ≥ τ)` holds, by bisection
/// between the smallest finite `z` (where it must hold) and just above the row maximum `zmax`
/// (where it must not). `ok` maps the `(B, V)` mask to a `(B, 1)` verdict.
fn bisect(z: &Tensor, zmax: &Tensor, ok: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    let finite = z.ge(-1e30)?;
    let big = z.ones_like()?.affine(0.0, 3e38)?;
    let mut lo = finite.where_cond(z, &big)?.min_keepdim(1)?;
    let mut hi = (zmax + 1.0)?;
    for _ in 0..BISECTION_STEPS {
        let mid = ((&lo + &hi)? * 0.5)?;
        let yes = ok(&z.broadcast_ge(&mid)?)?;
        lo = yes.where_cond(&mid, &lo)?;
        hi = yes.where_cond(&hi, &mid)?;
    }
    Ok(lo)
}

/// Inclusive prefix sums over the last dimension by doubling: `⌈log₂ n⌉` shifted adds.
fn prefix_sum(x: &Tensor) -> Result<Tensor> {
    let n = x.dim(D::Minus1)?;
    let mut x = x.clone();
    let mut shift = 1;
    while shift < n {
        let lead = x.narrow(D::Minus1, 0, n - shift)?;
        let pad = x.narrow(D::Minus1, 0, shift)?.zeros_like()?;
        x = (&x + Tensor::cat(&[&pad, &lead], D::Minus1)?)?;
        shift *= 2;
    }
    Ok(x)
}

/// Per row of non-negative weights `w` `(B, V)`: the first index whose inclusive cumulative
/// weight exceeds `u·Σw` (never past the last positive weight), as `(B, 1)` u32.
fn inverse_cdf(w: &Tensor, u: &Tensor) -> Result<Tensor> {
    let (b, v) = w.dims2()?;
    let nb = v.div_ceil(BLOCK);
    let w = if nb * BLOCK > v {
        Tensor::cat(
            &[
                w,
                &Tensor::zeros((b, nb * BLOCK - v), DType::F32, w.device())?,
            ],
            1,
        )?
    } else {
        w.clone()
    };
    let blocks = w.reshape((b, nb, BLOCK))?;
    let sums = blocks.sum(2)?;
    let cum = prefix_sum(&sums)?;
    let total = cum.narrow(1, nb - 1, 1)?;
    let target = (u * &total)?;
    let block = first_above(&cum, &sums, &target)?;
    let prev = (&cum - &sums)?.gather(&block, 1)?;
    let ids = block
        .unsqueeze(2)?
        .broadcast_as((b, 1, BLOCK))?
        .contiguous()?;
    let row = blocks.gather(&ids, 1)?.squeeze(1)?;
    let offset = first_above(&prefix_sum(&row)?, &row, &(target - prev)?)?;
    let id = ((block.to_dtype(DType::F32)? * BLOCK as f64)? + offset.to_dtype(DType::F32)?)?;
    Ok(id.to_dtype(DType::U32)?)
}

/// The number of entries of `cum` `(B, n)` (inclusive cumulative weights of `w`) at or below
/// `target` `(B, 1)`, capped at the index of the last positive weight: `(B, 1)` u32.
fn first_above(cum: &Tensor, w: &Tensor, target: &Tensor) -> Result<Tensor> {
    let n = cum.dim(1)?;
    let below = cum
        .broadcast_le(target)?
        .to_dtype(DType::F32)?
        .sum_keepdim(1)?;
    let idx = Tensor::arange(0f32, n as f32, cum.device())?.unsqueeze(0)?;
    let positive = w.gt(0.0)?.to_dtype(DType::F32)?;
    let last = positive.broadcast_mul(&idx)?.max_keepdim(1)?;
    Ok(below.minimum(&last)?.to_dtype(DType::U32)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The doubling prefix sum equals a running sum at every width (powers of two and not).
    #[test]
    fn prefix_sums_by_doubling_equal_running_sums() {
        for n in [1usize, 2, 3, 5, 64, 125, 256, 300, 594] {
            let v: Vec<f32> = (0..2 * n).map(|i| ((i * 37) % 11) as f32).collect();
            let x = Tensor::from_vec(v.clone(), (2, n), &Device::Cpu).unwrap();
            let got = prefix_sum(&x).unwrap().to_vec2::<f32>().unwrap();
            for (r, row) in v.chunks(n).enumerate() {
                let mut acc = 0f32;
                for (j, &x) in row.iter().enumerate() {
                    acc += x;
                    assert_eq!(got[r][j], acc, "n {n} row {r} col {j}");
                }
            }
        }
    }

    /// The device sampler on vocabularies of one, several and many blocks (Qwen2.5-VL's
    /// 151,936 among them) picks a token with weight, the greedy one when greedy.
    #[test]
    fn device_sampler_handles_any_vocabulary_size() {
        for v in [7usize, 256, 300, 1000, 32_000, 151_936] {
            let mut rng = Rng::new(v as u64);
            let logits: Vec<f32> = (0..2 * v).map(|_| (rng.uniform() * 8.0) as f32).collect();
            let t = Tensor::from_vec(logits.clone(), (2, v), &Device::Cpu).unwrap();
            let p = SamplingParams {
                temperature: 1.0,
                suppress_tokens: vec![0],
                ..SamplingParams::default()
            };
            let picks = DeviceSampler::new(&p, v, &Device::Cpu)
                .unwrap()
                .sample(&t, &[Some(0.3), Some(0.999)])
                .unwrap();
            for pick in picks {
                let (tok, lp) = pick.unwrap();
                assert!(
                    tok > 0 && (tok as usize) < v && lp < 0.0,
                    "v {v}: {tok} {lp}"
                );
            }
            let greedy = DeviceSampler::new(&SamplingParams::default(), v, &Device::Cpu)
                .unwrap()
                .sample(&t, &[Some(0.0), Some(0.0)])
                .unwrap();
            for (r, pick) in greedy.into_iter().enumerate() {
                let row = &logits[r * v..(r + 1) * v];
                let best = (0..v).fold(0, |b, i| if row[i] > row[b] { i } else { b });
                assert_eq!(pick.unwrap().0 as usize, best, "v {v} row {r}");
            }
        }
    }
}
