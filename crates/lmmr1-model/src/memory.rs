//! The memory planner: what a run will hold, component by component, from `config.json` and
//! the run's shape alone (no weights are loaded).
//!
//! Static, for the whole run:
//! * `weights`: every parameter in the compute dtype (the policy; its rollout and no-grad
//!   copies share that storage). On the native CPU path a frozen f32 matrix is kept twice
//!   (its packed inference copy beside the tensor);
//! * `master_weights`: f32 masters of the trainable parameters in mixed precision;
//! * `optimizer`: AdamW's two f32 moments per trainable parameter;
//! * `reference`: the frozen reference policy (when the KL term needs one);
//! * `critic`: the value model's weights, masters, moments and accumulated gradients.
//!
//! Per phase (the larger of the two counts):
//! * training: `gradients` (the f32 accumulation, plus one micro-batch's gradients when an
//!   update spans several), `activations` (what one micro-batch's graph keeps, see
//!   [`Workload::recompute`]) and the LM head's chunked `logits`;
//! * generation: `kv_cache` (the generation batch at prompt + budget positions, and the
//!   prefill's per-layer attention scratch) and the batch's `logits` with the sampler's
//!   temporaries.
//!
//! The activation counts follow the code tensor by tensor (which intermediates each op's
//! backward keeps, on the native CPU kernels and on the portable compositions CUDA runs);
//! `lmmr1-trainer`'s `memory` bench checks them against measured peaks.

use candle_core::{DType, Device};

use crate::config::{Config, VisionConfig};
use crate::kernels::logprobs::logits_chunk_rows;
use crate::policy::under_prefix;

/// Which implementation of the ops runs: their intermediates differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPath {
    /// The native CPU kernels (f32 on CPU).
    Native,
    /// The device-generic compositions (CUDA; any dtype but f32 on CPU).
    Portable,
}

/// What a run does, as far as memory goes.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The compute dtype (`bf16`/`f16`: mixed precision with f32 masters).
    pub dtype: DType,
    /// The kernels that run.
    pub path: KernelPath,
    /// Parameter-name prefixes kept frozen (as [`crate::PolicyOptions::freeze`]).
    pub freeze: Vec<String>,
    /// A frozen reference policy is loaded (a KL term).
    pub reference: bool,
    /// A critic is trained (GAE).
    pub critic: bool,
    /// Per-layer activation recomputation: the graph keeps each layer's input and one layer's
    /// intermediates at a time, instead of every layer's.
    pub recompute: bool,
    /// Sequences per forward/backward.
    pub micro_batch: usize,
    /// Micro-batches per optimizer step (more than one: gradients accumulate).
    pub micro_batches_per_update: usize,
    /// The longest prompt, tokens (image tokens included).
    pub prompt_len: usize,
    /// New tokens per sequence at most.
    pub max_new_tokens: usize,
    /// Sequences generated together.
    pub generation_batch: usize,
    /// Images per sequence.
    pub images_per_row: usize,
    /// Vision patches per image (`h·w/14²` before the 2×2 merge).
    pub patches_per_image: usize,
    /// The sampler filters tokens (top-k or top-p): more temporaries per logit.
    pub filtered_sampling: bool,
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryPlan {
    /// Bytes per component, in the order of the module docs.
    pub components: Vec<(&'static str, u64)>,
    /// Static bytes plus the larger phase.
    pub total_bytes: u64,
    /// Bytes of the training phase (gradients, activations, its logits).
    pub training_bytes: u64,
    /// Bytes of the generation phase (KV cache and prefill scratch, its logits).
    pub generation_bytes: u64,
}

impl MemoryPlan {
    /// The bytes of one component (0 when absent).
    pub fn get(&self, name: &str) -> u64 {
        self.components
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |c| c.1)
    }

    /// The bytes held for the whole run: weights, masters, optimizer, reference, critic.
    pub fn static_bytes(&self) -> u64 {
        STATIC.iter().map(|k| self.get(k)).sum()
    }

    /// `"training"` or `"generation"`, whichever holds more.
    pub fn peak_phase(&self) -> &'static str {
        if self.training_bytes >= self.generation_bytes {
            "training"
        } else {
            "generation"
        }
    }
}

