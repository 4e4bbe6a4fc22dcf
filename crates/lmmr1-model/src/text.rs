//! The Qwen2 text decoder: GQA attention with q/k/v biases, RMSNorm, SwiGLU MLP, M-RoPE, reading
//! and filling a per-layer KV cache ([`crate::kv_cache`]) during generation.

use candle_core::{DType, Device, Module, Tensor};

use candle_nn::VarBuilder;

use crate::config::Config;
use crate::kv_cache::{KvCache, LayerCache};
use crate::ops::{self, Linear, LinearGroup, OpsMode};

fn linear(i: usize, o: usize, bias: bool, vb: VarBuilder) -> candle_core::Result<Linear> {
    let w = vb.get((o, i), "weight")?;
    let b = if bias { Some(vb.get(o, "bias")?) } else { None };
    Linear::new(w, b)
}

/// Self-attention of one decoder layer.
#[derive(Debug, Clone)]
pub struct Attention {
    qkv: LinearGroup,
    o: Linear,
    n_heads: usize,
    n_kv: usize,
    head_dim: usize,
}

impl Attention {
    /// Loads `q_proj`, `k_proj`, `v_proj` (with bias) and `o_proj` (without).
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = cfg.hidden_size;
        let hd = cfg.head_dim();
        let (nq, nkv) = (cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd);
        let part = |n: usize, name: &str| -> candle_core::Result<(Tensor, Option<Tensor>)> {
            Ok((
                vb.get((n, h), &format!("{name}.weight"))?,
                Some(vb.get(n, &format!("{name}.bias"))?),
            ))
        };
        Ok(Self {
            qkv: LinearGroup::new(vec![
                part(nq, "q_proj")?,
                part(nkv, "k_proj")?,
                part(nkv, "v_proj")?,
            ])?,
            o: linear(cfg.num_attention_heads * hd, h, false, vb.pp("o_proj"))?,
            n_heads: cfg.num_attention_heads,
            n_kv: cfg.num_key_value_heads,
            head_dim: hd,
        })
    }

    /// The same layer on detached views of its weights (see [`Linear::detach`]).
    pub fn detach(&self) -> Self {
        Self {
            qkv: self.qkv.detach(),
            o: self.o.detach(),
            ..*self
        }
    }

    /// `x`: `(B, T, H)`; `cos`/`sin`: `(B, T, head_dim/2)`; `mask`: additive `(B, 1, T, T_past+T)`.
    pub fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
        cache: Option<&mut LayerCache>,
        mode: OpsMode,
    ) -> candle_core::Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let hd = self.head_dim;
        let qkv = self.qkv.forward(x)?;
        let q = qkv[0].reshape((b, t, self.n_heads, hd))?.transpose(1, 2)?;
        let k = qkv[1].reshape((b, t, self.n_kv, hd))?.transpose(1, 2)?;
        let v = qkv[2]
            .reshape((b, t, self.n_kv, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let q = ops::rope(&q.contiguous()?, cos, sin, mode)?;
        let k = ops::rope(&k.contiguous()?, cos, sin, mode)?;
        // GQA without copying keys/values: the `groups` query heads of one kv head are stacked
        // along the query axis, `(B, n_kv, groups·T, hd)`, and the mask is broadcast over them.
        let groups = self.n_heads / self.n_kv;
        let q = q.reshape((b, self.n_kv, groups * t, hd))?;
        let scale = 1.0 / (hd as f64).sqrt();
        // (B, n_kv, groups·T, hd) = (B, n_heads, T, hd)
        let y = match cache {
            Some(c) => ops::attention_cached(&q, &c.append(&k, &v)?, mask, scale, groups, mode)?,
            None => ops::attention(&q, &k, &v, mask, scale, groups, mode)?,
        };
        let y = y
            .reshape((b, self.n_heads, t, hd))?
            .transpose(1, 2)?
            .reshape((b, t, self.n_heads * hd))?;
        self.o.forward(&y)
    }
}

/// SwiGLU MLP without biases.
#[derive(Debug, Clone)]
pub struct Mlp {
    gate_up: LinearGroup,
    down: Linear,
}

impl Mlp {
    /// Loads `gate_proj`, `up_proj`, `down_proj`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            gate_up: LinearGroup::new(vec![
                (vb.get((i, h), "gate_proj.weight")?, None),
                (vb.get((i, h), "up_proj.weight")?, None),
            ])?,
            down: linear(i, h, false, vb.pp("down_proj"))?,
        })
    }

    /// The same layer on detached views of its weights (see [`Linear::detach`]).
    pub fn detach(&self) -> Self {
        Self {
            gate_up: self.gate_up.detach(),
            down: self.down.detach(),
        }
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let gu = self.gate_up.forward(x)?;
        self.down.forward(&crate::kernels::swiglu(&gu[0], &gu[1])?)
    }
}

/// One decoder layer (pre-norm attention and MLP with residuals).
#[derive(Debug, Clone)]
pub struct DecoderLayer {
    attn: Attention,
    mlp: Mlp,
    ln1: Tensor,
    ln2: Tensor,
    eps: f64,
}

