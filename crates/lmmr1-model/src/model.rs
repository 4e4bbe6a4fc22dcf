//! The whole Qwen2.5-VL model: vision tower + text decoder, image embeddings merged into the
//! `<|image_pad|>` positions, M-RoPE positions computed from the inputs.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::config::Config;
use crate::error::{input_err, Result};
use crate::kv_cache::KvCache;
use crate::ops::OpsMode;
use crate::rope::{get_rope_index, mrope_cos_sin, Grid, RopeIndex};
use crate::text::{causal_mask, TextModel};
use crate::vision::VisionModel;
use crate::weights;

/// One batch of model inputs (left padding expected for generation).
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Batch size.
    pub batch: usize,
    /// Sequence length.
    pub seq_len: usize,
    /// Token ids, `batch * seq_len` row-major.
    pub input_ids: Vec<u32>,
    /// 1 for real tokens, 0 for padding, same layout.
    pub attention_mask: Vec<u32>,
    /// `(N, patch_dim)` patches of all images in order, if any.
    pub pixel_values: Option<Tensor>,
    /// One `[t, h, w]` per image.
    pub image_grid_thw: Vec<Grid>,
    /// `(N, patch_dim)` patches of all videos in order, if any (see [`Inputs::with_videos`]).
    pub pixel_values_videos: Option<Tensor>,
    /// One `[t, h, w]` per video.
    pub video_grid_thw: Vec<Grid>,
    /// Seconds per temporal grid step, per video (1.0 when empty).
    pub second_per_grid_ts: Vec<f64>,
}

impl Inputs {
    /// Text-only inputs.
    pub fn text(batch: usize, input_ids: Vec<u32>, attention_mask: Vec<u32>) -> Result<Self> {
        Self::new(batch, input_ids, attention_mask, None, Vec::new())
    }

    /// Checks that ids and mask are both `batch × seq_len`.
    pub fn new(
        batch: usize,
        input_ids: Vec<u32>,
        attention_mask: Vec<u32>,
        pixel_values: Option<Tensor>,
        image_grid_thw: Vec<Grid>,
    ) -> Result<Self> {
        if batch == 0 || input_ids.is_empty() || input_ids.len() % batch != 0 {
            return input_err(format!(
                "input_ids has {} entries, not a non-empty multiple of batch {batch}",
                input_ids.len()
            ));
        }
        if attention_mask.len() != input_ids.len() {
            return input_err(format!(
                "attention_mask has {} entries but input_ids {}",
                attention_mask.len(),
                input_ids.len()
            ));
        }
        if pixel_values.is_some() == image_grid_thw.is_empty() {
            return input_err("pixel_values and image_grid_thw must be given together");
        }
        Ok(Self {
            batch,
            seq_len: input_ids.len() / batch,
            input_ids,
            attention_mask,
            pixel_values,
            image_grid_thw,
            pixel_values_videos: None,
            video_grid_thw: Vec::new(),
            second_per_grid_ts: Vec::new(),
        })
    }

    /// Adds videos: patches `(N, patch_dim)`, one grid per video, and the seconds per temporal
    /// grid step (`temporal_patch_size / fps`; empty means 1.0 each).
    pub fn with_videos(
        mut self,
        pixel_values_videos: Tensor,
        video_grid_thw: Vec<Grid>,
        second_per_grid_ts: Vec<f64>,
    ) -> Result<Self> {
        if video_grid_thw.is_empty() {
            return input_err("with_videos: video_grid_thw is empty");
        }
        if !second_per_grid_ts.is_empty() && second_per_grid_ts.len() != video_grid_thw.len() {
            return input_err(format!(
                "second_per_grid_ts has {} entries for {} videos",
                second_per_grid_ts.len(),
                video_grid_thw.len()
            ));
        }
        self.pixel_values_videos = Some(pixel_values_videos);
        self.video_grid_thw = video_grid_thw;
        self.second_per_grid_ts = second_per_grid_ts;
        Ok(self)
    }
}

/// The decoder layers' inputs for a full forward (see [`Qwen25VL::decoder_inputs`]).
#[derive(Debug, Clone)]
pub struct DecoderInputs {
    /// Input embeddings `(B, T, H)`, images merged in.
    pub embeds: Tensor,
    /// M-RoPE cosines `(B, T, head_dim/2)`.
    pub cos: Tensor,
    /// M-RoPE sines `(B, T, head_dim/2)`.
    pub sin: Tensor,
    /// Additive causal mask `(B, 1, T, T)`.
    pub mask: Tensor,
    /// The positions.
    pub rope: RopeIndex,
}