/// The memory a device offers: the machine's physical memory for the CPU (`MemTotal` of
/// `/proc/meminfo`), the GPU's total memory for CUDA.
pub fn device_memory_bytes(device: &Device) -> crate::Result<u64> {
    match device {
        Device::Cpu => {
            let text = std::fs::read_to_string("/proc/meminfo")
                .map_err(|e| crate::Error::Input(format!("/proc/meminfo: {e}")))?;
            text.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kib| kib * 1024)
                .ok_or_else(|| {
                    crate::Error::Input(
                        "/proc/meminfo: no MemTotal line; set model.memory_budget_gb".into(),
                    )
                })
        }
        #[cfg(feature = "cuda")]
        Device::Cuda(d) => {
            let (_, total) = d
                .cuda_stream()
                .context()
                .mem_get_info()
                .map_err(|e| crate::Error::Input(format!("CUDA memory query: {e:?}")))?;
            Ok(total as u64)
        }
        other => Err(crate::Error::Input(format!(
            "no memory query for {other:?}; set model.memory_budget_gb"
        ))),
    }
}

/// The components held for the whole run.
const STATIC: [&str; 5] = [
    "weights",
    "master_weights",
    "optimizer",
    "reference",
    "critic",
];

/// Parameter counts: `(all, trainable)` of a model's checkpoint tensors under `freeze`.
pub fn param_counts(cfg: &Config, freeze: &[String]) -> (u64, u64) {
    let mut all = 0u64;
    let mut train = 0u64;
    for (name, shape) in crate::weights::expected_tensors(cfg) {
        let n = shape.iter().product::<usize>() as u64;
        all += n;
        if !freeze.iter().any(|p| under_prefix(&name, p)) {
            train += n;
        }
    }
    (all, train)
}

fn bytes(dtype: DType) -> u64 {
    dtype.size_in_bytes() as u64
}

/// The shape of a transformer stack for the activation counts.
struct Stack {
    hidden: u64,
    inter: u64,
    heads: u64,
    kv_heads: u64,
    head_dim: u64,
    /// Linear layers with biases on every projection (the vision tower).
    biases: bool,
}

impl Stack {
    fn text(cfg: &Config) -> Self {
        Self {
            hidden: cfg.hidden_size as u64,
            inter: cfg.intermediate_size as u64,
            heads: cfg.num_attention_heads as u64,
            kv_heads: cfg.num_key_value_heads as u64,
            head_dim: cfg.head_dim() as u64,
            biases: false,
        }
    }

    fn vision(v: &VisionConfig) -> Self {
        Self {
            hidden: v.hidden_size as u64,
            inter: v.intermediate_size as u64,
            heads: v.num_heads as u64,
            kv_heads: v.num_heads as u64,
            head_dim: v.head_dim() as u64,
            biases: true,
        }
    }

    /// `(hidden, intermediate, heads, kv heads, head dim)`.
    fn dims(&self) -> (u64, u64, u64, u64, u64) {
        (
            self.hidden,
            self.inter,
            self.heads,
            self.kv_heads,
            self.head_dim,
        )
    }

    /// Bytes one layer's training graph keeps per token that attends to `keys` keys.
    fn train_bytes_per_token(&self, keys: u64, ds: u64, path: KernelPath) -> u64 {
        let (h, i, nh, nkv, hd) = self.dims();
        match path {
            // Nodes keep their inputs; outputs: two norms, q/k/v, their contiguous copies,
            // two RoPE outputs, the transposed keys, the attention output and its transposed
            // copy, o, gate, up, SwiGLU, down and two residual sums; per row of scores only
            // the (max, 1/Σ) statistics.
            KernelPath::Native => {
                4 * (6 * h + 3 * i + hd * (5 * nh + 6 * nkv)) + 8 * nh + self.bias_copies(4)
            }
            // Compositions keep every intermediate: each norm's f32 cast, square, quotient
            // and product (and the cast back), q/k/v, bias sums, contiguous copies, RoPE's
            // products, negation and concatenation, the scores and the f32 softmax chain, the
            // output and its copy, o, residuals, gate, up, SiLU, product, down.
            KernelPath::Portable => {
                let half = u64::from(ds != 4);
                let norm = 12 * h + half * (4 + ds) * h;
                let qkv = (nh + 2 * nkv) * hd;
                let rope = 9 * ds * (nh + nkv) * hd / 2;
                let scores = nh * keys * (ds + 20 + half * (4 + ds));
                2 * norm
                    + 3 * ds * qkv
                    + rope
                    + scores
                    + 2 * ds * nh * hd
                    + 4 * ds * h
                    + 4 * ds * i
                    + self.bias_copies(ds)
            }
        }
    }

    /// Extra outputs of the bias additions of a vision layer (qkv, proj, gate, up, down).
    fn bias_copies(&self, ds: u64) -> u64 {
        if self.biases {
            ds * (3 * self.heads * self.head_dim + 3 * self.hidden + 2 * self.inter)
        } else {
            0
        }
    }

