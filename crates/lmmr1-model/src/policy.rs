//! The trainable policy: Qwen2.5-VL on `Var`s in [`OpsMode::Differentiable`], teacher-forced
//! log-probabilities (and entropy) of response tokens, one forward + backward per call, frozen
//! parameters by name prefix, optional per-layer activation recomputation, and a zero-copy
//! inference copy for rollouts.
//!
//! Frozen parameters are plain tensors, so candle records no graph through them and computes no
//! gradient for them. [`Policy::forward_backward`] returns gradients of the trainable variables
//! only.

use std::collections::HashMap;
use std::path::Path;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;

use crate::config::Config;
use crate::error::{input_err, Result};
use crate::kernels::is_half;
use crate::model::{random_weights, Inputs, Qwen25VL};
use crate::ops::OpsMode;
use crate::optim::TrainParam;
use crate::text::TextModel;
use crate::weights;

/// How a [`Policy`] (or [`crate::critic::ValueModel`]) is trained.
#[derive(Debug, Clone, Default)]
pub struct PolicyOptions {
    /// Name prefixes of frozen parameters, on `.` boundaries (`"visual"` freezes
    /// `visual.blocks.0.attn.qkv.weight`; `"model.layers.1"` does not freeze `model.layers.10.*`).
    /// `"*"` freezes every parameter (a reference model). A prefix that matches no parameter is
    /// an error.
    pub freeze: Vec<String>,
    /// Per-layer activation recomputation: the decoder layers run without a graph, keeping only
    /// their inputs, and each is recomputed during the backward pass. Same gradients, less
    /// activation memory for long sequences, about one more forward of compute.
    pub recompute: bool,
}

impl PolicyOptions {
    /// Every parameter frozen, no recomputation: a reference model.
    pub fn frozen() -> Self {
        Self {
            freeze: vec!["*".into()],
            recompute: false,
        }
    }
}

/// Teacher-forced log-probabilities of the tokens from position `start` on.
///
/// Entry `j` of each `(B, T − start)` tensor is about token `start + j` (predicted from
/// positions `< start + j`). f32 (f64 for an f64 model). Entries whose token is padding are
/// meaningless; mask them.
#[derive(Debug, Clone)]
pub struct LogProbs {
    /// `log p(token)`, `(B, T − start)`.
    pub logp: Tensor,
    /// Entropy `−Σ_v p_v log p_v` of the whole predicted distribution, `(B, T − start)`, when
    /// asked for (differentiable).
    pub entropy: Option<Tensor>,
}

/// Supervised fine-tuning loss over the masked tokens: `−Σ mask·logp / (Σ mask + 1e-8)`.
/// `mask` is `(B, T − start)` (1 for response tokens), any float or integer dtype.
pub fn sft_loss(lp: &LogProbs, mask: &Tensor) -> Result<Tensor> {
    if mask.dims() != lp.logp.dims() {
        return input_err(format!(
            "sft_loss: mask has shape {:?}, logp {:?}",
            mask.dims(),
            lp.logp.dims()
        ));
    }
    let mask = mask.to_dtype(lp.logp.dtype())?;
    let num = (&lp.logp * &mask)?.sum_all()?;
    let den = (mask.sum_all()? + 1e-8)?;
    Ok(num.div(&den)?.neg()?)
}

/// The dtype of log-probabilities and losses: f32, or f64 for an f64 model.
pub(crate) fn work_dtype(dtype: DType) -> DType {
    if dtype == DType::F64 {
        DType::F64
    } else {
        DType::F32
    }
}

/// The dtype weights are loaded in for a model computing in `dtype`: f32 for the masters of a
/// half-precision model, else `dtype`.
pub(crate) fn load_dtype(dtype: DType) -> DType {
    if is_half(dtype) {
        DType::F32
    } else {
        dtype
    }
}

/// Whether `name` lies under `prefix` on a `.` boundary (a trailing `.` in `prefix` is ignored).
pub(crate) fn under_prefix(name: &str, prefix: &str) -> bool {
    if prefix == "*" {
        return true;
    }
    let p = prefix.trim_end_matches('.');
    !p.is_empty()
        && (name == p
            || name
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('.')))
}