impl DecoderLayer {
    /// Loads `self_attn`, `mlp`, `input_layernorm`, `post_attention_layernorm`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            attn: Attention::new(cfg, vb.pp("self_attn"))?,
            mlp: Mlp::new(cfg, vb.pp("mlp"))?,
            ln1: vb.get(cfg.hidden_size, "input_layernorm.weight")?,
            ln2: vb.get(cfg.hidden_size, "post_attention_layernorm.weight")?,
            eps: cfg.rms_norm_eps,
        })
    }

    /// The same layer on detached views of its weights (see [`Linear::detach`]).
    pub fn detach(&self) -> Self {
        Self {
            attn: self.attn.detach(),
            mlp: self.mlp.detach(),
            ln1: self.ln1.detach(),
            ln2: self.ln2.detach(),
            eps: self.eps,
        }
    }

    /// See [`Attention::forward`].
    pub fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
        cache: Option<&mut LayerCache>,
        mode: OpsMode,
    ) -> candle_core::Result<Tensor> {
        let h = ops::rms_norm(x, &self.ln1, self.eps, mode)?;
        let x = (x + self.attn.forward(&h, cos, sin, mask, cache, mode)?)?;
        let h = ops::rms_norm(&x, &self.ln2, self.eps, mode)?;
        x + self.mlp.forward(&h)?
    }
}

/// Embeddings, decoder layers, final norm and LM head.
#[derive(Debug, Clone)]
pub struct TextModel {
    /// `embed_tokens.weight`, `(V, H)`.
    pub embed: Tensor,
    layers: Vec<DecoderLayer>,
    norm: Tensor,
    lm_head: Linear,
    eps: f64,
}

impl TextModel {
    /// `vb` is rooted at the checkpoint root: it reads `model.*` and `lm_head.weight` (or the
    /// embeddings when `tie_word_embeddings`).
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let m = vb.pp("model");
        let embed = m.get((cfg.vocab_size, cfg.hidden_size), "embed_tokens.weight")?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| DecoderLayer::new(cfg, m.pp(format!("layers.{i}"))))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let norm = m.get(cfg.hidden_size, "norm.weight")?;
        let lm_head = if cfg.tie_word_embeddings {
            // The embeddings are kept anyway: the weight-first product costs no memory.
            Linear::new_keeping_weight(embed.clone(), None)?
        } else {
            Linear::new(
                vb.get((cfg.vocab_size, cfg.hidden_size), "lm_head.weight")?,
                None,
            )?
        };
        Ok(Self {
            embed,
            layers,
            norm,
            lm_head,
            eps: cfg.rms_norm_eps,
        })
    }

    /// Number of decoder layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// The decoder layers.
    pub fn layers(&self) -> &[DecoderLayer] {
        &self.layers
    }

    /// The final RMSNorm over hidden states `(…, H)`.
    pub fn final_norm(&self, x: &Tensor, mode: OpsMode) -> candle_core::Result<Tensor> {
        ops::rms_norm(x, &self.norm, self.eps, mode)
    }

    /// The same model on detached views of its weights (see [`Linear::detach`]).
    pub fn detach(&self) -> Self {
        Self {
            embed: self.embed.detach(),
            layers: self.layers.iter().map(DecoderLayer::detach).collect(),
            norm: self.norm.detach(),
            lm_head: self.lm_head.detach(),
            eps: self.eps,
        }
    }

    /// Token embeddings `(B, T, H)` of `ids` `(B, T)` (u32).
    pub fn embed(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let h = self.embed.dim(1)?;
        self.embed
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, t, h))
    }

    /// Runs the layers and the final norm: hidden states `(B, T, H)`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_hidden(
        &self,
        embeds: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &Tensor,
        mut cache: Option<&mut KvCache>,
        mode: OpsMode,
    ) -> candle_core::Result<Tensor> {
        let mut x = embeds.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            let c = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            x = layer.forward(&x, cos, sin, mask, c, mode)?;
        }
        self.final_norm(&x, mode)
    }

    /// Logits `(…, V)` of normed hidden states `(…, H)`.
    pub fn lm_head(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        self.lm_head.forward(h)
    }

    /// `log_softmax(lm_head(h))[target]` for normed hidden states `(…, H)` and targets `(…)`,
    /// and with `entropy` each position's entropy: [`crate::kernels::head_token_logprobs`]
    /// (the head has no bias), so the `(…, V)` logits are never a tensor of the graph.
    pub fn lm_head_logprobs(
        &self,
        h: &Tensor,
        targets: &Tensor,
        entropy: bool,
    ) -> candle_core::Result<(Tensor, Option<Tensor>)> {
        crate::kernels::head_token_logprobs(h, &self.lm_head.product_weight()?, targets, entropy)
    }
}

/// The additive attention mask `(B, 1, T, P+T)`: query `i` (at cache position `P+i`) sees key `j`
/// when `j ≤ P+i` and `key_mask[b][j] != 0`. Blocked entries are `f32::MIN` (as transformers), so
/// fully masked rows (pads) stay finite.
pub fn causal_mask(
    key_mask: &[u32],
    batch: usize,
    past: usize,
    t: usize,
    dtype: DType,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let tk = past + t;
    // The most negative finite value of the dtype: a row whose keys are all blocked (a pad
    // query) then gets a uniform softmax, where −∞ would give NaN (−∞ − (−∞)) and spread it
    // through every masked sum. f32::MIN rounds to −∞ in bf16 and f16; −3e38 stays finite in
    // bf16, and f16 tops out at 65,504.
    let neg = match dtype {
        DType::F16 => -65_504.0,
        DType::BF16 => -3.0e38,
        _ => f32::MIN,
    };
    let mut m = vec![0f32; batch * t * tk];
    for b in 0..batch {
        for i in 0..t {
            for j in 0..tk {
                if j > past + i || key_mask[b * tk + j] == 0 {
                    m[(b * t + i) * tk + j] = neg;
                }
            }
        }
    }
    Tensor::from_vec(m, (batch, 1, t, tk), device)?.to_dtype(dtype)
}
