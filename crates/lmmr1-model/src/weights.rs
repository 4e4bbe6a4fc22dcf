//! Checkpoint loading: `model.safetensors` or sharded files listed by
//! `model.safetensors.index.json`, with the key prefixes of the different exporters normalised
//! to the hub layout (`model.*`, `visual.*`, `lm_head.*`), tied embeddings, dtype conversion,
//! and errors that name missing, unexpected or misshapen tensors.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::config::Config;
use crate::error::{Error, Result};

/// The safetensors files of a checkpoint directory: the shards named in
/// `model.safetensors.index.json` if it exists, else `model.safetensors`.
pub fn checkpoint_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let s = std::fs::read_to_string(&index).map_err(|error| Error::Io {
            path: index.clone(),
            error,
        })?;
        let v: serde_json::Value = serde_json::from_str(&s).map_err(|e| Error::Json {
            path: index.clone(),
            msg: e.to_string(),
        })?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| Error::Json {
                path: index.clone(),
                msg: "missing field `weight_map`".into(),
            })?;
        let files: BTreeSet<&str> = map.values().filter_map(|f| f.as_str()).collect();
        return Ok(files.into_iter().map(|f| dir.join(f)).collect());
    }
    let single = dir.join("model.safetensors");
    if !single.exists() {
        return Err(Error::Io {
            path: single,
            error: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no model.safetensors nor model.safetensors.index.json",
            ),
        });
    }
    Ok(vec![single])
}

/// Maps the key layouts of other exporters to the hub layout: transformers ≥ 4.52
/// (`model.language_model.*`, `model.visual.*`) and MLX (`language_model.model.*`,
/// `vision_tower.*`).
pub fn normalize_name(name: &str) -> String {
    const MAP: &[(&str, &str)] = &[
        ("model.language_model.", "model."),
        ("model.visual.", "visual."),
        ("language_model.model.", "model."),
        ("language_model.lm_head.", "lm_head."),
        ("vision_tower.", "visual."),
    ];
    for (from, to) in MAP {
        if let Some(rest) = name.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    name.to_string()
}

/// Parameter count of the checkpoint tensors (tied embeddings counted once).
pub fn num_params(cfg: &Config) -> usize {
    expected_tensors(cfg)
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum()
}

/// Every tensor the architecture reads, with its shape (hub names). `lm_head.weight` is
/// included only when the embeddings are not tied.
pub fn expected_tensors(cfg: &Config) -> Vec<(String, Vec<usize>)> {
    let mut v = Vec::new();
    let (h, hd) = (cfg.hidden_size, cfg.head_dim());
    let (nq, nkv, ffn) = (
        cfg.num_attention_heads * hd,
        cfg.num_key_value_heads * hd,
        cfg.intermediate_size,
    );
    v.push((
        "model.embed_tokens.weight".to_string(),
        vec![cfg.vocab_size, h],
    ));
    for i in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{i}");
        v.push((format!("{p}.input_layernorm.weight"), vec![h]));
        v.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
        v.push((format!("{p}.self_attn.q_proj.weight"), vec![nq, h]));
        v.push((format!("{p}.self_attn.q_proj.bias"), vec![nq]));
        v.push((format!("{p}.self_attn.k_proj.weight"), vec![nkv, h]));
        v.push((format!("{p}.self_attn.k_proj.bias"), vec![nkv]));
        v.push((format!("{p}.self_attn.v_proj.weight"), vec![nkv, h]));
        v.push((format!("{p}.self_attn.v_proj.bias"), vec![nkv]));
        v.push((format!("{p}.self_attn.o_proj.weight"), vec![h, nq]));
        v.push((format!("{p}.mlp.gate_proj.weight"), vec![ffn, h]));
        v.push((format!("{p}.mlp.up_proj.weight"), vec![ffn, h]));
        v.push((format!("{p}.mlp.down_proj.weight"), vec![h, ffn]));
    }
    v.push(("model.norm.weight".to_string(), vec![h]));
    if !cfg.tie_word_embeddings {
        v.push(("lm_head.weight".to_string(), vec![cfg.vocab_size, h]));
    }
    let vc = &cfg.vision_config;
    let (vh, vf) = (vc.hidden_size, vc.intermediate_size);
    v.push((
        "visual.patch_embed.proj.weight".to_string(),
        vec![
            vh,
            vc.in_chans,
            vc.temporal_patch_size,
            vc.patch_size,
            vc.patch_size,
        ],
    ));
    for i in 0..vc.depth {
        let p = format!("visual.blocks.{i}");
        v.push((format!("{p}.norm1.weight"), vec![vh]));
        v.push((format!("{p}.norm2.weight"), vec![vh]));
        v.push((format!("{p}.attn.qkv.weight"), vec![3 * vh, vh]));
        v.push((format!("{p}.attn.qkv.bias"), vec![3 * vh]));
        v.push((format!("{p}.attn.proj.weight"), vec![vh, vh]));
        v.push((format!("{p}.attn.proj.bias"), vec![vh]));
        for (n, o, i_) in [
            ("gate_proj", vf, vh),
            ("up_proj", vf, vh),
            ("down_proj", vh, vf),
        ] {
            v.push((format!("{p}.mlp.{n}.weight"), vec![o, i_]));
            v.push((format!("{p}.mlp.{n}.bias"), vec![o]));
        }
    }
    let mh = vh * vc.spatial_merge_size * vc.spatial_merge_size;
    v.push(("visual.merger.ln_q.weight".to_string(), vec![vh]));
    v.push(("visual.merger.mlp.0.weight".to_string(), vec![mh, mh]));
    v.push(("visual.merger.mlp.0.bias".to_string(), vec![mh]));
    v.push((
        "visual.merger.mlp.2.weight".to_string(),
        vec![vc.out_hidden_size, mh],
    ));
    v.push((
        "visual.merger.mlp.2.bias".to_string(),
        vec![vc.out_hidden_size],
    ));
    v
}

