//! A rollout batch: `n` responses per prompt, group-major, with ragged per-row data, and the
//! padded micro-batches the training forward consumes.

use candle_core::{Device, Tensor};
use lmmr1_model::model::Inputs;
use lmmr1_model::rope::Grid;

use crate::{Error, Result};

/// One sampled response and everything known about it (the per-token fields the trainer fills
/// start empty).
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Index of its prompt within the rollout batch (rows `g·n .. (g+1)·n` share prompt `g`).
    pub group: usize,
    /// The prompt's ids (no padding).
    pub prompt: std::sync::Arc<Vec<u32>>,
    /// The prompt's images: patches and grids.
    pub images: Option<(Tensor, Vec<Grid>)>,
    /// The response ids (a stop token, if hit, is the last one).
    pub response: Vec<u32>,
    /// The decoded response (special tokens kept).
    pub text: String,
    /// Whether generation stopped on a stop token (else it hit `max_new_tokens`).
    pub stopped: bool,
    /// The sampler's log-probs of the response tokens.
    pub sampler_logp: Vec<f32>,
    /// The scalar reward.
    pub reward: f64,
    /// The reward's named components.
    pub components: Vec<(String, f64)>,
    /// Log-probs of the response under the policy's training forward at rollout time.
    pub old_logp: Vec<f32>,
    /// Log-probs under the reference model (when KL is on).
    pub ref_logp: Vec<f32>,
    /// Critic values (GAE).
    pub values: Vec<f32>,
    /// Advantages, filled by the trainer.
    pub advantages: Vec<f32>,
    /// Returns (critic targets), filled by the trainer.
    pub returns: Vec<f32>,
}

/// A rollout batch (group-major rows).
#[derive(Debug, Clone)]
pub struct Experience {
    /// Samples per prompt.
    pub n: usize,
    /// The rows.
    pub rows: Vec<Row>,
}

/// Padded tensors of some rows: a left-padded prompt block of `start` columns, then responses
/// right-padded to `response_len`.
#[derive(Debug, Clone)]
pub struct MicroBatch {
    /// Which rows of the experience, in order.
    pub rows: Vec<usize>,
    /// Model inputs `(b, start + response_len)`.
    pub inputs: Inputs,
    /// Column where responses start.
    pub start: usize,
    /// Padded response length.
    pub response_len: usize,
    /// `(b, response_len)` f32 response mask.
    pub mask: Tensor,
}

impl Experience {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Longest response.
    pub fn max_response_len(&self) -> usize {
        self.rows
            .iter()
            .map(|r| r.response.len())
            .max()
            .unwrap_or(0)
    }

    /// Valid response tokens in `rows`.
    pub fn token_count(&self, rows: &[usize]) -> usize {
        rows.iter().map(|&i| self.rows[i].response.len()).sum()
    }

    /// The padded batch of `rows`; `pad` fills padding positions (masked out).
    pub fn micro_batch(&self, rows: &[usize], pad: u32, device: &Device) -> Result<MicroBatch> {
        if rows.is_empty() {
            return Err(Error::Input("empty micro-batch".into()));
        }
        let sel: Vec<&Row> = rows
            .iter()
            .map(|&i| {
                self.rows
                    .get(i)
                    .ok_or_else(|| Error::Input(format!("row {i} out of {}", self.rows.len())))
            })
            .collect::<Result<_>>()?;
        let start = sel.iter().map(|r| r.prompt.len()).max().unwrap_or(0);
        let response_len = sel
            .iter()
            .map(|r| r.response.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let t = start + response_len;
        let mut ids = Vec::with_capacity(sel.len() * t);
        let mut attn = Vec::with_capacity(sel.len() * t);
        let mut mask = Vec::with_capacity(sel.len() * response_len);
        let mut pixels = Vec::new();
        let mut grids = Vec::new();
        for r in &sel {
            let lp = start - r.prompt.len();
            ids.extend(std::iter::repeat_n(pad, lp));
            attn.extend(std::iter::repeat_n(0u32, lp));
            ids.extend_from_slice(&r.prompt);
            attn.extend(std::iter::repeat_n(1u32, r.prompt.len()));
            let rp = response_len - r.response.len();
            ids.extend_from_slice(&r.response);
            attn.extend(std::iter::repeat_n(1u32, r.response.len()));
            ids.extend(std::iter::repeat_n(pad, rp));
            attn.extend(std::iter::repeat_n(0u32, rp));
            mask.extend(std::iter::repeat_n(1f32, r.response.len()));
            mask.extend(std::iter::repeat_n(0f32, rp));
            if let Some((pv, g)) = &r.images {
                pixels.push(pv.clone());
                grids.extend_from_slice(g);
            }
        }
        let pixel_values = if pixels.is_empty() {
            None
        } else {
            Some(Tensor::cat(&pixels, 0)?)
        };
        let inputs = Inputs::new(sel.len(), ids, attn, pixel_values, grids)?;
        let mask = Tensor::from_vec(mask, (sel.len(), response_len), device)?;
        Ok(MicroBatch {
            rows: rows.to_vec(),
            inputs,
            start,
            response_len,
            mask,
        })
    }

    /// The `(b, len)` f32 response mask of `rows` (1 on each row's response tokens).
    pub fn mask(&self, rows: &[usize], len: usize, device: &Device) -> Result<Tensor> {
        let mut out = Vec::with_capacity(rows.len() * len);
        for &i in rows {
            let n = self.rows[i].response.len().min(len);
            out.extend(std::iter::repeat_n(1f32, n));
            out.extend(std::iter::repeat_n(0f32, len - n));
        }
        Ok(Tensor::from_vec(out, (rows.len(), len), device)?)
    }

    /// A per-token field of `rows` as a `(b, len)` f32 tensor, zero-padded on the right.
    pub fn padded(
        &self,
        rows: &[usize],
        len: usize,
        field: impl Fn(&Row) -> &[f32],
        device: &Device,
    ) -> Result<Tensor> {
        let mut out = Vec::with_capacity(rows.len() * len);
        for &i in rows {
            let v = field(&self.rows[i]);
            let take = v.len().min(len);
            out.extend_from_slice(&v[..take]);
            out.extend(std::iter::repeat_n(0f32, len - take));
        }
        Ok(Tensor::from_vec(out, (rows.len(), len), device)?)
    }

    /// Writes the first `row.response.len()` entries of each row of a `(b, len)` tensor into a
    /// per-token field.
    pub fn scatter(
        &mut self,
        rows: &[usize],
        values: &Tensor,
        field: impl Fn(&mut Row) -> &mut Vec<f32>,
    ) -> Result<()> {
        let v = values.to_dtype(candle_core::DType::F32)?.to_vec2::<f32>()?;
        if v.len() != rows.len() {
            return Err(Error::Input(format!(
                "{} value rows for {} experience rows",
                v.len(),
                rows.len()
            )));
        }
        for (&i, vr) in rows.iter().zip(v) {
            let n = self.rows[i].response.len().min(vr.len());
            *field(&mut self.rows[i]) = vr[..n].to_vec();
        }
        Ok(())
    }
}
