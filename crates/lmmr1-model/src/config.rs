//! `config.json` of a Qwen2.5-VL checkpoint.
//!
//! Two layouts exist and both parse to the same [`Config`]:
//! * the flat hub layout of the released checkpoints: text fields at the top level,
//!   `rope_scaling {type: "mrope", mrope_section}` and a `vision_config` object;
//! * transformers 5's nested layout: text fields inside `text_config`, the rope settings in
//!   `text_config.rope_parameters` (or `rope_scaling`), token ids at the top level.
//!
//! Unknown fields are ignored; a missing required field is an error that names it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

fn default_rms_eps() -> f64 {
    1e-6
}
fn default_theta() -> f64 {
    1_000_000.0
}
fn default_vision_start() -> u32 {
    151652
}
fn default_vision_end() -> u32 {
    151653
}
fn default_image_token() -> u32 {
    151655
}
fn default_video_token() -> u32 {
    151656
}
fn default_tokens_per_second() -> f64 {
    2.0
}
fn default_in_chans() -> usize {
    3
}

/// The vision tower's settings (`vision_config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionConfig {
    /// Number of vision blocks.
    pub depth: usize,
    /// Width of the vision blocks.
    pub hidden_size: usize,
    /// SwiGLU width of the vision MLP.
    pub intermediate_size: usize,
    /// Attention heads.
    pub num_heads: usize,
    /// Input channels (`in_chans`, or `in_channels` in newer dumps).
    #[serde(default = "default_in_chans", alias = "in_channels")]
    pub in_chans: usize,
    /// Spatial patch size in pixels.
    pub patch_size: usize,
    /// Side of the merged block (2 → 2×2 patches per LLM token).
    pub spatial_merge_size: usize,
    /// Frames per temporal patch.
    pub temporal_patch_size: usize,
    /// Attention window side in pixels.
    pub window_size: usize,
    /// Blocks that attend over the whole image instead of windows.
    pub fullatt_block_indexes: Vec<usize>,
    /// Width of the merger output (the text hidden size).
    pub out_hidden_size: usize,
    /// Temporal rope scale for videos.
    #[serde(default = "default_tokens_per_second")]
    pub tokens_per_second: f64,
}

impl VisionConfig {
    /// Channels × temporal × patch² = the row width of `pixel_values` (1176 for Qwen2.5-VL).
    pub fn patch_dim(&self) -> usize {
        self.in_chans * self.temporal_patch_size * self.patch_size * self.patch_size
    }
    /// Head width.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }
}

/// The whole model's settings, normalised from either layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Vocabulary (embedding rows).
    pub vocab_size: usize,
    /// Decoder width.
    pub hidden_size: usize,
    /// SwiGLU width of the decoder MLP.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (GQA).
    pub num_key_value_heads: usize,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
    /// M-RoPE split of the `head_dim/2` frequencies into (temporal, height, width).
    pub mrope_section: Vec<usize>,
    /// Whether `lm_head` shares `embed_tokens`' weight.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// `<|vision_start|>`.
    #[serde(default = "default_vision_start")]
    pub vision_start_token_id: u32,
    /// `<|vision_end|>`.
    #[serde(default = "default_vision_end")]
    pub vision_end_token_id: u32,
    /// `<|image_pad|>`.
    #[serde(default = "default_image_token")]
    pub image_token_id: u32,
    /// `<|video_pad|>`.
    #[serde(default = "default_video_token")]
    pub video_token_id: u32,
    /// End-of-sequence id(s), if given.
    #[serde(default)]
    pub eos_token_id: Option<serde_json::Value>,
    /// The vision tower.
    pub vision_config: VisionConfig,
}

const TEXT_FIELDS: &[&str] = &[
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "rms_norm_eps",
    "rope_theta",
    "tie_word_embeddings",
    "eos_token_id",
];