/// A Var-backed model with frozen parameters as plain tensors; the part shared by the policy and
/// the value model.
#[derive(Debug, Clone)]
pub(crate) struct Trainable {
    /// Trainable parameters are `Var`s; [`OpsMode::Differentiable`].
    pub(crate) model: Qwen25VL,
    /// Detached views of `model`'s weights, differentiable ops (the same values as `model`), for
    /// forwards without a graph.
    pub(crate) infer: Qwen25VL,
    params: Vec<TrainParam>,
    frozen: Vec<(String, Tensor)>,
    recompute: bool,
}

impl Trainable {
    /// Builds the model from checked tensors (hub names; `extra` names such as a value head's are
    /// kept as parameters too). Trainable tensors are copied into new `Var`s.
    ///
    /// **Mixed precision:** for a half dtype (`bf16`, `f16`) each trainable parameter is a
    /// variable in that dtype, which the forward reads and the gradient is keyed by, and an f32
    /// master copy, which the optimizer updates and refreshes the half variable from
    /// ([`TrainParam`]); frozen ones are plain half tensors. Pass the tensors in f32 (or their
    /// stored precision) so that the masters start exact.
    pub(crate) fn new(
        cfg: &Config,
        tensors: HashMap<String, Tensor>,
        dtype: DType,
        device: &Device,
        opts: &PolicyOptions,
    ) -> Result<Self> {
        if let Some(p) = opts
            .freeze
            .iter()
            .find(|p| !tensors.keys().any(|n| under_prefix(n, p)))
        {
            return input_err(format!("freeze prefix {p:?} matches no parameter"));
        }
        let mixed = is_half(dtype);
        let mut sorted: Vec<(String, Tensor)> = tensors.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let (mut params, mut frozen, mut map) = (Vec::new(), Vec::new(), HashMap::new());
        for (name, t) in sorted {
            let t = t.to_device(device)?;
            if opts.freeze.iter().any(|p| under_prefix(&name, p)) {
                let t = t.to_dtype(dtype)?.detach();
                map.insert(name.clone(), t.clone());
                frozen.push((name, t));
            } else {
                let master = if mixed {
                    Some(Var::from_tensor(&t.to_dtype(DType::F32)?.detach())?)
                } else {
                    None
                };
                let v = Var::from_tensor(&t.to_dtype(dtype)?.detach())?;
                map.insert(name.clone(), v.as_tensor().clone());
                params.push(TrainParam {
                    name,
                    var: v,
                    master,
                });
            }
        }
        let vb =
            VarBuilder::from_backend(Box::new(weights::TakeOnce::new(map)), dtype, device.clone());
        let mut model = Qwen25VL::new(cfg, vb)?;
        model.mode = OpsMode::Differentiable;
        let infer = model.detach();
        Ok(Self {
            model,
            infer,
            params,
            frozen,
            recompute: opts.recompute,
        })
    }

    pub(crate) fn trainable_vars(&self) -> Vec<(String, Var)> {
        self.params
            .iter()
            .map(|p| (p.name.clone(), p.var.clone()))
            .collect()
    }

    pub(crate) fn trainable_params(&self) -> Vec<TrainParam> {
        self.params.clone()
    }