/// Random weights under their hub names: norm weights 1, biases 0, matrices `N(0, 1/fan_in)`,
/// embeddings `N(0, 1)`, or `N(0, 1/hidden)` when tied to the LM head (so that the initial logits
/// are O(1) and the initial loss is about `ln(vocab)`); deterministic in `seed`.
pub fn random_weights(
    cfg: &Config,
    seed: u64,
    dtype: DType,
    device: &Device,
) -> Result<std::collections::HashMap<String, Tensor>> {
    let mut rng = crate::rng::Rng::new(seed);
    let mut ts = std::collections::HashMap::new();
    for (name, shape) in weights::expected_tensors(cfg) {
        let t = if name.ends_with("bias") {
            Tensor::zeros(shape.as_slice(), DType::F32, device)?
        } else if shape.len() == 1 {
            Tensor::ones(shape.as_slice(), DType::F32, device)?
        } else {
            let fan_in: usize = shape[1..].iter().product();
            let std = if name.contains("embed_tokens") {
                if cfg.tie_word_embeddings {
                    1.0 / (cfg.hidden_size as f32).sqrt()
                } else {
                    1.0
                }
            } else {
                1.0 / (fan_in as f32).sqrt()
            };
            crate::rng::normal(&mut rng, &shape, std, device)?
        };
        ts.insert(name, t.to_dtype(dtype)?);
    }
    Ok(ts)
}

/// Qwen2.5-VL for conditional generation.
#[derive(Debug, Clone)]
pub struct Qwen25VL {
    /// The configuration.
    pub cfg: Config,
    /// The decoder.
    pub text: TextModel,
    /// The vision tower.
    pub vision: VisionModel,
    /// Fused (inference) or differentiable ops.
    pub mode: OpsMode,
    device: Device,
    dtype: DType,
}

