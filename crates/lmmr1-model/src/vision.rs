//! The Qwen2.5-VL vision tower: patch embedding (the Conv3d with kernel = stride as one matmul),
//! 2-D rotary embeddings, window attention (full attention in `fullatt_block_indexes`),
//! RMSNorm + SwiGLU blocks with biases, and the 2×2 patch merger with exact-erf GELU. Patches
//! are permuted into window order before the blocks and back after the merger.

use candle_core::{Device, Module, Tensor};

use candle_nn::VarBuilder;

use crate::config::VisionConfig;
use crate::error::{input_err, Result};
use crate::kernels;
use crate::ops::{self, Linear, OpsMode};
use crate::rope::{inv_freq, Grid};

fn linear(i: usize, o: usize, vb: VarBuilder) -> candle_core::Result<Linear> {
    Linear::new(vb.get((o, i), "weight")?, Some(vb.get(o, "bias")?))
}

const VISION_EPS: f64 = 1e-6;

/// Window order of the merged tokens of all images, and the cumulative patch counts of the
/// windows (`cu_window_seqlens` after `unique_consecutive`), as transformers' `get_window_index`.
pub fn window_index(cfg: &VisionConfig, grids: &[Grid]) -> (Vec<usize>, Vec<usize>) {
    let m = cfg.spatial_merge_size;
    let unit = m * m;
    let vw = cfg.window_size / m / cfg.patch_size;
    let mut index = Vec::new();
    let mut cu = vec![0usize];
    let mut offset = 0usize;
    for &[t, h, w] in grids {
        let (lh, lw) = (h / m, w / m);
        // A whole empty window is added when the side is divisible by vw (as transformers does).
        let (ph, pw) = (vw - lh % vw, vw - lw % vw);
        let (nwh, nww) = ((lh + ph) / vw, (lw + pw) / vw);
        for ti in 0..t {
            for wy in 0..nwh {
                for wx in 0..nww {
                    let mut n = 0;
                    for y in wy * vw..(wy + 1) * vw {
                        for x in wx * vw..(wx + 1) * vw {
                            if y < lh && x < lw {
                                index.push(offset + (ti * lh + y) * lw + x);
                                n += 1;
                            }
                        }
                    }
                    let last = *cu.last().unwrap_or(&0);
                    if n > 0 {
                        cu.push(last + n * unit);
                    }
                }
            }
        }
        offset += t * lh * lw;
    }
    (index, cu)
}

/// Per-patch (row, col) in 2×2-merge-block order, repeated over `t`: the vision RoPE's ids.
pub fn rot_pos_ids(cfg: &VisionConfig, grids: &[Grid]) -> Vec<[usize; 2]> {
    let m = cfg.spatial_merge_size;
    let mut ids = Vec::new();
    for &[t, h, w] in grids {
        for _ in 0..t {
            for by in 0..h / m {
                for bx in 0..w / m {
                    for iy in 0..m {
                        for ix in 0..m {
                            ids.push([by * m + iy, bx * m + ix]);
                        }
                    }
                }
            }
        }
    }
    ids
}

/// Cumulative patch counts per image frame (`cu_seqlens` of the full-attention blocks).
pub fn full_cu_seqlens(grids: &[Grid]) -> Vec<usize> {
    let mut cu = vec![0usize];
    for &[t, h, w] in grids {
        for _ in 0..t {
            let last = *cu.last().unwrap_or(&0);
            cu.push(last + h * w);
        }
    }
    cu
}

/// Vision self-attention (fused qkv with bias, output projection with bias).
#[derive(Debug, Clone)]
pub struct VisionAttention {
    qkv: Linear,
    proj: Linear,
    heads: usize,
}