/// Built-in configurations for benchmarks and tests: `tiny` (the parity fixtures' model: hidden
/// 64, 2 layers, vocab 1024) and `100m` (hidden 768, 12 layers, 12/2 heads, FFN 2048, tied vocab
/// 32000: 98M parameters, of which 24.6M embeddings).
pub fn preset(name: &str) -> Result<Config> {
    let (v, h, i, l, nh, nkv, ms, tied) = match name {
        "tiny" => (1024, 64, 128, 2, 4, 2, [2, 3, 3], false),
        "100m" => (32000, 768, 2048, 12, 12, 2, [8, 12, 12], true),
        _ => {
            return Err(Error::Json {
                path: "<preset>".into(),
                msg: format!("unknown preset {name:?} (tiny, 100m)"),
            })
        }
    };
    let j = serde_json::json!({
        "vocab_size": v, "hidden_size": h, "intermediate_size": i, "num_hidden_layers": l,
        "num_attention_heads": nh, "num_key_value_heads": nkv, "rms_norm_eps": 1e-6,
        "rope_theta": 1e6, "rope_scaling": {"type": "mrope", "mrope_section": ms},
        "tie_word_embeddings": tied, "image_token_id": 1000, "video_token_id": 1001,
        "vision_start_token_id": 1002, "vision_end_token_id": 1003, "eos_token_id": 1004,
        "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2,
            "in_chans": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
            "window_size": 56, "fullatt_block_indexes": [1], "out_hidden_size": h,
            "tokens_per_second": 2}
    });
    Config::from_json_str(&j.to_string())
}