impl Qwen25VL {
    /// Builds the model from a var builder rooted at the checkpoint root (hub names).
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            cfg: cfg.clone(),
            text: TextModel::new(cfg, vb.clone())?,
            vision: VisionModel::new(&cfg.vision_config, vb.pp("visual"))?,
            mode: OpsMode::Fused,
            device: vb.device().clone(),
            dtype: vb.dtype(),
        })
    }

    /// Loads `dir/config.json` and the checkpoint's safetensors.
    pub fn load(dir: impl AsRef<Path>, dtype: DType, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let cfg = Config::from_file(dir.join("config.json"))?;
        Self::load_with_config(dir, &cfg, dtype, device)
    }

    /// Loads the checkpoint's safetensors with a given config.
    pub fn load_with_config(
        dir: impl AsRef<Path>,
        cfg: &Config,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let ts = weights::load_checked(dir.as_ref(), cfg, dtype, device)?;
        let vb =
            VarBuilder::from_backend(Box::new(weights::TakeOnce::new(ts)), dtype, device.clone());
        Self::new(cfg, vb)
    }

    /// A model with random weights (see [`random_weights`]), for benchmarks and tests;
    /// deterministic in `seed`.
    pub fn random(cfg: &Config, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        let ts = random_weights(cfg, seed, dtype, device)?;
        Self::new(
            cfg,
            VarBuilder::from_backend(Box::new(weights::TakeOnce::new(ts)), dtype, device.clone()),
        )
    }

    /// The same model on detached views of its weights: it shares their storage (no copy),
    /// records no graph, and sees in-place updates of the originals (`Var::set`). Built from a
    /// training model, it is an inference copy that follows the optimizer.
    pub fn detach(&self) -> Self {
        Self {
            cfg: self.cfg.clone(),
            text: self.text.detach(),
            vision: self.vision.detach(),
            mode: self.mode,
            device: self.device.clone(),
            dtype: self.dtype,
        }
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The weights' dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// `get_rope_index` for these inputs.
    pub fn rope_index(&self, inp: &Inputs) -> Result<RopeIndex> {
        get_rope_index(
            &self.cfg,
            &inp.input_ids,
            &inp.attention_mask,
            inp.batch,
            &inp.image_grid_thw,
            &inp.video_grid_thw,
            (!inp.second_per_grid_ts.is_empty()).then_some(inp.second_per_grid_ts.as_slice()),
        )
    }

    /// Input embeddings `(B, T, H)`: token embeddings with the image (and video) embeddings put,
    /// in order, at the `<|image_pad|>` (`<|video_pad|>`) positions, by an `index_select` over
    /// `[tokens; images; videos]`, which keeps gradients. Each pad count must equal the merged
    /// patch count of its grids.
    pub fn embed_inputs(&self, inp: &Inputs) -> Result<Tensor> {
        let ids = Tensor::from_vec(
            inp.input_ids.clone(),
            (inp.batch, inp.seq_len),
            &self.device,
        )?;
        let tok = self.text.embed(&ids)?;
        let unit = self.cfg.vision_config.spatial_merge_size.pow(2);
        let count = |id: u32| inp.input_ids.iter().filter(|&&t| t == id).count();
        let feats = |g: &[Grid]| g.iter().map(|g| g[0] * g[1] * g[2] / unit).sum::<usize>();
        let (img_id, vid_id) = (self.cfg.image_token_id, self.cfg.video_token_id);
        let (n_img, n_vid) = (feats(&inp.image_grid_thw), feats(&inp.video_grid_thw));
        if count(img_id) != n_img {
            return input_err(format!(
                "{} image tokens (id {img_id}) in input_ids but image_grid_thw {:?} gives {n_img} image embeddings",
                count(img_id),
                inp.image_grid_thw
            ));
        }
        if count(vid_id) != n_vid {
            return input_err(format!(
                "{} video tokens (id {vid_id}) in input_ids but video_grid_thw {:?} gives {n_vid} video embeddings",
                count(vid_id),
                inp.video_grid_thw
            ));
        }
        let n = inp.batch * inp.seq_len;
        let h = self.cfg.hidden_size;
        let mut parts = vec![tok.reshape((n, h))?];
        for (pv, grids) in [
            (&inp.pixel_values, &inp.image_grid_thw),
            (&inp.pixel_values_videos, &inp.video_grid_thw),
        ] {
            if let Some(pv) = pv {
                let e = self
                    .vision
                    .forward(&pv.to_device(&self.device)?, grids, self.mode)?;
                parts.push(e.to_dtype(tok.dtype())?);
            }
        }
        if parts.len() == 1 {
            return Ok(tok);
        }
        let (mut ki, mut kv) = (n, n + n_img);
        let idx: Vec<u32> = inp
            .input_ids
            .iter()
            .enumerate()
            .map(|(p, &t)| {
                let slot = if t == img_id {
                    ki += 1;
                    ki - 1
                } else if t == vid_id {
                    kv += 1;
                    kv - 1
                } else {
                    p
                };
                slot as u32
            })
            .collect();
        let all = Tensor::cat(&parts, 0)?;
        let idx = Tensor::from_vec(idx, n, &self.device)?;
        Ok(all
            .index_select(&idx, 0)?
            .reshape((inp.batch, inp.seq_len, h))?)
    }

    /// What the decoder layers of a full (uncached) forward read: input embeddings, M-RoPE
    /// tables and the causal mask. Checks the token ids.
    pub fn decoder_inputs(&self, inp: &Inputs) -> Result<DecoderInputs> {
        if let Some(&bad) = inp
            .input_ids
            .iter()
            .find(|&&t| t as usize >= self.cfg.vocab_size)
        {
            return input_err(format!(
                "token id {bad} >= vocab_size {}",
                self.cfg.vocab_size
            ));
        }
        let rope = self.rope_index(inp)?;
        let embeds = self.embed_inputs(inp)?;
        let (cos, sin) = mrope_cos_sin(&self.cfg, &rope, &self.device)?;
        let (cos, sin) = (cos.to_dtype(self.dtype)?, sin.to_dtype(self.dtype)?);
        let mask = causal_mask(
            &inp.attention_mask,
            inp.batch,
            0,
            inp.seq_len,
            self.dtype,
            &self.device,
        )?;
        Ok(DecoderInputs {
            embeds,
            cos,
            sin,
            mask,
            rope,
        })
    }

    /// Final hidden states `(B, T, H)` (after the last norm) of a full forward; with a cache, the
    /// keys and values are stored for decoding. Returns the rope index too.
    pub fn forward_hidden(
        &self,
        inp: &Inputs,
        cache: Option<&mut KvCache>,
    ) -> Result<(Tensor, RopeIndex)> {
        let d = self.decoder_inputs(inp)?;
        let h = self
            .text
            .forward_hidden(&d.embeds, &d.cos, &d.sin, &d.mask, cache, self.mode)?;
        Ok((h, d.rope))
    }

    /// Logits `(B, T, V)`.
    pub fn forward(&self, inp: &Inputs) -> Result<Tensor> {
        let (h, _) = self.forward_hidden(inp, None)?;
        Ok(self.text.lm_head(&h)?)
    }

    /// Per-token log-probabilities `(B, T−1)`: entry `t` is `log p(input_ids[t+1] | input_ids[..=t])`
    /// (teacher forcing): the LM head and log-softmax gathered at the targets on the first `T−1`
    /// positions, one autograd node ([`crate::kernels::head_token_logprobs`]), so with
    /// [`OpsMode::Differentiable`] and variables it carries gradients. Entries whose target is
    /// padding are meaningless; mask them.
    pub fn token_logprobs(&self, inp: &Inputs) -> Result<Tensor> {
        if inp.seq_len < 2 {
            return input_err("token_logprobs needs at least 2 positions");
        }
        let (h, _) = self.forward_hidden(inp, None)?;
        let t = inp.seq_len - 1;
        let targets: Vec<u32> = inp
            .input_ids
            .chunks(inp.seq_len)
            .flat_map(|r| r[1..].to_vec())
            .collect();
        let targets = Tensor::from_vec(targets, (inp.batch, t), &self.device)?;
        let (lp, _) = self
            .text
            .lm_head_logprobs(&h.narrow(1, 0, t)?, &targets, false)?;
        Ok(lp)
    }

    /// Prefill for generation: fills `cache` and returns the last position's logits `(B, V)`
    /// and the per-row rope deltas.
    pub fn prefill(&self, inp: &Inputs, cache: &mut KvCache) -> Result<(Tensor, Vec<i64>)> {
        let (h, idx) = self.forward_hidden(inp, Some(cache))?;
        let last = h.narrow(1, inp.seq_len - 1, 1)?.squeeze(1)?;
        Ok((self.text.lm_head(&last)?, idx.deltas))
    }

    /// One decode step: `tokens` (one per row) at cache position `cache.len()`; `key_mask` is the
    /// attention mask over all `cache.len() + 1` positions, row-major. Returns logits `(B, V)`.
    /// Builds the step's positions and mask on the host; [`crate::generate`] keeps them on the
    /// device and calls [`Qwen25VL::decode_tokens`].
    pub fn decode_step(
        &self,
        tokens: &[u32],
        key_mask: &[u32],
        deltas: &[i64],
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let b = tokens.len();
        let past = cache.len();
        if deltas.len() != b || key_mask.len() != b * (past + 1) {
            return input_err(format!(
                "decode_step: {b} tokens, {} deltas, key mask {} (expected {})",
                deltas.len(),
                key_mask.len(),
                b * (past + 1)
            ));
        }
        let ids = Tensor::from_vec(tokens.to_vec(), (b, 1), &self.device)?;
        let idx = RopeIndex::decode(deltas, past, 1);
        let (cos, sin) = mrope_cos_sin(&self.cfg, &idx, &self.device)?;
        let mask = causal_mask(key_mask, b, past, 1, self.dtype, &self.device)?;
        self.decode_tokens(&ids, (&cos, &sin), &mask, cache)
    }

    /// One decode step on device tensors: `ids` `(B, 1)` u32 at cache position `cache.len()`,
    /// their M-RoPE half-tables `(B, 1, head_dim/2)` (while decoding the three streams agree),
    /// the additive key mask `(B, 1, 1, cache.len() + 1)`. Returns logits `(B, V)`.
    pub fn decode_tokens(
        &self,
        ids: &Tensor,
        (cos, sin): (&Tensor, &Tensor),
        mask: &Tensor,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let emb = self.text.embed(ids)?;
        let (cos, sin) = (cos.to_dtype(self.dtype)?, sin.to_dtype(self.dtype)?);
        let h = self
            .text
            .forward_hidden(&emb, &cos, &sin, mask, Some(cache), self.mode)?;
        Ok(self.text.lm_head(&h.squeeze(1)?)?)
    }

    /// M-RoPE half-tables `(positions, head_dim/2)` of positions `0..positions` while decoding
    /// (all three streams equal): row `p` is what [`mrope_cos_sin`] gives a decoded token at
    /// position `p`, so a step's tables are an `index_select` on the device.
    pub fn decode_rope_table(&self, positions: usize) -> Result<(Tensor, Tensor)> {
        let idx = RopeIndex::decode(&[0], 0, positions);
        let (cos, sin) = mrope_cos_sin(&self.cfg, &idx, &self.device)?;
        Ok((
            cos.squeeze(0)?.to_dtype(self.dtype)?,
            sin.squeeze(0)?.to_dtype(self.dtype)?,
        ))
    }
}