impl VisionAttention {
    /// Loads `qkv` and `proj`.
    pub fn new(cfg: &VisionConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            qkv: linear(h, 3 * h, vb.pp("qkv"))?,
            proj: linear(h, h, vb.pp("proj"))?,
            heads: cfg.num_heads,
        })
    }

    /// The same layer on detached views of its weights (see [`Linear::detach`]).
    pub fn detach(&self) -> Self {
        Self {
            qkv: self.qkv.detach(),
            proj: self.proj.detach(),
            heads: self.heads,
        }
    }

    /// `x`: `(S, hidden)`; `cos`/`sin`: `(1, S, head_dim/2)`; attention within each
    /// `cu_seqlens` segment.
    pub fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        cu: &[usize],
        mode: OpsMode,
    ) -> candle_core::Result<Tensor> {
        let (s, hid) = x.dims2()?;
        let hd = hid / self.heads;
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((s, 3, self.heads, hd))?
            .permute((1, 2, 0, 3))?;
        let q = qkv.get(0)?.unsqueeze(0)?.contiguous()?;
        let k = qkv.get(1)?.unsqueeze(0)?.contiguous()?;
        let v = qkv.get(2)?.unsqueeze(0)?.contiguous()?;
        let q = ops::rope(&q, cos, sin, mode)?;
        let k = ops::rope(&k, cos, sin, mode)?;
        let scale = 1.0 / (hd as f64).sqrt();
        // Consecutive segments of equal length (the windows of same-sized images, or the images
        // themselves) are attended to as one batched matmul: a handful of graph nodes instead of
        // a few per segment, which matters for the training backward.
        let lens: Vec<(usize, usize)> = cu.windows(2).map(|w| (w[0], w[1] - w[0])).collect();
        let mut outs = Vec::new();
        let mut i = 0;
        while i < lens.len() {
            let (a, n) = lens[i];
            let mut segs = 1;
            while i + segs < lens.len() && lens[i + segs].1 == n {
                segs += 1;
            }
            i += segs;
            if n == 0 {
                continue;
            }
            let run = |t: &Tensor| -> candle_core::Result<Tensor> {
                t.narrow(2, a, segs * n)?
                    .contiguous()?
                    .reshape((self.heads, segs, n, hd))
            };
            let (qs, ks, vs) = (run(&q)?, run(&k)?, run(&v)?);
            let att = (kernels::matmul(&qs, &ks.t()?, "vision attention scores")? * scale)?;
            let att = ops::softmax_last(&att, mode)?;
            outs.push(
                kernels::matmul(&att, &vs, "vision attention output")?.reshape((
                    1,
                    self.heads,
                    segs * n,
                    hd,
                ))?,
            );
        }
        let y = Tensor::cat(&outs, 2)?; // (1, heads, S, hd)
        let y = y.squeeze(0)?.transpose(0, 1)?.reshape((s, hid))?;
        self.proj.forward(&y)
    }
}

/// SwiGLU MLP with biases.
#[derive(Debug, Clone)]
pub struct VisionMlp {
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl VisionMlp {
    /// Loads `gate_proj`, `up_proj`, `down_proj`.
    pub fn new(cfg: &VisionConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            gate: linear(h, i, vb.pp("gate_proj"))?,
            up: linear(h, i, vb.pp("up_proj"))?,
            down: linear(i, h, vb.pp("down_proj"))?,
        })
    }

    /// The same layer on detached views of its weights (see [`Linear::detach`]).
    pub fn detach(&self) -> Self {
        Self {
            gate: self.gate.detach(),
            up: self.up.detach(),
            down: self.down.detach(),
        }
    }
}

impl Module for VisionMlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let g = self.gate.forward(x)?.silu()?;
        self.down.forward(&(g * self.up.forward(x)?)?)
    }
}

/// One vision block.
#[derive(Debug, Clone)]
pub struct VisionBlock {
    norm1: Tensor,
    norm2: Tensor,
    attn: VisionAttention,
    mlp: VisionMlp,
}

impl VisionBlock {
    /// Loads `norm1`, `norm2`, `attn`, `mlp`.
    pub fn new(cfg: &VisionConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            norm1: vb.get(cfg.hidden_size, "norm1.weight")?,
            norm2: vb.get(cfg.hidden_size, "norm2.weight")?,
            attn: VisionAttention::new(cfg, vb.pp("attn"))?,
            mlp: VisionMlp::new(cfg, vb.pp("mlp"))?,
        })
    }

    /// The same block on detached views of its weights (see [`Linear::detach`]).
    pub fn detach(&self) -> Self {
        Self {
            norm1: self.norm1.detach(),
            norm2: self.norm2.detach(),
            attn: self.attn.detach(),
            mlp: self.mlp.detach(),
        }
    }

    /// Pre-norm attention and MLP with residuals.
    pub fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        cu: &[usize],
        mode: OpsMode,
    ) -> candle_core::Result<Tensor> {
        let h = ops::rms_norm(x, &self.norm1, VISION_EPS, mode)?;
        let x = (x + self.attn.forward(&h, cos, sin, cu, mode)?)?;
        let h = ops::rms_norm(&x, &self.norm2, VISION_EPS, mode)?;
        x + self.mlp.forward(&h)?
    }
}

/// The whole vision tower.
#[derive(Debug, Clone)]
pub struct VisionModel {
    cfg: VisionConfig,
    patch: Tensor,
    blocks: Vec<VisionBlock>,
    ln_q: Tensor,
    mlp0: Linear,
    mlp2: Linear,
}

impl VisionModel {
    /// `vb` is rooted at `visual`.
    pub fn new(cfg: &VisionConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        let patch = vb
            .get(
                (
                    h,
                    cfg.in_chans,
                    cfg.temporal_patch_size,
                    cfg.patch_size,
                    cfg.patch_size,
                ),
                "patch_embed.proj.weight",
            )?
            .reshape((h, cfg.patch_dim()))?;
        let blocks = (0..cfg.depth)
            .map(|i| VisionBlock::new(cfg, vb.pp(format!("blocks.{i}"))))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let mh = h * cfg.spatial_merge_size * cfg.spatial_merge_size;
        Ok(Self {
            cfg: cfg.clone(),
            patch,
            blocks,
            ln_q: vb.get(h, "merger.ln_q.weight")?,
            mlp0: linear(mh, mh, vb.pp("merger.mlp.0"))?,
            mlp2: linear(mh, cfg.out_hidden_size, vb.pp("merger.mlp.2"))?,
        })
    }