impl Config {
    /// Head width of the decoder.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// End-of-sequence ids listed in the config (a number or a list).
    pub fn eos_token_ids(&self) -> Vec<u32> {
        match &self.eos_token_id {
            Some(serde_json::Value::Number(n)) => {
                n.as_u64().map(|v| vec![v as u32]).unwrap_or_default()
            }
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_u64())
                .map(|v| v as u32)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `config.json` in the flat hub layout (text fields at the top level,
    /// `rope_scaling {type: "mrope"}`), which [`Config::from_json_str`] and transformers 5's
    /// `Qwen2_5_VLConfig` both read. `torch_dtype` names the weights' dtype (`"float32"`,
    /// `"bfloat16"`, …). Fields this crate does not keep (`bos_token_id`,
    /// `max_position_embeddings`, …) are left to transformers' defaults.
    pub fn to_hub_json(&self, torch_dtype: &str) -> serde_json::Value {
        let vc = &self.vision_config;
        // transformers' strict config types want an int here when the value is integral.
        let tps = if vc.tokens_per_second.fract() == 0.0 && vc.tokens_per_second.abs() < 1e15 {
            serde_json::json!(vc.tokens_per_second as i64)
        } else {
            serde_json::json!(vc.tokens_per_second)
        };
        let mut j = serde_json::json!({
            "architectures": ["Qwen2_5_VLForConditionalGeneration"],
            "model_type": "qwen2_5_vl",
            "torch_dtype": torch_dtype,
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "hidden_act": "silu",
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": {"type": "mrope", "mrope_section": self.mrope_section},
            "tie_word_embeddings": self.tie_word_embeddings,
            "use_sliding_window": false,
            "vision_start_token_id": self.vision_start_token_id,
            "vision_end_token_id": self.vision_end_token_id,
            "image_token_id": self.image_token_id,
            "video_token_id": self.video_token_id,
            "vision_config": {
                "depth": vc.depth,
                "hidden_size": vc.hidden_size,
                "intermediate_size": vc.intermediate_size,
                "num_heads": vc.num_heads,
                "hidden_act": "silu",
                "in_chans": vc.in_chans,
                "in_channels": vc.in_chans,
                "patch_size": vc.patch_size,
                "spatial_patch_size": vc.patch_size,
                "spatial_merge_size": vc.spatial_merge_size,
                "temporal_patch_size": vc.temporal_patch_size,
                "window_size": vc.window_size,
                "fullatt_block_indexes": vc.fullatt_block_indexes,
                "out_hidden_size": vc.out_hidden_size,
                "tokens_per_second": tps,
            },
        });
        if let (Some(eos), Some(obj)) = (&self.eos_token_id, j.as_object_mut()) {
            obj.insert("eos_token_id".into(), eos.clone());
        }
        j
    }

    /// Reads and parses `path` (a `config.json`).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let s = std::fs::read_to_string(path).map_err(|error| Error::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_json_str(&s).map_err(|e| match e {
            Error::Json { msg, .. } => Error::Json {
                path: path.to_path_buf(),
                msg,
            },
            e => e,
        })
    }

    /// Parses a `config.json` text in either layout.
    pub fn from_json_str(s: &str) -> Result<Self> {
        let err = |msg: String| Error::Json {
            path: "<string>".into(),
            msg,
        };
        let v: serde_json::Value = serde_json::from_str(s).map_err(|e| err(e.to_string()))?;
        let top = v
            .as_object()
            .ok_or_else(|| err("config is not a JSON object".into()))?;
        let mut flat = top.clone();
        // transformers 5: text fields live in `text_config` (they win over stale top-level copies).
        if let Some(tc) = top.get("text_config").and_then(|t| t.as_object()) {
            for (k, val) in tc {
                if TEXT_FIELDS.contains(&k.as_str())
                    || k == "rope_scaling"
                    || k == "rope_parameters"
                    || !flat.contains_key(k)
                {
                    flat.insert(k.clone(), val.clone());
                }
            }
        }
        // The rope settings: `rope_scaling` (hub) or `rope_parameters` (transformers 5).
        let rope = flat
            .get("rope_parameters")
            .filter(|r| r.get("mrope_section").is_some())
            .or_else(|| flat.get("rope_scaling"))
            .cloned();
        if let Some(rope) = rope.as_ref().and_then(|r| r.as_object()) {
            if let Some(ms) = rope.get("mrope_section") {
                flat.insert("mrope_section".into(), ms.clone());
            }
            if !flat.contains_key("rope_theta") {
                if let Some(t) = rope.get("rope_theta") {
                    flat.insert("rope_theta".into(), t.clone());
                }
            }
        }
        // Newer dumps carry both `in_chans` and `in_channels`: keep one (serde rejects both).
        if let Some(vc) = flat
            .get_mut("vision_config")
            .and_then(|v| v.as_object_mut())
        {
            if vc.contains_key("in_chans") {
                vc.remove("in_channels");
            }
        }
        let cfg: Config = serde_json::from_value(serde_json::Value::Object(flat))
            .map_err(|e| err(e.to_string()))?;
        cfg.validate().map_err(err)?;
        Ok(cfg)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.num_attention_heads == 0
            || self.hidden_size % self.num_attention_heads != 0
            || self.num_key_value_heads == 0
            || self.num_attention_heads % self.num_key_value_heads != 0
        {
            return Err(format!(
                "hidden_size {} / num_attention_heads {} / num_key_value_heads {} are inconsistent",
                self.hidden_size, self.num_attention_heads, self.num_key_value_heads
            ));
        }
        let half = self.head_dim() / 2;
        if self.mrope_section.len() != 3 || self.mrope_section.iter().sum::<usize>() != half {
            return Err(format!(
                "mrope_section {:?} must have 3 entries summing to head_dim/2 = {half}",
                self.mrope_section
            ));
        }
        let vc = &self.vision_config;
        if vc.num_heads == 0 || vc.hidden_size % vc.num_heads != 0 || vc.head_dim() % 4 != 0 {
            return Err(format!(
                "vision_config: hidden_size {} / num_heads {} must give a head_dim divisible by 4",
                vc.hidden_size, vc.num_heads
            ));
        }
        let unit = vc.spatial_merge_size * vc.patch_size;
        if unit == 0 || vc.window_size % unit != 0 || vc.window_size < unit {
            return Err(format!(
                "vision_config: window_size {} must be a positive multiple of spatial_merge_size*patch_size = {unit}",
                vc.window_size
            ));
        }
        if vc.out_hidden_size != self.hidden_size {
            return Err(format!(
                "vision_config.out_hidden_size {} != hidden_size {}",
                vc.out_hidden_size, self.hidden_size
            ));
        }
        Ok(())
    }
}