    /// Every parameter, detached (shares storage), sorted by name: the f32 masters of trainable
    /// parameters in mixed precision, else the variables; frozen tensors as they are.
    pub(crate) fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self
            .params
            .iter()
            .map(|p| (p.name.clone(), p.value()))
            .chain(self.frozen.iter().cloned())
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The live parameter `name` (a `Var`'s tensor, or the frozen tensor).
    pub(crate) fn param(&self, name: &str) -> Option<Tensor> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.var.as_tensor().clone())
            .or_else(|| {
                self.frozen
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, t)| t.clone())
            })
    }

    /// The gradients of the trainable variables only.
    fn keep_vars(&self, grads: &GradStore) -> GradStore {
        let mut out = GradStore::default();
        for p in &self.params {
            if let Some(g) = grads.get(p.var.as_tensor()) {
                out.insert(p.var.as_tensor(), g.clone());
            }
        }
        out
    }

    /// Runs the model on `inp`, `head` maps the final hidden states `(B, T, H)` (after the last
    /// norm) to a scalar loss, and the loss is backpropagated. Returns the detached loss and the
    /// gradients of the trainable variables.
    pub(crate) fn forward_backward(
        &self,
        inp: &Inputs,
        head: impl FnOnce(&Tensor) -> Result<Tensor>,
    ) -> Result<(Tensor, GradStore)> {
        if !self.recompute {
            let (h, _) = self.model.forward_hidden(inp, None)?;
            let loss = scalar(head(&h)?)?;
            let grads = loss.backward()?;
            return Ok((loss.detach(), self.keep_vars(&grads)));
        }
        // Activation recomputation: the layers run on detached weights, keeping only each
        // layer's input; the head is backpropagated from a leaf on the last activation, then each
        // layer is recomputed from a leaf on its input with the surrogate loss Σ layer(x)·g,
        // whose gradients are the layer's parameter gradients and the input's gradient g.
        let d = self.model.decoder_inputs(inp)?;
        let mode = OpsMode::Differentiable;
        let mut xs = vec![d.embeds.detach()];
        for layer in self.infer.text.layers() {
            let x = xs.last().expect("non-empty");
            let y = layer.forward(x, &d.cos, &d.sin, &d.mask, None, mode)?;
            xs.push(y);
        }
        let last = Var::from_tensor(&xs.pop().expect("non-empty"))?;
        let h = self.model.text.final_norm(last.as_tensor(), mode)?;
        let loss = scalar(head(&h)?)?;
        let grads = loss.backward()?;
        // Free the head's graph (the logits) before the layers are recomputed.
        let loss = loss.detach();
        drop(h);
        let mut acc = self.keep_vars(&grads);
        let mut g = grads.get(last.as_tensor()).cloned();
        drop(grads);
        for (layer, x) in self.model.text.layers().iter().zip(xs).rev() {
            let Some(g_out) = g.take() else { break };
            let x = Var::from_tensor(&x)?;
            let y = layer.forward(x.as_tensor(), &d.cos, &d.sin, &d.mask, None, mode)?;
            let grads = (y * g_out)?.sum_all()?.backward()?;
            acc.extend(self.keep_vars(&grads))?;
            g = grads.get(x.as_tensor()).cloned();
        }
        if let (Some(g_emb), true) = (g, d.embeds.track_op()) {
            let grads = (&d.embeds * g_emb)?.sum_all()?.backward()?;
            acc.extend(self.keep_vars(&grads))?;
        }
        Ok((loss, acc))
    }
}

/// Checks that a loss is a scalar.
fn scalar(loss: Tensor) -> Result<Tensor> {
    if loss.rank() != 0 {
        return input_err(format!(
            "the loss must be a scalar, got shape {:?}",
            loss.dims()
        ));
    }
    Ok(loss)
}

/// Checks `1 ≤ start < T`.
pub(crate) fn check_start(inp: &Inputs, start: usize) -> Result<()> {
    if start == 0 || start >= inp.seq_len {
        return input_err(format!(
            "start {start} must be in 1..{} (the sequence length)",
            inp.seq_len
        ));
    }
    Ok(())
}

/// The tokens from `start` on, `(B, T − start, 1)` u32.
fn targets(inp: &Inputs, start: usize, device: &Device) -> Result<Tensor> {
    let t: Vec<u32> = inp
        .input_ids
        .chunks(inp.seq_len)
        .flat_map(|r| r[start..].iter().copied())
        .collect();
    Ok(Tensor::from_vec(
        t,
        (inp.batch, inp.seq_len - start, 1),
        device,
    )?)
}

/// [`LogProbs`] from the final hidden states `h` `(B, T, H)`: the LM head and log-softmax run
/// only on positions `start − 1 .. T − 1`.
fn log_probs_from_hidden(
    text: &TextModel,
    h: &Tensor,
    targets: &Tensor,
    start: usize,
    entropy: bool,
) -> Result<LogProbs> {
    let n = h.dim(1)? - start;
    let hs = h.narrow(1, start - 1, n)?;
    let (logp, entropy) = text.lm_head_logprobs(&hs, &targets.squeeze(2)?, entropy)?;
    Ok(LogProbs { logp, entropy })
}

/// The trainable Qwen2.5-VL policy. A clone shares the parameters.
#[derive(Debug, Clone)]
pub struct Policy {
    cfg: Config,
    core: Trainable,
}

