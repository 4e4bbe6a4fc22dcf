//! Rotary tables: the text decoder's M-RoPE (three position streams: temporal, height, width)
//! and transformers' `get_rope_index`, which assigns those positions to text and image tokens.

use candle_core::{Device, Tensor};

use crate::config::Config;
use crate::error::{input_err, Result};

/// Inverse frequencies `1 / θ^(2i/dim)` for `i < dim/2`, in f32 as transformers computes them.
pub fn inv_freq(dim: usize, theta: f64) -> Vec<f32> {
    (0..dim / 2)
        .map(|i| 1.0f32 / (theta as f32).powf((2 * i) as f32 / dim as f32))
        .collect()
}

/// 3-stream positions for a batch: `pos[s][b * t + j]` with `s` in (temporal, height, width),
/// and one `rope_delta` per row (`max position + 1 − row length`), used while decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct RopeIndex {
    /// Batch size.
    pub batch: usize,
    /// Sequence length.
    pub seq_len: usize,
    /// The three streams, each `batch * seq_len`, row-major.
    pub pos: [Vec<i64>; 3],
    /// Per-row offset: a token at cache position `c` has position `c + delta` on all streams.
    pub deltas: Vec<i64>,
}

impl RopeIndex {
    /// Positions for `n` decode steps of each row starting at cache position `start`.
    pub fn decode(deltas: &[i64], start: usize, n: usize) -> Self {
        let b = deltas.len();
        let mut s = Vec::with_capacity(b * n);
        for &d in deltas {
            for j in 0..n {
                s.push((start + j) as i64 + d);
            }
        }
        RopeIndex {
            batch: b,
            seq_len: n,
            pos: [s.clone(), s.clone(), s],
            deltas: deltas.to_vec(),
        }
    }
}

/// Grid of one image or video in patches: `[t, h, w]`.
pub type Grid = [usize; 3];

