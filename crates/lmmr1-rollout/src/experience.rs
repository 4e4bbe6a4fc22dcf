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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const PAD: u32 = 0;

    /// A row of prompt `prompt` and response `response`, in group `group`, optionally with an
    /// image of `patches` rows of 2 values each (all equal to `fill`).
    fn row(group: usize, prompt: &[u32], response: &[u32], image: Option<(usize, f32)>) -> Row {
        let images = image.map(|(patches, fill)| {
            let t = Tensor::full(fill, (patches, 2), &Device::Cpu).unwrap();
            (t, vec![[1, 1, patches]])
        });
        Row {
            group,
            prompt: Arc::new(prompt.to_vec()),
            images,
            response: response.to_vec(),
            ..Row::default()
        }
    }

    /// Ragged prompts and responses; rows 0 and 2 carry images; row 3 is a later turn of an
    /// episode (a longer prompt holding the earlier turn).
    fn experience() -> Experience {
        Experience {
            n: 2,
            rows: vec![
                row(0, &[11, 12], &[21, 22, 23], Some((2, 1.0))),
                row(0, &[11, 12], &[24], None),
                row(1, &[13], &[25, 26], Some((3, 2.0))),
                row(1, &[13, 25, 26, 14, 15], &[27, 28, 29, 30], None),
            ],
        }
    }

    fn rows_of(v: &[u32], width: usize) -> Vec<Vec<u32>> {
        v.chunks(width).map(<[u32]>::to_vec).collect()
    }

    #[test]
    fn a_micro_batch_left_pads_prompts_and_right_pads_responses() {
        let exp = experience();
        let mb = exp.micro_batch(&[2, 0, 1], PAD, &Device::Cpu).unwrap();
        // Prompts end at column 2 (the longest prompt), responses follow, padded to 3.
        assert_eq!((mb.start, mb.response_len), (2, 3));
        assert_eq!(mb.rows, vec![2, 0, 1]);
        assert_eq!(
            rows_of(&mb.inputs.input_ids, 5),
            vec![
                vec![PAD, 13, 25, 26, PAD],
                vec![11, 12, 21, 22, 23],
                vec![11, 12, 24, PAD, PAD],
            ]
        );
        assert_eq!(
            rows_of(&mb.inputs.attention_mask, 5),
            vec![
                vec![0, 1, 1, 1, 0],
                vec![1, 1, 1, 1, 1],
                vec![1, 1, 1, 0, 0]
            ]
        );
        assert_eq!(
            mb.mask.to_vec2::<f32>().unwrap(),
            vec![vec![1., 1., 0.], vec![1., 1., 1.], vec![1., 0., 0.]]
        );
        // Images in the micro-batch's row order: row 2's 3 patches, then row 0's 2.
        assert_eq!(mb.inputs.image_grid_thw, vec![[1, 1, 3], [1, 1, 2]]);
        let px = mb.inputs.pixel_values.unwrap().to_vec2::<f32>().unwrap();
        let firsts: Vec<f32> = px.iter().map(|r| r[0]).collect();
        assert_eq!(firsts, vec![2., 2., 2., 1., 1.]);
    }

    #[test]
    fn a_text_only_micro_batch_has_no_pixels_and_empty_selections_are_errors() {
        let exp = experience();
        let mb = exp.micro_batch(&[3, 1], PAD, &Device::Cpu).unwrap();
        assert!(mb.inputs.pixel_values.is_none() && mb.inputs.image_grid_thw.is_empty());
        assert_eq!((mb.start, mb.response_len), (5, 4));
        assert_eq!(
            rows_of(&mb.inputs.input_ids, 9)[1],
            vec![PAD, PAD, PAD, 11, 12, 24, PAD, PAD, PAD]
        );
        assert!(exp.micro_batch(&[], PAD, &Device::Cpu).is_err());
        assert!(exp.micro_batch(&[4], PAD, &Device::Cpu).is_err());
    }

    #[test]
    fn padded_and_scatter_keep_each_value_on_its_token() {
        let mut exp = experience();
        // Token j of row i gets 10·i + j.
        let order = [3, 0, 2];
        let width = 5;
        let values: Vec<f32> = order
            .iter()
            .flat_map(|&i| (0..width).map(move |j| (10 * i + j) as f32))
            .collect();
        let t = Tensor::from_vec(values, (3, width), &Device::Cpu).unwrap();
        exp.scatter(&order, &t, |r| &mut r.advantages).unwrap();
        // Each row keeps as many values as it has response tokens; row 1 was not written.
        assert_eq!(exp.rows[0].advantages, vec![0., 1., 2.]);
        assert_eq!(exp.rows[2].advantages, vec![20., 21.]);
        assert_eq!(exp.rows[3].advantages, vec![30., 31., 32., 33.]);
        assert!(exp.rows[1].advantages.is_empty());
        // Read back in another order and width: right-padded with zeros, cut at the width.
        let back = exp
            .padded(&[2, 3, 1], 3, |r| &r.advantages, &Device::Cpu)
            .unwrap();
        assert_eq!(
            back.to_vec2::<f32>().unwrap(),
            vec![vec![20., 21., 0.], vec![30., 31., 32.], vec![0., 0., 0.]]
        );
        let mask = exp.mask(&[2, 3, 1], 3, &Device::Cpu).unwrap();
        assert_eq!(
            mask.to_vec2::<f32>().unwrap(),
            vec![vec![1., 1., 0.], vec![1., 1., 1.], vec![1., 0., 0.]]
        );
        assert_eq!(exp.token_count(&[0, 1, 2, 3]), 10);
        assert_eq!(exp.max_response_len(), 4);
        // A value tensor with the wrong number of rows is an error, not a misalignment.
        assert!(exp.scatter(&[0, 1], &t, |r| &mut r.returns).is_err());
    }
}