impl Policy {
    /// Loads `dir/config.json` and the checkpoint's weights (checked, as
    /// [`Qwen25VL::load`]) into new variables (frozen prefixes as plain tensors).
    pub fn from_dir(
        dir: &Path,
        dtype: DType,
        device: &Device,
        opts: &PolicyOptions,
    ) -> Result<Self> {
        let cfg = Config::from_file(dir.join("config.json"))?;
        // f32 for the masters of trainable parameters; a fully frozen model (a reference) loads
        // straight into its dtype.
        let all_frozen = opts.freeze.iter().any(|p| p == "*");
        let ld = if all_frozen { dtype } else { load_dtype(dtype) };
        let ts = weights::load_checked(dir, &cfg, ld, device)?;
        Self::from_tensors(&cfg, ts, dtype, device, opts)
    }

    /// A policy with the random weights of [`Qwen25VL::random`].
    pub fn random(
        cfg: &Config,
        seed: u64,
        dtype: DType,
        device: &Device,
        opts: &PolicyOptions,
    ) -> Result<Self> {
        let ts = random_weights(cfg, seed, load_dtype(dtype), device)?;
        Self::from_tensors(cfg, ts, dtype, device, opts)
    }

    fn from_tensors(
        cfg: &Config,
        ts: HashMap<String, Tensor>,
        dtype: DType,
        device: &Device,
        opts: &PolicyOptions,
    ) -> Result<Self> {
        Ok(Self {
            cfg: cfg.clone(),
            core: Trainable::new(cfg, ts, dtype, device, opts)?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The trainable variables under their checkpoint names, sorted: what the forward reads
    /// and gradients are keyed by (for gradient accumulation and clipping).
    pub fn trainable_vars(&self) -> Vec<(String, Var)> {
        self.core.trainable_vars()
    }

    /// The trainable parameters for the optimizer and checkpoints: each variable with its f32
    /// master in mixed precision ([`TrainParam`]).
    pub fn trainable_params(&self) -> Vec<TrainParam> {
        self.core.trainable_params()
    }

    /// Every weight under its checkpoint name, sorted, detached (sharing storage), frozen ones
    /// included (the f32 masters of trainable ones in mixed precision); tied embeddings appear
    /// once, as `model.embed_tokens.weight`. For export.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.core.named_tensors()
    }

    /// An inference copy ([`OpsMode::Fused`]) on detached views of the policy's weights: no
    /// weight is copied, no graph is recorded, and later in-place updates of the variables (an
    /// optimizer step) are seen. On CPU its linear layers read the transposed views of the
    /// variables rather than the transposed contiguous copies a loaded model makes (a slower
    /// small-batch decode, the price of not copying).
    pub fn rollout_model(&self) -> Result<Qwen25VL> {
        let mut m = self.core.model.detach();
        m.mode = OpsMode::Fused;
        Ok(m)
    }

    /// Logits `(B, T, V)` of the training forward (differentiable ops), without a graph.
    pub fn logits(&self, inp: &Inputs) -> Result<Tensor> {
        self.core.infer.forward(inp)
    }

    /// Log-probabilities (and entropy) of the tokens from `start` on, without a graph (e.g. the
    /// old log-probs of PPO). The LM head runs only on positions `≥ start − 1`.
    pub fn log_probs(&self, inp: &Inputs, start: usize, entropy: bool) -> Result<LogProbs> {
        check_start(inp, start)?;
        let (h, _) = self.core.infer.forward_hidden(inp, None)?;
        let targets = targets(inp, start, h.device())?;
        log_probs_from_hidden(&self.core.infer.text, &h, &targets, start, entropy)
    }

    /// One forward and backward: [`LogProbs`] as in [`Policy::log_probs`] (with a graph) go to
    /// `loss_fn`, whose scalar is backpropagated. Returns the detached loss and the gradients of
    /// the trainable variables (frozen parameters have none).
    pub fn forward_backward(
        &self,
        inp: &Inputs,
        start: usize,
        entropy: bool,
        loss_fn: impl FnOnce(&LogProbs) -> Result<Tensor>,
    ) -> Result<(Tensor, GradStore)> {
        check_start(inp, start)?;
        let targets = targets(inp, start, self.core.model.device())?;
        let text = &self.core.model.text;
        self.core.forward_backward(inp, |h| {
            let lp = log_probs_from_hidden(text, h, &targets, start, entropy)?;
            loss_fn(&lp)
        })
    }
}
