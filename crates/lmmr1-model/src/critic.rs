//! The critic for PPO with GAE: the Qwen2.5-VL backbone (its own parameters) and a value head
//! `score`, `Linear(hidden, 1)` without bias, read at the hidden state that predicts each token,
//! as OpenRLHF's critic. The backbone's LM head is not part of it (`lm_head.weight` of a
//! policy checkpoint is ignored).

use std::collections::HashMap;
use std::path::Path;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{random_weights, Inputs};
use crate::ops::Linear;
use crate::optim::TrainParam;
use crate::policy::{check_start, load_dtype, under_prefix, work_dtype, PolicyOptions, Trainable};
use crate::rng::{normal, Rng};
use crate::weights;

/// The value head's name.
pub const SCORE: &str = "score.weight";

/// The critic: backbone + `score` head. A clone shares the parameters.
#[derive(Debug, Clone)]
pub struct ValueModel {
    cfg: Config,
    core: Trainable,
    score: Linear,
}

/// The backbone's config: the same, with the LM head tied to the embeddings so that no
/// `lm_head.weight` is needed (the critic never reads it).
fn backbone_config(cfg: &Config) -> Config {
    let mut c = cfg.clone();
    c.tie_word_embeddings = true;
    c
}

/// A fresh value head `(1, hidden)`, `N(0, σ²)` with `σ = 1/(hidden + 1)` (OpenRLHF's init),
/// deterministic in `seed`.
fn init_score(cfg: &Config, seed: u64, dtype: DType, device: &Device) -> Result<Tensor> {
    let mut rng = Rng::new(seed);
    let std = 1.0 / (cfg.hidden_size as f32 + 1.0);
    Ok(normal(&mut rng, &[1, cfg.hidden_size], std, device)?.to_dtype(dtype)?)
}

impl ValueModel {
    /// Loads `dir/config.json` and the checkpoint's weights; `score.weight` is loaded if present,
    /// else initialised from `seed`; `lm_head.weight` is ignored.
    pub fn from_dir(
        dir: &Path,
        dtype: DType,
        device: &Device,
        opts: &PolicyOptions,
        seed: u64,
    ) -> Result<Self> {
        let cfg = Config::from_file(dir.join("config.json"))?;
        let (ts, mut extra) = weights::load_checked_with_extras(
            dir,
            &backbone_config(&cfg),
            load_dtype(dtype),
            device,
            &[SCORE],
        )?;
        Self::build(&cfg, ts, extra.remove(SCORE), seed, dtype, device, opts)
    }

    /// A critic with the random backbone of [`crate::Qwen25VL::random`] and a fresh head.
    pub fn random(
        cfg: &Config,
        seed: u64,
        dtype: DType,
        device: &Device,
        opts: &PolicyOptions,
    ) -> Result<Self> {
        let mut ts = random_weights(cfg, seed, load_dtype(dtype), device)?;
        ts.remove("lm_head.weight");
        Self::build(cfg, ts, None, seed, dtype, device, opts)
    }

    /// A critic from named weights (hub names, e.g. [`crate::Policy::named_tensors`]), copied
    /// into its own parameters, in the dtype of `model.embed_tokens.weight`; `score.weight` is
    /// used if present, else initialised from `seed`; `lm_head.weight` is ignored.
    pub fn from_named_tensors(
        cfg: &Config,
        tensors: Vec<(String, Tensor)>,
        seed: u64,
        device: &Device,
        opts: &PolicyOptions,
    ) -> Result<Self> {
        let dtype = tensors
            .iter()
            .find(|(n, _)| weights::normalize_name(n) == "model.embed_tokens.weight")
            .map(|(_, t)| t.dtype())
            .unwrap_or(DType::F32);
        let mut raw = HashMap::new();
        for (name, t) in tensors {
            let hub = weights::normalize_name(&name);
            let mut t = t.to_device(device)?;
            // Frozen tensors stay plain tensors: copy them so that they never alias the source
            // (trainable ones are copied into new variables).
            if opts.freeze.iter().any(|p| under_prefix(&hub, p)) {
                t = t.copy()?;
            }
            raw.insert(hub, (name, t));
        }
        let (ts, mut extra) = weights::check_tensors(
            Path::new("<named tensors>"),
            &backbone_config(cfg),
            raw,
            dtype,
            &[SCORE],
        )?;
        Self::build(cfg, ts, extra.remove(SCORE), seed, dtype, device, opts)
    }

    fn build(
        cfg: &Config,
        mut ts: HashMap<String, Tensor>,
        score: Option<Tensor>,
        seed: u64,
        dtype: DType,
        device: &Device,
        opts: &PolicyOptions,
    ) -> Result<Self> {
        let score = match score {
            Some(s) if s.dims() != [1, cfg.hidden_size] => {
                return Err(Error::Shape {
                    name: SCORE.into(),
                    expected: vec![1, cfg.hidden_size],
                    found: s.dims().to_vec(),
                })
            }
            Some(s) => s,
            None => init_score(cfg, seed, load_dtype(dtype), device)?,
        };
        ts.insert(SCORE.to_string(), score);
        let core = Trainable::new(&backbone_config(cfg), ts, dtype, device, opts)?;
        let w = core.param(SCORE).expect("inserted above");
        Ok(Self {
            cfg: cfg.clone(),
            score: Linear::new(w, None)?,
            core,
        })
    }

    /// The configuration (of the checkpoint it came from).
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The trainable variables under their checkpoint names (and `score.weight`), sorted: what
    /// the forward reads and gradients are keyed by.
    pub fn trainable_vars(&self) -> Vec<(String, Var)> {
        self.core.trainable_vars()
    }

    /// The trainable parameters for the optimizer and checkpoints (with their f32 masters in
    /// mixed precision).
    pub fn trainable_params(&self) -> Vec<TrainParam> {
        self.core.trainable_params()
    }

    /// Every weight, `score.weight` included, sorted, detached (sharing storage).
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.core.named_tensors()
    }

    /// Values `(B, T − start)` (f32; f64 for an f64 model) without a graph: entry `j` is read
    /// from the hidden state at position `start + j − 1`, the one that predicts token
    /// `start + j` (the alignment of [`crate::policy::LogProbs`]).
    pub fn values(&self, inp: &Inputs, start: usize) -> Result<Tensor> {
        check_start(inp, start)?;
        let (h, _) = self.core.infer.forward_hidden(inp, None)?;
        value_head(&self.score.detach(), &h, start)
    }

    /// One forward and backward: the values (as [`ValueModel::values`], with a graph) go to
    /// `loss_fn`, whose scalar is backpropagated. Returns the detached loss and the gradients of
    /// the trainable variables.
    pub fn forward_backward(
        &self,
        inp: &Inputs,
        start: usize,
        loss_fn: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<(Tensor, GradStore)> {
        check_start(inp, start)?;
        self.core
            .forward_backward(inp, |h| loss_fn(&value_head(&self.score, h, start)?))
    }
}

/// `score(h[:, start−1 .. T−1])`, `(B, T − start)`.
fn value_head(score: &Linear, h: &Tensor, start: usize) -> Result<Tensor> {
    let n = h.dim(1)? - start;
    let v = score.forward(&h.narrow(1, start - 1, n)?)?.squeeze(2)?;
    Ok(v.to_dtype(work_dtype(h.dtype()))?)
}
