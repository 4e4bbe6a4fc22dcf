//! Batched generation with a KV cache: left-padded prompts, greedy or temperature / top-k /
//! top-p sampling with a seed, stop tokens and a token budget. Returns the new tokens and their
//! log-probabilities.
//!
//! The log-probabilities are those of the **unmodified model distribution**
//! (`log_softmax(logits)`, before temperature, top-k and top-p), the quantity an RL objective
//! compares with the trained policy's; the sampling itself uses the processed distribution.

use candle_core::{DType, Device, Tensor};

use crate::error::{input_err, Result};
use crate::kv_cache::KvCache;
use crate::model::{Inputs, Qwen25VL};
use crate::rng::Rng;
pub use crate::sampling::SamplingParams;
use crate::sampling::{DeviceSampler, HostSampler};
use crate::text::causal_mask;

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

/// Generates continuations of a (left-padded) batch.
///
/// The loop runs on one of rayon's worker threads ([`crate::on_pool`]). Natively (CPU) the
/// rows are sampled on the host ([`HostSampler`]); elsewhere on the device
/// ([`DeviceSampler`]), and per step only the rows' uniform numbers go to the device and their
/// chosen ids and log-probabilities come back; the key mask, positions and rotary tables stay
/// on the device ([`Decoder`]). The KV cache grows with the tokens generated
/// ([`KvCache::with_limit`]).
pub fn generate(model: &Qwen25VL, inputs: &Inputs, p: &SamplingParams) -> Result<Generation> {
    crate::on_pool(|| generate_on_this_thread(model, inputs, p))
}

/// The token chooser of a generation (see [`crate::sampling`]).
enum Sampler {
    Host(HostSampler),
    Device(DeviceSampler),
}

impl Sampler {
    fn new(p: &SamplingParams, vocab: usize, device: &Device) -> Result<Self> {
        Ok(if crate::kernels::native(device) {
            Self::Host(HostSampler::new(p))
        } else {
            Self::Device(DeviceSampler::new(p, vocab, device)?)
        })
    }

    fn sample(&self, logits: &Tensor, draws: &[Option<f64>]) -> Result<Vec<Option<(u32, f32)>>> {
        match self {
            Self::Host(s) => s.sample(logits, draws),
            Self::Device(s) => s.sample(logits, draws),
        }
    }
}

/// What decoding steps read besides the tokens, kept on the model's device: the additive key
/// mask of every position up to the limit (the prompt's padding blocked, every generated
/// position visible), each row's next position, and the rotary tables of all positions.
pub struct Decoder {
    /// `(B, 1, 1, limit)`.
    mask: Tensor,
    /// `(B,)` u32: cache position + the row's rope delta.
    positions: Tensor,
    /// `(B,)` u32 ones.
    one: Tensor,
    cos: Tensor,
    sin: Tensor,
}

impl Decoder {
    /// For `inputs` after a prefill that returned `deltas`, up to `limit` cache positions.
    pub fn new(model: &Qwen25VL, inputs: &Inputs, deltas: &[i64], limit: usize) -> Result<Self> {
        let (b, t) = (inputs.batch, inputs.seq_len);
        let dev = model.device();
        let mut keys = Vec::with_capacity(b * limit);
        for row in inputs.attention_mask.chunks(t) {
            keys.extend_from_slice(row);
            keys.extend(std::iter::repeat_n(1, limit.saturating_sub(t)));
        }
        let mask = causal_mask(&keys, b, limit - 1, 1, model.dtype(), dev)?;
        let first: Vec<u32> = deltas
            .iter()
            .map(|&d| u32::try_from(t as i64 + d).unwrap_or(0))
            .collect();
        let table = first.iter().max().copied().unwrap_or(0) as usize + limit.saturating_sub(t) + 1;
        let (cos, sin) = model.decode_rope_table(table)?;
        Ok(Self {
            mask,
            positions: Tensor::from_vec(first, b, dev)?,
            one: Tensor::ones(b, DType::U32, dev)?,
            cos,
            sin,
        })
    }

    /// Feeds `tokens` (one per row) and returns the next logits `(B, V)`.
    pub fn step(
        &mut self,
        model: &Qwen25VL,
        tokens: &[u32],
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let b = tokens.len();
        let ids = Tensor::from_vec(tokens.to_vec(), (b, 1), model.device())?;
        let cos = self.cos.index_select(&self.positions, 0)?.unsqueeze(1)?;
        let sin = self.sin.index_select(&self.positions, 0)?.unsqueeze(1)?;
        let mask = self.mask.narrow(3, 0, cache.len() + 1)?;
        let logits = model.decode_tokens(&ids, (&cos, &sin), &mask, cache)?;
        self.positions = (&self.positions + &self.one)?;
        Ok(logits)
    }
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
    let limit = inputs.seq_len + p.max_new_tokens;
    let mut cache = KvCache::with_limit(model.text.num_layers(), limit);
    let (mut logits, deltas) = model.prefill(inputs, &mut cache)?;
    let sampler = Sampler::new(p, logits.dim(1)?, model.device())?;
    let mut decoder = Decoder::new(model, inputs, &deltas, limit)?;
    for step in 0..p.max_new_tokens {
        // One uniform draw per active row, in row order (the seed fixes the tokens).
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
        let picked = sampler.sample(&logits, &draws)?;
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
        logits = decoder.step(model, &next, &mut cache)?;
    }
    Ok(gen)
}
