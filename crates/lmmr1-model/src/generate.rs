//! Batched generation with a KV cache: left-padded prompts, greedy or temperature / top-k /
//! top-p sampling with a seed, stop tokens and a token budget. Returns the new tokens and their
//! log-probabilities.
//!
//! The log-probabilities are those of the **unmodified model distribution**
//! (`log_softmax(logits)`, before temperature, top-k and top-p), the quantity an RL objective
//! compares with the trained policy's; the sampling itself uses the processed distribution.

use candle_core::{DType, Device};

use crate::error::{input_err, Result};
use crate::kv_cache::KvCache;
use crate::model::{Inputs, Qwen25VL};
pub use crate::rng::Rng;

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

/// Generated continuations.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// New tokens per row (a stop token, if hit, is the last one).
    pub tokens: Vec<Vec<u32>>,
    /// `log p(token)` under the unmodified model distribution, aligned with `tokens`.
    pub logprobs: Vec<Vec<f32>>,
    /// Whether each row ended on a stop token (else on the budget).
    pub stopped: Vec<bool>,
}

/// `log_softmax(row)[tok]`.
fn logprob(row: &[f32], tok: usize) -> f32 {
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
/// alone sorts it.
fn sample_row_at(logits: &[f32], p: &SamplingParams, u: f64) -> u32 {
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
    let mut acc = 0.0;
    for (i, &q) in probs.iter().enumerate() {
        acc += q;
        if u < acc {
            return cand[i].0;
        }
    }
    cand[probs.len() - 1].0
}

/// Generates continuations of a (left-padded) batch.
///
/// The loop runs on one of rayon's worker threads ([`crate::on_pool`]).
pub fn generate(model: &Qwen25VL, inputs: &Inputs, p: &SamplingParams) -> Result<Generation> {
    crate::on_pool(|| generate_on_this_thread(model, inputs, p))
}

fn generate_on_this_thread(
    model: &Qwen25VL,
    inputs: &Inputs,
    p: &SamplingParams,
) -> Result<Generation> {
    if !(p.top_p > 0.0 && p.top_p <= 1.0) || p.temperature.is_nan() {
        return input_err(format!("top_p must be in (0, 1], got {}", p.top_p));
    }
    let b = inputs.batch;
    let mut gen = Generation {
        tokens: vec![Vec::new(); b],
        logprobs: vec![Vec::new(); b],
        stopped: vec![false; b],
    };
    if p.max_new_tokens == 0 {
        return Ok(gen);
    }
    let mut rng = Rng::new(p.seed);
    let mut cache = KvCache::with_limit(model.text.num_layers(), inputs.seq_len + p.max_new_tokens);
    let (mut logits, deltas) = model.prefill(inputs, &mut cache)?;
    let mut mask: Vec<Vec<u32>> = inputs
        .attention_mask
        .chunks(inputs.seq_len)
        .map(|r| r.to_vec())
        .collect();
    for step in 0..p.max_new_tokens {
        let logits_f32 = logits
            .to_dtype(DType::F32)?
            .to_device(&Device::Cpu)?
            .contiguous()?;
        let vocab = logits_f32.dim(1)?;
        // One uniform draw per active row, in row order (the seed fixes the tokens); the rows
        // are then sampled in parallel.
        let draws: Vec<Option<f64>> = gen
            .stopped
            .iter()
            .map(|&stopped| {
                (!stopped).then(|| {
                    if p.temperature > 0.0 {
                        rng.uniform()
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        // The rows are read where the logits are (no copy into per-row vectors).
        let picked: Vec<Option<(u32, f32)>> =
            crate::kernels::with_f32(&logits_f32, "logits", |lr| {
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
                    lr.chunks(vocab.max(1)).zip(&draws).map(pick).collect()
                }
            })?;
        let mut next = Vec::with_capacity(b);
        for (r, pick) in picked.into_iter().enumerate() {
            let Some((tok, lp)) = pick else {
                next.push(p.pad_token);
                continue;
            };
            gen.tokens[r].push(tok);
            gen.logprobs[r].push(lp);
            if p.stop_tokens.contains(&tok) {
                gen.stopped[r] = true;
            }
            next.push(tok);
        }
        if gen.stopped.iter().all(|&s| s) || step + 1 == p.max_new_tokens {
            break;
        }
        for m in &mut mask {
            m.push(1);
        }
        let flat: Vec<u32> = mask.iter().flatten().copied().collect();
        logits = model.decode_step(&next, &flat, &deltas, &mut cache)?;
    }
    Ok(gen)
}