    /// Bytes of one layer's no-graph forward per token (prefill, log-prob passes): the largest
    /// set of intermediates alive at once. Natively the linear layers' weight-first products
    /// add transposed copies; on the portable path the attention phase holds the scores, their
    /// scaled and masked f32 versions and the softmax (`max(2·ds + 8, ds + 12)` bytes each).
    fn infer_bytes_per_token(&self, keys: u64, ds: u64, path: KernelPath) -> u64 {
        let (h, i, nh, nkv, hd) = self.dims();
        match path {
            KernelPath::Native => ds * (4 * h + 3 * i + 4 * nh * hd),
            KernelPath::Portable => {
                let mlp = ds * (2 * h + 3 * i);
                let attn =
                    ds * (2 * h + 2 * (nh + 2 * nkv) * hd) + nh * keys * (2 * ds + 8).max(ds + 12);
                mlp.max(attn)
            }
        }
    }
}

/// Plans `w` for the model `cfg`.
pub fn plan(cfg: &Config, w: &Workload) -> MemoryPlan {
    let ds = bytes(w.dtype);
    let mixed = matches!(w.dtype, DType::BF16 | DType::F16);
    let (all, train) = param_counts(cfg, &w.freeze);
    let frozen = all - train;
    let native_f32 = w.path == KernelPath::Native && w.dtype == DType::F32;
    let packed_twice = |n: u64| if native_f32 { n } else { 0 };

    let weights = all * ds + packed_twice(frozen) * ds;
    let master_weights = if mixed { 4 * train } else { 0 };
    let optimizer = 8 * train;
    let accumulate = w.micro_batches_per_update > 1 || mixed;
    let gradients = 4 * train + if accumulate { ds * train } else { 0 };
    let reference = if w.reference {
        all * ds + packed_twice(all) * ds
    } else {
        0
    };
    let critic = if w.critic {
        let mut c = cfg.clone();
        c.tie_word_embeddings = true;
        let (call, ctrain) = param_counts(&c, &w.freeze);
        // The value head `score` (1 × hidden), always trained.
        let (call, ctrain) = (
            call + cfg.hidden_size as u64,
            ctrain + cfg.hidden_size as u64,
        );
        call * ds + ctrain * (8 + if mixed { 4 } else { 0 } + 4) + packed_twice(call - ctrain) * ds
    } else {
        0
    };

    // Training: one micro-batch of prompt + response rows.
    let text = Stack::text(cfg);
    let layers = cfg.num_hidden_layers as u64;
    let t = (w.prompt_len + w.max_new_tokens) as u64;
    let rows = w.micro_batch as u64;
    let tokens = rows * t;
    let per_layer = text.train_bytes_per_token(t, ds, w.path) * tokens;
    let embeds = ds * text.hidden * tokens;
    let head_graph = (12 + ds) * text.hidden * tokens;
    let vision_acts = vision_train_bytes(cfg, w, rows);
    let v = cfg.vocab_size as u64;
    let chunk = (logits_chunk_rows(cfg.vocab_size) as u64).min(rows * w.max_new_tokens as u64);
    let train_logits = match w.path {
        // The chunk's logits and their gradient.
        KernelPath::Native => 8 * chunk * v,
        // The chunk's logits (and their f32 cast), max-shifted exponentials, probabilities,
        // one-hot targets and gradient.
        KernelPath::Portable => (2 * ds + 29) * chunk * v,
    };
    // Without recompute the whole graph is alive when the head's backward runs, and a layer's
    // backward adds its scratch; with it the graph keeps each layer's input, and the head's
    // backward (from a leaf on the last hidden state) and each layer's recomputation with its
    // backward come one after the other.
    let (activations, training_acts) = if w.recompute {
        let kept = (layers + 1) * embeds + vision_acts;
        let a = kept + 2 * per_layer + head_graph;
        (a, kept + (2 * per_layer).max(head_graph + train_logits))
    } else {
        let a = embeds + (layers + 1) * per_layer + head_graph + vision_acts;
        (a, a + train_logits)
    };

    // Generation: the batch's cache at its limit, the prefill's per-layer scratch, logits.
    let gb = w.generation_batch as u64;
    let cap = t;
    let kv = gb * layers * 2 * (cfg.num_key_value_heads as u64) * text.head_dim * cap * ds;
    let prompt = w.prompt_len as u64;
    let prefill = text.infer_bytes_per_token(prompt, ds, w.path) * gb * prompt
        + vision_infer_bytes(cfg, w, gb);
    let kv_cache = kv + prefill;
    let per_logit = match w.path {
        KernelPath::Native => 4,
        KernelPath::Portable if w.filtered_sampling => ds + 4 * 9,
        KernelPath::Portable => ds + 4 * 6,
    };
    let gen_logits = gb * v * per_logit;
    let logits = train_logits.max(gen_logits);

    let training_bytes = gradients + training_acts;
    let generation_bytes = kv_cache + gen_logits;
    let fixed = weights + master_weights + optimizer + reference + critic;
    MemoryPlan {
        components: vec![
            ("weights", weights),
            ("master_weights", master_weights),
            ("gradients", gradients),
            ("optimizer", optimizer),
            ("reference", reference),
            ("critic", critic),
            ("activations", activations),
            ("kv_cache", kv_cache),
            ("logits", logits),
        ],
        total_bytes: fixed + training_bytes.max(generation_bytes),
        training_bytes,
        generation_bytes,
    }
}