/// Loads and checks all tensors of the checkpoint in `dir`, converted to `dtype` on `device`,
/// under their hub names. A tied checkpoint may carry a copy of `lm_head.weight`; it is dropped.
pub fn load_checked(
    dir: &Path,
    cfg: &Config,
    dtype: DType,
    device: &Device,
) -> Result<HashMap<String, Tensor>> {
    Ok(load_checked_with_extras(dir, cfg, dtype, device, &[])?.0)
}

/// [`load_checked`] that also accepts the tensors named in `extras` (hub names, e.g. a value
/// head's `score.weight`): they are returned apart, converted but unchecked, when present.
pub fn load_checked_with_extras(
    dir: &Path,
    cfg: &Config,
    dtype: DType,
    device: &Device,
    extras: &[&str],
) -> Result<(HashMap<String, Tensor>, HashMap<String, Tensor>)> {
    let mut raw: HashMap<String, (String, Tensor)> = HashMap::new();
    for f in checkpoint_files(dir)? {
        if !f.exists() {
            return Err(Error::Io {
                path: f,
                error: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "shard listed in the index is missing",
                ),
            });
        }
        let ts = read_safetensors(&f, device)?;
        for (k, t) in ts {
            raw.insert(normalize_name(&k), (k, t));
        }
    }
    check_tensors(dir, cfg, raw, dtype, extras)
}

/// Checks tensors keyed by hub name (each with the name it was stored under) against
/// [`expected_tensors`]: missing, unexpected (other than `extras`, and `lm_head.weight` when the
/// embeddings are tied, which is dropped) and misshapen tensors are errors; `source` (the
/// checkpoint directory) names them. Returns the architecture's tensors and the extras present,
/// all converted to `dtype`.
pub fn check_tensors(
    source: &Path,
    cfg: &Config,
    mut raw: HashMap<String, (String, Tensor)>,
    dtype: DType,
    extras: &[&str],
) -> Result<(HashMap<String, Tensor>, HashMap<String, Tensor>)> {
    let expected = expected_tensors(cfg);
    let missing: Vec<String> = expected
        .iter()
        .filter(|(n, _)| !raw.contains_key(n))
        .map(|(n, _)| n.clone())
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingTensors {
            dir: source.to_path_buf(),
            names: missing,
        });
    }
    let names: BTreeSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    let mut extra: Vec<String> = raw
        .iter()
        .filter(|(n, _)| {
            !(names.contains(n.as_str())
                || extras.contains(&n.as_str())
                || cfg.tie_word_embeddings && *n == "lm_head.weight")
        })
        .map(|(_, (orig, _))| orig.clone())
        .collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(Error::ExtraTensors {
            dir: source.to_path_buf(),
            names: extra,
        });
    }
    let mut out = HashMap::with_capacity(expected.len());
    for (name, shape) in expected {
        let Some((_, t)) = raw.remove(&name) else {
            continue;
        };
        if t.dims() != shape.as_slice() {
            return Err(Error::Shape {
                name,
                expected: shape,
                found: t.dims().to_vec(),
            });
        }
        out.insert(name, t.to_dtype(dtype)?);
    }
    let mut found = HashMap::new();
    for &name in extras {
        if let Some((_, t)) = raw.remove(name) {
            found.insert(name.to_string(), t.to_dtype(dtype)?);
        }
    }
    Ok((out, found))
}

/// A [`candle_nn::VarBuilder`] backend that hands each tensor out once and forgets it, so that
/// layers which keep a transformed copy (the transposed CPU weights of [`crate::ops::Linear`])
/// let the original go at once: loading peaks near one copy of the weights instead of two.
pub struct TakeOnce {
    tensors: std::sync::Mutex<HashMap<String, Tensor>>,
}

impl TakeOnce {
    /// Wraps checked tensors (see [`load_checked`]).
    pub fn new(tensors: HashMap<String, Tensor>) -> Self {
        Self {
            tensors: std::sync::Mutex::new(tensors),
        }
    }

    fn take(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let t = self
            .tensors
            .lock()
            .map_err(|_| candle_core::Error::Msg("weights lock poisoned".into()))?
            .remove(name)
            .ok_or_else(|| {
                candle_core::Error::CannotFindTensor {
                    path: name.to_string(),
                }
                .bt()
            })?;
        t.to_device(dev)?.to_dtype(dtype)
    }
}

impl candle_nn::var_builder::SimpleBackend for TakeOnce {
    fn get(
        &self,
        s: candle_core::Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.take(name, dtype, dev)?;
        if t.shape() != &s {
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: s,
                got: t.shape().clone(),
            }
            .bt());
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.take(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors
            .lock()
            .map(|m| m.contains_key(name))
            .unwrap_or(false)
    }
}

/// Reads a whole safetensors file. An error names the file and says in words what is wrong
/// (candle's own messages, such as `header too large`, do not say that the file is damaged).
pub fn read_safetensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    candle_core::safetensors::load(path, device).map_err(|e| {
        let mut root = &e;
        loop {
            root = match root {
                candle_core::Error::Context { inner, .. }
                | candle_core::Error::WithPath { inner, .. }
                | candle_core::Error::WithBacktrace { inner, .. } => inner,
                _ => break,
            };
        }
        let msg = match root {
            candle_core::Error::Io(io) => io.to_string(),
            candle_core::Error::SafeTensor(st) => {
                format!("not a safetensors file, or a truncated or damaged one ({st})")
            }
            other => format!("cannot read its tensors: {other}"),
        };
        Error::Tensors {
            path: path.to_path_buf(),
            msg,
        }
    })
}