/// transformers' `Qwen2_5_VLModel.get_rope_index`.
///
/// `input_ids` and `attention_mask` are `(B, T)` row-major. Text tokens take consecutive
/// positions on all three streams; the `t·h·w/merge²` image (or video) tokens after a
/// `<|vision_start|>` take `(t·s·tps, row, col) + offset` over the merged grid, and the text after
/// them continues at `max + 1`. Padded positions are 1. Without any grid it is
/// `cumsum(mask) − 1`. Grids are consumed in order across the whole batch, as in transformers.
pub fn get_rope_index(
    cfg: &Config,
    input_ids: &[u32],
    attention_mask: &[u32],
    batch: usize,
    image_grid_thw: &[Grid],
    video_grid_thw: &[Grid],
    second_per_grid_ts: Option<&[f64]>,
) -> Result<RopeIndex> {
    let t_len = input_ids.len().checked_div(batch).unwrap_or(0);
    if input_ids.len() != batch * t_len || attention_mask.len() != input_ids.len() {
        return input_err(format!(
            "input_ids ({}) and attention_mask ({}) must both be batch ({batch}) x seq_len",
            input_ids.len(),
            attention_mask.len()
        ));
    }
    let mut pos = [
        vec![1i64; batch * t_len],
        vec![1i64; batch * t_len],
        vec![1i64; batch * t_len],
    ];
    let mut deltas = Vec::with_capacity(batch);
    let merge = cfg.vision_config.spatial_merge_size;
    let tps = cfg.vision_config.tokens_per_second;
    let (mut img_i, mut vid_i) = (0usize, 0usize);
    for b in 0..batch {
        let row = &input_ids[b * t_len..(b + 1) * t_len];
        let mrow = &attention_mask[b * t_len..(b + 1) * t_len];
        let valid: Vec<usize> = (0..t_len).filter(|&j| mrow[j] != 0).collect();
        let toks: Vec<u32> = valid.iter().map(|&j| row[j]).collect();
        let mut streams: [Vec<i64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        if !image_grid_thw.is_empty() || !video_grid_thw.is_empty() {
            let mut n_img = 0;
            let mut n_vid = 0;
            for w in toks.windows(2) {
                if w[0] == cfg.vision_start_token_id {
                    if w[1] == cfg.image_token_id {
                        n_img += 1;
                    } else if w[1] == cfg.video_token_id {
                        n_vid += 1;
                    }
                }
            }
            let mut st = 0usize;
            let (mut rem_img, mut rem_vid) = (n_img, n_vid);
            let mut next = 0i64;
            for _ in 0..n_img + n_vid {
                let find = |tok: u32, rem: usize| {
                    if rem > 0 {
                        toks[st..].iter().position(|&x| x == tok).map(|p| p + st)
                    } else {
                        None
                    }
                };
                let ed_img = find(cfg.image_token_id, rem_img).unwrap_or(toks.len() + 1);
                let ed_vid = find(cfg.video_token_id, rem_vid).unwrap_or(toks.len() + 1);
                let (grid, spg, ed) = if ed_img < ed_vid {
                    let Some(g) = image_grid_thw.get(img_i) else {
                        return input_err(format!(
                            "row {b}: more images in input_ids than image_grid_thw rows ({})",
                            image_grid_thw.len()
                        ));
                    };
                    img_i += 1;
                    rem_img -= 1;
                    (*g, 0.0, ed_img)
                } else {
                    let Some(g) = video_grid_thw.get(vid_i) else {
                        return input_err(format!(
                            "row {b}: more videos in input_ids than video_grid_thw rows ({})",
                            video_grid_thw.len()
                        ));
                    };
                    let spg = second_per_grid_ts
                        .and_then(|s| s.get(vid_i).copied())
                        .unwrap_or(1.0);
                    vid_i += 1;
                    rem_vid -= 1;
                    (*g, spg, ed_vid)
                };
                if ed > toks.len() {
                    return input_err(format!("row {b}: vision token not found"));
                }
                let (gt, gh, gw) = (grid[0], grid[1] / merge, grid[2] / merge);
                let text_len = ed - st;
                for k in 0..text_len {
                    for s in &mut streams {
                        s.push(next + k as i64);
                    }
                }
                let base = next + text_len as i64;
                let mut mx = if text_len > 0 { base - 1 } else { next - 1 };
                for ti in 0..gt {
                    let tv = ((ti as f64) * spg * tps) as i64;
                    for hi in 0..gh {
                        for wi in 0..gw {
                            let p = [tv + base, hi as i64 + base, wi as i64 + base];
                            for (s, v) in streams.iter_mut().zip(p) {
                                s.push(v);
                                mx = mx.max(v);
                            }
                        }
                    }
                }
                next = mx + 1;
                st = ed + gt * gh * gw;
            }
            if st < toks.len() {
                for k in 0..toks.len() - st {
                    for s in &mut streams {
                        s.push(next + k as i64);
                    }
                }
            }
            if streams[0].len() != toks.len() {
                return input_err(format!(
                    "row {b}: {} positions for {} tokens: the image/video pad tokens do not match the grids",
                    streams[0].len(),
                    toks.len()
                ));
            }
        } else {
            for k in 0..toks.len() {
                for s in &mut streams {
                    s.push(k as i64);
                }
            }
        }
        let mut mx = i64::MIN;
        for (s, dst) in streams.iter().zip(pos.iter_mut()) {
            for (k, &j) in valid.iter().enumerate() {
                dst[b * t_len + j] = s[k];
                mx = mx.max(s[k]);
            }
        }
        if valid.is_empty() {
            mx = 1;
        }
        deltas.push(mx + 1 - t_len as i64);
    }
    Ok(RopeIndex {
        batch,
        seq_len: t_len,
        pos,
        deltas,
    })
}

/// M-RoPE half-tables `(cos, sin)`, each `(B, T, head_dim/2)` f32: frequency `j` takes its angle
/// from the stream its `mrope_section` chunk belongs to (the second half of the head repeats
/// the first).
pub fn mrope_cos_sin(cfg: &Config, idx: &RopeIndex, device: &Device) -> Result<(Tensor, Tensor)> {
    let hd = cfg.head_dim();
    let inv = inv_freq(hd, cfg.rope_theta);
    let mut stream_of = Vec::with_capacity(hd / 2);
    for (s, &n) in cfg.mrope_section.iter().enumerate() {
        stream_of.extend(std::iter::repeat_n(s, n));
    }
    let n = idx.batch * idx.seq_len;
    let mut cos = Vec::with_capacity(n * hd / 2);
    let mut sin = Vec::with_capacity(n * hd / 2);
    for i in 0..n {
        for (j, &f) in inv.iter().enumerate() {
            let a = idx.pos[stream_of[j]][i] as f32 * f;
            cos.push(a.cos());
            sin.push(a.sin());
        }
    }
    let shape = (idx.batch, idx.seq_len, hd / 2);
    Ok((
        Tensor::from_vec(cos, shape, device)?,
        Tensor::from_vec(sin, shape, device)?,
    ))
}