/// The vision tower's training graph for `rows` rows of `images_per_row` images (the tower is
/// not recomputed): window blocks attend within windows, the full-attention blocks over the
/// whole image.
fn vision_train_bytes(cfg: &Config, w: &Workload, rows: u64) -> u64 {
    if w.images_per_row == 0 || w.patches_per_image == 0 {
        return 0;
    }
    let vc = &cfg.vision_config;
    let stack = Stack::vision(vc);
    let ds = bytes(w.dtype);
    let n = w.patches_per_image as u64;
    let window = ((vc.window_size / vc.patch_size).pow(2) as u64).min(n);
    let full = vc.fullatt_block_indexes.len() as u64;
    let windowed = (vc.depth as u64).saturating_sub(full);
    let per_image = n
        * (windowed * stack.train_bytes_per_token(window, ds, w.path)
            + full * stack.train_bytes_per_token(n, ds, w.path));
    per_image * rows * w.images_per_row as u64
}

/// The vision tower's no-graph forward of `rows` rows' images (one block at a time).
fn vision_infer_bytes(cfg: &Config, w: &Workload, rows: u64) -> u64 {
    if w.images_per_row == 0 || w.patches_per_image == 0 {
        return 0;
    }
    let stack = Stack::vision(&cfg.vision_config);
    let n = w.patches_per_image as u64;
    stack.infer_bytes_per_token(n, bytes(w.dtype), w.path) * n * rows * w.images_per_row as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload() -> Workload {
        Workload {
            dtype: DType::BF16,
            path: KernelPath::Portable,
            freeze: Vec::new(),
            reference: true,
            critic: false,
            recompute: true,
            micro_batch: 2,
            micro_batches_per_update: 8,
            prompt_len: 512,
            max_new_tokens: 1024,
            generation_batch: 32,
            images_per_row: 0,
            patches_per_image: 0,
            filtered_sampling: false,
        }
    }

    #[test]
    fn static_components_follow_the_parameter_counts() {
        let cfg = crate::config::preset("100m").unwrap();
        let (all, train) = param_counts(&cfg, &[]);
        assert_eq!(all as usize, crate::weights::num_params(&cfg));
        let p = plan(&cfg, &workload());
        assert_eq!(p.get("weights"), 2 * all);
        assert_eq!(p.get("master_weights"), 4 * train);
        assert_eq!(p.get("optimizer"), 8 * train);
        assert_eq!(p.get("reference"), 2 * all);
        assert_eq!(p.get("critic"), 0);
        // A critic: its weights, masters, moments and accumulated gradients (tied backbone, no
        // LM head, plus the value head), with and without a frozen tower.
        for freeze in [vec![], vec!["visual".to_string()]] {
            let c = plan(
                &cfg,
                &Workload {
                    critic: true,
                    freeze: freeze.clone(),
                    ..workload()
                },
            );
            let (_, t) = param_counts(&cfg, &freeze);
            let h = cfg.hidden_size as u64;
            assert_eq!(c.get("critic"), 2 * (all + h) + 16 * (t + h), "{freeze:?}");
        }
        let fixed: u64 = [
            "weights",
            "master_weights",
            "optimizer",
            "reference",
            "critic",
        ]
        .iter()
        .map(|c| p.get(c))
        .sum();
        assert_eq!(
            p.total_bytes,
            fixed + p.training_bytes.max(p.generation_bytes)
        );
    }

    #[test]
    fn recompute_and_freezing_shrink_what_they_should() {
        let cfg = crate::config::preset("100m").unwrap();
        let base = plan(&cfg, &workload());
        let no_rc = plan(
            &cfg,
            &Workload {
                recompute: false,
                ..workload()
            },
        );
        assert!(no_rc.get("activations") > 3 * base.get("activations"));
        let frozen = plan(
            &cfg,
            &Workload {
                freeze: vec!["visual".into()],
                ..workload()
            },
        );
        assert!(frozen.get("optimizer") < base.get("optimizer"));
        assert_eq!(frozen.get("weights"), base.get("weights"));
        let f32 = plan(
            &cfg,
            &Workload {
                dtype: DType::F32,
                ..workload()
            },
        );
        assert_eq!(f32.get("master_weights"), 0);
        assert_eq!(f32.get("weights"), 2 * base.get("weights"));
    }
}
