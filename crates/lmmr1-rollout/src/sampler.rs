//! Sampling `n` responses per prompt with the rollout copy of the policy, then scoring them.

use std::sync::Arc;

use candle_core::Tensor;
use lmmr1_model::generate::{generate, SamplingParams};
use lmmr1_model::model::{Inputs, Qwen25VL};
use lmmr1_rewards::Score;
use lmmr1_tasks::Sample;

use crate::experience::{Experience, Row};
use crate::prompt::{EncodedPrompt, PromptEncoder};
use crate::{Error, Result};

/// Rollout settings (LMM-R1 / OpenRLHF names): how many samples, how many generated together,
/// and how each token is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutConfig {
    /// Responses per prompt (`n_samples_per_prompt`).
    pub n_samples_per_prompt: usize,
    /// Sequences generated together (`micro_rollout_batch_size`).
    pub generation_batch: usize,
    /// Temperature, top-p/top-k, the budget (`generate_max_len`), stop, pad and suppressed
    /// tokens (the vision placeholders: a response holding `<|image_pad|>` would need an image).
    /// Its `seed` is replaced in each generation batch by one derived from the rollout's seed.
    pub sampling: SamplingParams,
}

/// One generated response.
#[derive(Debug, Clone)]
pub struct Generation {
    /// Index of its prompt.
    pub prompt: usize,
    /// Response ids (a stop token, if hit, is the last one).
    pub response: Vec<u32>,
    /// The decoded response (special tokens kept).
    pub text: String,
    /// Whether generation stopped on a stop token.
    pub stopped: bool,
    /// The sampler's log-probs of the response tokens.
    pub logp: Vec<f32>,
}

/// Generates one response per entry of `order` (an index into `prompts`), in generation batches
/// of `cfg.generation_batch` left-padded rows. `progress(done, total)` is called after each batch.
pub fn generate_responses(
    model: &Qwen25VL,
    encoder: &PromptEncoder,
    prompts: &[EncodedPrompt],
    order: &[usize],
    cfg: &RolloutConfig,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Generation>> {
    if cfg.generation_batch == 0 || cfg.sampling.max_new_tokens == 0 {
        return Err(Error::Input(
            "generation_batch and max_new_tokens must be ≥ 1".into(),
        ));
    }
    let mut out = Vec::with_capacity(order.len());
    for (chunk_idx, chunk) in order.chunks(cfg.generation_batch).enumerate() {
        let width = chunk
            .iter()
            .map(|&g| prompts[g].ids.len())
            .max()
            .unwrap_or(0);
        let mut ids = Vec::with_capacity(chunk.len() * width);
        let mut mask = Vec::with_capacity(chunk.len() * width);
        let mut pixels = Vec::new();
        let mut grids = Vec::new();
        for &g in chunk {
            let p = &prompts[g];
            let lp = width - p.ids.len();
            ids.extend(std::iter::repeat_n(cfg.sampling.pad_token, lp));
            mask.extend(std::iter::repeat_n(0u32, lp));
            ids.extend_from_slice(&p.ids);
            mask.extend(std::iter::repeat_n(1u32, p.ids.len()));
            if let Some(pv) = &p.pixel_values {
                pixels.push(pv.clone());
                grids.extend_from_slice(&p.grids);
            }
        }
        let pixel_values = if pixels.is_empty() {
            None
        } else {
            Some(Tensor::cat(&pixels, 0)?)
        };
        let inputs = Inputs::new(chunk.len(), ids, mask, pixel_values, grids)?;
        let params = SamplingParams {
            seed: seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(chunk_idx as u64),
            ..cfg.sampling.clone()
        };
        let gen = generate(model, &inputs, &params)?;
        for (k, &g) in chunk.iter().enumerate() {
            let response = gen.tokens[k].clone();
            let text = encoder.tokenizer.decode(&response, false)?;
            out.push(Generation {
                prompt: g,
                response,
                text,
                stopped: gen.stopped[k],
                logp: gen.logprobs[k].clone(),
            });
        }
        progress(out.len(), order.len());
    }
    // An empty response has no token to carry the reward (generation always emits ≥ 1 token
    // when max_new_tokens ≥ 1).
    if out.iter().any(|g| g.response.is_empty()) {
        return Err(Error::Input("generation returned an empty response".into()));
    }
    Ok(out)
}

/// Generates `cfg.n_samples_per_prompt` responses for each sample (group-major rows) and scores
/// each with `reward(sample, response_text)`. `progress(done, total)` is called after each
/// generation chunk.
pub fn rollout(
    model: &Qwen25VL,
    encoder: &PromptEncoder,
    samples: &[Sample],
    cfg: &RolloutConfig,
    seed: u64,
    reward: &(dyn Fn(&Sample, &str) -> Score + Sync),
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Experience> {
    let n = cfg.n_samples_per_prompt;
    if n == 0 {
        return Err(Error::Input("n_samples_per_prompt must be ≥ 1".into()));
    }
    let prompts: Vec<EncodedPrompt> = samples
        .iter()
        .map(|s| encoder.encode(s))
        .collect::<Result<_>>()?;
    let ids: Vec<Arc<Vec<u32>>> = prompts.iter().map(|p| Arc::new(p.ids.clone())).collect();
    let order: Vec<usize> = (0..samples.len() * n).map(|r| r / n).collect();
    let gens = generate_responses(model, encoder, &prompts, &order, cfg, seed, progress)?;
    let rows = gens
        .into_iter()
        .map(|g| {
            let score = reward(&samples[g.prompt], &g.text);
            let enc = &prompts[g.prompt];
            Row {
                group: g.prompt,
                prompt: ids[g.prompt].clone(),
                images: enc.pixel_values.clone().map(|pv| (pv, enc.grids.clone())),
                response: g.response,
                text: g.text,
                stopped: g.stopped,
                sampler_logp: g.logp,
                reward: score.total,
                components: score
                    .components
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
                ..Row::default()
            }
        })
        .collect();
    Ok(Experience { n, rows })
}