    /// The same tower on detached views of its weights (see [`Linear::detach`]).
    pub fn detach(&self) -> Self {
        Self {
            cfg: self.cfg.clone(),
            patch: self.patch.detach(),
            blocks: self.blocks.iter().map(VisionBlock::detach).collect(),
            ln_q: self.ln_q.detach(),
            mlp0: self.mlp0.detach(),
            mlp2: self.mlp2.detach(),
        }
    }

    /// Checks `pixel_values` `(N, patch_dim)` against the grids.
    pub fn check_inputs(cfg: &VisionConfig, pixel_values: &Tensor, grids: &[Grid]) -> Result<()> {
        let dims = pixel_values.dims();
        let m = cfg.spatial_merge_size;
        for g in grids {
            if g.contains(&0) || g[1] % m != 0 || g[2] % m != 0 {
                return input_err(format!(
                    "image_grid_thw row {g:?}: all entries must be positive and h, w multiples of {m}"
                ));
            }
        }
        let n: usize = grids.iter().map(|g| g[0] * g[1] * g[2]).sum();
        if dims.len() != 2 || dims[0] != n || dims[1] != cfg.patch_dim() {
            return input_err(format!(
                "pixel_values has shape {dims:?}, but image_grid_thw {grids:?} needs [{n}, {}]",
                cfg.patch_dim()
            ));
        }
        Ok(())
    }

    /// Image embeddings `(N/merge², out_hidden)` in the input (un-windowed) order.
    pub fn forward(&self, pixel_values: &Tensor, grids: &[Grid], mode: OpsMode) -> Result<Tensor> {
        Self::check_inputs(&self.cfg, pixel_values, grids)?;
        let dev = pixel_values.device().clone();
        let dtype = self.patch.dtype();
        let s = pixel_values.dim(0)?;
        let hid = self.cfg.hidden_size;
        let unit = self.cfg.spatial_merge_size * self.cfg.spatial_merge_size;
        let x = kernels::matmul(
            &pixel_values.to_dtype(dtype)?,
            &self.patch.t()?,
            "vision patch embedding",
        )?;
        let (widx, cu_win) = window_index(&self.cfg, grids);
        let cu_full = full_cu_seqlens(grids);
        let (cos, sin) = self.rotary(grids, &widx, &dev)?;
        let widx_t = Tensor::from_vec(
            widx.iter().map(|&i| i as u32).collect::<Vec<_>>(),
            widx.len(),
            &dev,
        )?;
        let mut x = x
            .reshape((s / unit, unit * hid))?
            .index_select(&widx_t, 0)?
            .reshape((s, hid))?;
        for (i, blk) in self.blocks.iter().enumerate() {
            let cu = if self.cfg.fullatt_block_indexes.contains(&i) {
                &cu_full
            } else {
                &cu_win
            };
            x = blk.forward(&x, &cos, &sin, cu, mode)?;
        }
        let x = ops::rms_norm(&x, &self.ln_q, VISION_EPS, mode)?.reshape((s / unit, unit * hid))?;
        let x = self
            .mlp2
            .forward(&ops::gelu_erf(&self.mlp0.forward(&x)?, mode)?)?;
        let mut inv = vec![0u32; widx.len()];
        for (p, &i) in widx.iter().enumerate() {
            inv[i] = p as u32;
        }
        let inv = Tensor::from_vec(inv, widx.len(), &dev)?;
        Ok(x.index_select(&inv, 0)?)
    }

    /// Vision RoPE half-tables `(1, S, head_dim/2)` in window order.
    fn rotary(&self, grids: &[Grid], widx: &[usize], dev: &Device) -> Result<(Tensor, Tensor)> {
        let hd = self.cfg.head_dim();
        let inv = inv_freq(hd / 2, 10000.0);
        let ids = rot_pos_ids(&self.cfg, grids);
        let unit = self.cfg.spatial_merge_size * self.cfg.spatial_merge_size;
        let half = hd / 2;
        let mut cos = Vec::with_capacity(ids.len() * half);
        let mut sin = Vec::with_capacity(ids.len() * half);
        for &w in widx {
            for u in 0..unit {
                let [r, c] = ids[w * unit + u];
                for p in [r, c] {
                    for &f in &inv {
                        let a = p as f32 * f;
                        cos.push(a.cos());
                        sin.push(a.sin());
                    }
                }
            }
        }
        let n = ids.len();
        let dtype = self.patch.dtype();
        Ok((
            Tensor::from_vec(cos, (1, n, half), dev)?.to_dtype(dtype)?,
            Tensor::from_vec(sin, (1, n, half), dev)?.to_dtype(dtype)?,
        ))
    }
}
