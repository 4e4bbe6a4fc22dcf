//! Optimisation for training: AdamW with saveable state, global-norm gradient clipping,
//! gradient accumulation over micro-batches and learning-rate schedules.
//!
//! candle's own `AdamW` keeps its moments private (so a run cannot resume) and in the variables'
//! dtype; this one keeps f32 moments per variable, by name, with per-variable step counts as
//! PyTorch's `torch.optim.AdamW` does, and exports / restores them as named tensors.
//!
//! On CPU the update is two fused in-place passes per variable (moments, then weights), on
//! other devices a composition of tensor ops; both compute the same f32 formula.

use std::collections::{HashMap, HashSet};

use candle_core::backend::BackendStorage;
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, InplaceOp2, Layout, Storage, Tensor, Var, WithDType};

use crate::error::{Error, Result};

/// AdamW hyper-parameters. Defaults: OpenRLHF's actor (`lr` 1e-6, betas (0.9, 0.95), eps 1e-8,
/// weight decay 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Peak learning rate (what a schedule scales); [`AdamW::step`] takes each step's rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to `√v̂` in the denominator.
    pub eps: f64,
    /// Decoupled weight decay: `θ ← θ·(1 − lr·wd)` before the Adam update.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 1e-6,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// A trainable parameter as the optimizer sees it: the variable the forward reads (gradients
/// are keyed by it) and, in mixed precision, its f32 master copy. With a master, an update
/// goes to the master (in f32: an lr of 1e-6 moves it where a bf16 weight would round the step
/// away) and the variable is refreshed from it (rounded once).
#[derive(Debug, Clone)]
pub struct TrainParam {
    /// The checkpoint name.
    pub name: String,
    /// The variable of the forward, in the model's dtype.
    pub var: Var,
    /// The f32 master copy (mixed precision), if any.
    pub master: Option<Var>,
}

impl TrainParam {
    /// The parameter's value at full precision: the master when there is one, else the
    /// variable (detached; shares storage).
    pub fn value(&self) -> Tensor {
        self.master
            .as_ref()
            .unwrap_or(&self.var)
            .as_detached_tensor()
    }

    /// Sets the parameter (master and variable) from `t` (any dtype and device).
    pub fn set(&self, t: &Tensor) -> Result<()> {
        if let Some(m) = &self.master {
            m.set(&t.to_dtype(m.dtype())?.to_device(m.device())?)?;
        }
        self.var
            .set(&t.to_dtype(self.var.dtype())?.to_device(self.var.device())?)?;
        Ok(())
    }

    /// Copies the master into the variable (rounding to its dtype); nothing without a master.
    fn refresh(&self) -> Result<()> {
        if let Some(m) = &self.master {
            self.var.set(&m.as_tensor().to_dtype(self.var.dtype())?)?;
        }
        Ok(())
    }
}

impl From<(String, Var)> for TrainParam {
    fn from((name, var): (String, Var)) -> Self {
        Self {
            name,
            var,
            master: None,
        }
    }
}

/// One variable's optimizer state.
#[derive(Debug)]
struct ParamState {
    param: TrainParam,
    /// `(2, numel)` f32: row 0 the first moment, row 1 the second.
    moments: Tensor,
    /// Updates applied to this variable (PyTorch's per-parameter `state["step"]`).
    step: u64,
}

/// AdamW (decoupled weight decay, bias-corrected moments), as `torch.optim.AdamW`:
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `θ ← θ(1 − lr·wd) − lr·m̂/(√v̂ + eps)` with
/// `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`, `t` the variable's own update count.
///
/// Moments are f32 whatever the variables' dtype. A [`TrainParam`] with an f32 master is
/// updated in its master and its variable refreshed after each step (mixed precision); a half
/// variable without one is updated in f32 and rounded once (pure half precision: small steps
/// round away).
#[derive(Debug)]
pub struct AdamW {
    cfg: AdamWConfig,
    params: Vec<ParamState>,
    steps: u64,
}

impl AdamW {
    /// An optimizer over named parameters (`(name, Var)` pairs or [`TrainParam`]s; names must
    /// be unique: they key the saved state). Integer variables are rejected.
    pub fn new(
        params_in: impl IntoIterator<Item = impl Into<TrainParam>>,
        cfg: AdamWConfig,
    ) -> Result<Self> {
        let mut seen = HashSet::new();
        let mut params = Vec::new();
        for param in params_in {
            let param: TrainParam = param.into();
            let (name, var) = (&param.name, &param.var);
            if !seen.insert(name.clone()) {
                return Err(Error::OptimState(format!(
                    "variable {name} is listed twice"
                )));
            }
            if !var.dtype().is_float() {
                return Err(Error::OptimState(format!(
                    "variable {name} has non-float dtype {:?}",
                    var.dtype()
                )));
            }
            if let Some(m) = &param.master {
                if m.dims() != var.dims() || m.dtype() != DType::F32 {
                    return Err(Error::OptimState(format!(
                        "master of {name} must be f32 with the variable's shape {:?}",
                        var.dims()
                    )));
                }
            }
            let moments = Tensor::zeros((2, var.elem_count()), DType::F32, var.device())?;
            params.push(ParamState {
                param,
                moments,
                step: 0,
            });
        }
        Ok(Self {
            cfg,
            params,
            steps: 0,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &AdamWConfig {
        &self.cfg
    }

    /// Number of [`AdamW::step`] calls so far (including restored ones).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The optimized variables (those the gradients are keyed by), by name, in the order
    /// given to [`AdamW::new`].
    pub fn vars(&self) -> Vec<(String, Var)> {
        self.params
            .iter()
            .map(|p| (p.param.name.clone(), p.param.var.clone()))
            .collect()
    }

    /// One update with learning rate `lr`. Variables without a gradient in `grads` are left
    /// alone (no decay, no moment update, their step count does not advance).
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        let c = self.cfg;
        for p in &mut self.params {
            let Some(g) = grads.get(p.param.var.as_tensor()) else {
                continue;
            };
            if g.dims() != p.param.var.dims() {
                return Err(Error::Shape {
                    name: format!("gradient of {}", p.param.name),
                    expected: p.param.var.dims().to_vec(),
                    found: g.dims().to_vec(),
                });
            }
            p.step += 1;
            let t = p.step as i32;
            let hp = StepScalars {
                beta1: c.beta1 as f32,
                beta2: c.beta2 as f32,
                decay: (1.0 - lr * c.weight_decay) as f32,
                step_size: (lr / (1.0 - c.beta1.powi(t))) as f32,
                bc2_sqrt: (1.0 - c.beta2.powi(t)).sqrt() as f32,
                eps: c.eps as f32,
            };
            let target = p.param.master.as_ref().unwrap_or(&p.param.var);
            if crate::kernels::native(target.device()) {
                let g = g.contiguous()?;
                p.moments.inplace_op2(&g, &MomentsKernel(hp))?;
                target.inplace_op2(&p.moments, &UpdateKernel(hp))?;
            } else {
                update_with_tensor_ops(target, &mut p.moments, g, hp)?;
            }
            p.param.refresh()?;
        }
        self.steps += 1;
        Ok(())
    }

    /// The state as named tensors, for checkpoints: `{name}.exp_avg`, `{name}.exp_avg_sq`
    /// (f32, the variable's shape) and `{name}.step` (i64, shape `[1]`). The moment tensors
    /// are fresh copies.
    pub fn state_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::with_capacity(3 * self.params.len());
        for p in &self.params {
            let shape = p.param.var.shape();
            out.push((
                format!("{}.exp_avg", p.param.name),
                p.moments.get(0)?.reshape(shape)?.copy()?,
            ));
            out.push((
                format!("{}.exp_avg_sq", p.param.name),
                p.moments.get(1)?.reshape(shape)?.copy()?,
            ));
            out.push((
                format!("{}.step", p.param.name),
                Tensor::new(&[p.step as i64], &candle_core::Device::Cpu)?,
            ));
        }
        Ok(out)
    }

    /// Restores a state saved by [`AdamW::state_tensors`] (any device; converted to f32 on the
    /// variables' devices) and the step counter. Every variable's three tensors must be present
    /// with the variable's shape, and no others.
    pub fn load_state_tensors(&mut self, t: &HashMap<String, Tensor>, steps: u64) -> Result<()> {
        let mut used = HashSet::new();
        let mut restored = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let (name, var) = (&p.param.name, &p.param.var);
            let get = |suffix: &str| -> Result<&Tensor> {
                let key = format!("{name}.{suffix}");
                t.get(&key)
                    .ok_or_else(|| Error::OptimState(format!("missing optimizer tensor {key}")))
            };
            let mut pair = Vec::with_capacity(2);
            for suffix in ["exp_avg", "exp_avg_sq"] {
                let m = get(suffix)?;
                if m.dims() != var.dims() {
                    return Err(Error::Shape {
                        name: format!("{name}.{suffix}"),
                        expected: var.dims().to_vec(),
                        found: m.dims().to_vec(),
                    });
                }
                pair.push(
                    m.to_device(var.device())?
                        .to_dtype(DType::F32)?
                        .flatten_all()?,
                );
            }
            let step = get("step")?;
            let step = step
                .flatten_all()?
                .to_dtype(DType::F64)?
                .to_vec1::<f64>()?
                .first()
                .copied()
                .filter(|s| *s >= 0.0 && s.fract() == 0.0)
                .ok_or_else(|| {
                    Error::OptimState(format!(
                        "optimizer tensor {name}.step is not a non-negative integer"
                    ))
                })?;
            for suffix in ["exp_avg", "exp_avg_sq", "step"] {
                used.insert(format!("{name}.{suffix}"));
            }
            restored.push((Tensor::stack(&pair, 0)?, step as u64));
        }
        let mut extra: Vec<&String> = t.keys().filter(|k| !used.contains(*k)).collect();
        if !extra.is_empty() {
            extra.sort();
            return Err(Error::OptimState(format!(
                "optimizer state has tensors for unknown variables: {extra:?}"
            )));
        }
        for (p, (moments, step)) in self.params.iter_mut().zip(restored) {
            p.moments = moments;
            p.step = step;
        }
        self.steps = steps;
        Ok(())
    }
}

/// The per-step scalars of one variable's update, in f32 (the arithmetic of the kernels).
#[derive(Debug, Clone, Copy)]
struct StepScalars {
    beta1: f32,
    beta2: f32,
    /// `1 − lr·wd`.
    decay: f32,
    /// `lr / (1 − β₁ᵗ)`.
    step_size: f32,
    /// `√(1 − β₂ᵗ)`.
    bc2_sqrt: f32,
    eps: f32,
}

impl StepScalars {
    /// `m ← m + (1−β₁)(g − m)` (PyTorch's `lerp_`), `v ← β₂v + (1−β₂)g²`.
    #[inline(always)]
    fn moments(&self, m: &mut f32, v: &mut f32, g: f32) {
        *m += (1.0 - self.beta1) * (g - *m);
        *v = *v * self.beta2 + (1.0 - self.beta2) * g * g;
    }

    /// `θ(1 − lr·wd) − step_size · m / (√v / √(1−β₂ᵗ) + eps)`.
    #[inline(always)]
    fn update(&self, p: f32, m: f32, v: f32) -> f32 {
        let denom = v.sqrt() / self.bc2_sqrt + self.eps;
        p * self.decay - self.step_size * (m / denom)
    }
}

/// Elements per parallel chunk of the CPU kernels.
const CHUNK: usize = 1 << 16;

fn contiguous_range(l: &Layout, what: &str) -> candle_core::Result<(usize, usize)> {
    l.contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("adamw: {what} is not contiguous")))
}

/// In place on the `(2, n)` moments, reading the gradient.
struct MomentsKernel(StepScalars);

impl MomentsKernel {
    fn run<G: WithDType>(&self, mv: &mut [f32], g: &[G]) {
        use rayon::prelude::*;
        let n = g.len();
        let (m, v) = mv.split_at_mut(n);
        m.par_chunks_mut(CHUNK)
            .zip(v.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|((m, v), g)| {
                for ((m, v), g) in m.iter_mut().zip(v.iter_mut()).zip(g) {
                    self.0.moments(m, v, g.to_f64() as f32);
                }
            });
    }
}

impl InplaceOp2 for MomentsKernel {
    fn name(&self) -> &'static str {
        "adamw-moments"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let (a, b) = contiguous_range(l1, "moments")?;
        let (ga, gb) = contiguous_range(l2, "gradient")?;
        let CpuStorage::F32(mv) = s1 else {
            candle_core::bail!("adamw: moments must be f32")
        };
        let mv = &mut mv[a..b];
        match s2 {
            CpuStorage::F32(g) => self.run(mv, &g[ga..gb]),
            CpuStorage::BF16(g) => self.run(mv, &g[ga..gb]),
            CpuStorage::F16(g) => self.run(mv, &g[ga..gb]),
            CpuStorage::F64(g) => self.run(mv, &g[ga..gb]),
            _ => candle_core::bail!("adamw: unsupported gradient dtype {:?}", s2.dtype()),
        }
        Ok(())
    }
}

/// In place on the variable, reading the `(2, n)` moments.
struct UpdateKernel(StepScalars);

impl UpdateKernel {
    fn run<P: WithDType>(&self, p: &mut [P], mv: &[f32]) {
        use rayon::prelude::*;
        let n = p.len();
        let (m, v) = mv.split_at(n);
        p.par_chunks_mut(CHUNK)
            .zip(m.par_chunks(CHUNK))
            .zip(v.par_chunks(CHUNK))
            .for_each(|((p, m), v)| {
                for ((p, m), v) in p.iter_mut().zip(m).zip(v) {
                    *p = P::from_f64(self.0.update(p.to_f64() as f32, *m, *v) as f64);
                }
            });
    }

    fn run_f32(&self, p: &mut [f32], mv: &[f32]) {
        use rayon::prelude::*;
        let n = p.len();
        let (m, v) = mv.split_at(n);
        p.par_chunks_mut(CHUNK)
            .zip(m.par_chunks(CHUNK))
            .zip(v.par_chunks(CHUNK))
            .for_each(|((p, m), v)| {
                for ((p, m), v) in p.iter_mut().zip(m).zip(v) {
                    *p = self.0.update(*p, *m, *v);
                }
            });
    }
}

impl InplaceOp2 for UpdateKernel {
    fn name(&self) -> &'static str {
        "adamw-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let (a, b) = contiguous_range(l1, "variable")?;
        let (ma, mb) = contiguous_range(l2, "moments")?;
        let CpuStorage::F32(mv) = s2 else {
            candle_core::bail!("adamw: moments must be f32")
        };
        let mv = &mv[ma..mb];
        match s1 {
            CpuStorage::F32(p) => self.run_f32(&mut p[a..b], mv),
            CpuStorage::BF16(p) => self.run(&mut p[a..b], mv),
            CpuStorage::F16(p) => self.run(&mut p[a..b], mv),
            CpuStorage::F64(p) => self.run(&mut p[a..b], mv),
            s => candle_core::bail!("adamw: unsupported variable dtype {:?}", s.dtype()),
        }
        Ok(())
    }
}

/// Elements per slice of the tensor-op update: its f32 temporaries stay near
/// `6 · 4 · UPDATE_SLICE` bytes (384 MiB) whatever the parameter's size (Qwen2.5-VL-3B's
/// embeddings are 311 M elements).
const UPDATE_SLICE: usize = 1 << 24;

/// The same update with tensor ops (the portable path: devices without the CPU kernels), on
/// `var` with its `(2, numel)` f32 moments, slice by slice, each written back in place
/// (`slice_set` into the variable's and the moments' storage).
fn update_with_tensor_ops(
    var: &Var,
    moments: &mut Tensor,
    g: &Tensor,
    hp: StepScalars,
) -> Result<()> {
    update_in_slices(var, moments, g, hp, UPDATE_SLICE)
}

fn update_in_slices(
    var: &Var,
    moments: &mut Tensor,
    g: &Tensor,
    hp: StepScalars,
    slice: usize,
) -> Result<()> {
    let n = var.elem_count();
    let theta_all = var.as_tensor().flatten_all()?;
    let g = g.flatten_all()?;
    for a in (0..n).step_by(slice) {
        let len = slice.min(n - a);
        let g = g.narrow(0, a, len)?.to_dtype(DType::F32)?;
        let m = moments.get(0)?.narrow(0, a, len)?;
        let v = moments.get(1)?.narrow(0, a, len)?;
        let m = (&m + ((&g - &m)? * (1.0 - hp.beta1) as f64)?)?;
        let v = ((v * hp.beta2 as f64)? + (g.sqr()? * (1.0 - hp.beta2) as f64)?)?;
        let denom = ((v.sqrt()? / hp.bc2_sqrt as f64)? + hp.eps as f64)?;
        let theta = theta_all.narrow(0, a, len)?.to_dtype(DType::F32)?;
        let theta = ((theta * hp.decay as f64)? - ((&m / denom)? * hp.step_size as f64)?)?;
        theta_all.slice_set(&theta.to_dtype(var.dtype())?, 0, a)?;
        moments.slice_set(&Tensor::stack(&[m, v], 0)?, 1, a)?;
    }
    Ok(())
}

/// Global L2 norm of the variables' gradients, `√Σ‖g‖²` accumulated in f64; when it exceeds
/// `max_norm > 0`, every gradient is scaled by `max_norm / (norm + 1e-6)` (PyTorch's
/// `clip_grad_norm_` / DeepSpeed). Returns the norm before clipping. A non-finite norm leaves
/// the gradients untouched (the caller decides to skip the step).
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[(String, Var)], max_norm: f64) -> Result<f64> {
    let mut sq = 0f64;
    for (_, v) in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += sum_sq_f64(g)?;
        }
    }
    let norm = sq.sqrt();
    if !norm.is_finite() || max_norm <= 0.0 {
        return Ok(norm);
    }
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for (_, v) in vars {
            if let Some(g) = grads.remove(v.as_tensor()) {
                let scaled = (g.to_dtype(DType::F32)? * coef)?.to_dtype(g.dtype())?;
                grads.insert(v.as_tensor(), scaled);
            }
        }
    }
    Ok(norm)
}

/// `Σ g²` in f64.
fn sum_sq_f64(g: &Tensor) -> Result<f64> {
    if crate::kernels::native(g.device()) {
        let (s, l) = g.storage_and_layout();
        if let (Storage::Cpu(CpuStorage::F32(data)), Some((a, b))) = (&*s, l.contiguous_offsets()) {
            use rayon::prelude::*;
            return Ok(data[a..b]
                .par_chunks(CHUNK)
                .map(|c| c.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
                .collect::<Vec<f64>>()
                .into_iter()
                .sum());
        }
    }
    Ok(g.to_dtype(DType::F64)?
        .sqr()?
        .sum_all()?
        .to_scalar::<f64>()?)
}

/// Gradient accumulation over micro-batches: adds the variables' gradients from `g` into
/// `acc` (created on the first call) and drops everything else `g` holds (the intermediate
/// tensors' gradients). With each micro-batch loss divided by the global normaliser (e.g. the
/// token count of the whole batch), the sum equals the full-batch gradient. Half-precision
/// gradients (mixed precision) are accumulated in f32.
pub fn accumulate_grads(
    acc: &mut Option<GradStore>,
    mut g: GradStore,
    vars: &[(String, Var)],
) -> Result<()> {
    let store = acc.get_or_insert_with(GradStore::default);
    for (_, v) in vars {
        if let Some(new) = g.remove(v.as_tensor()) {
            let new = if crate::kernels::is_half(new.dtype()) {
                new.to_dtype(DType::F32)?
            } else {
                new
            };
            let sum = match store.remove(v.as_tensor()) {
                Some(old) => (old + new)?,
                None => new,
            };
            store.insert(v.as_tensor(), sum);
        }
    }
    Ok(())
}

/// The shape of a schedule (config names `constant`, `cosine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Linear warm-up, then the peak rate (transformers' `constant_with_warmup`).
    Constant,
    /// Linear warm-up, then a half cosine from the peak down to `min_lr_ratio · peak`
    /// (transformers' `cosine_with_min_lr`; OpenRLHF uses `min_lr_ratio` 0.1).
    #[default]
    Cosine,
}

/// A learning-rate schedule over optimizer steps, as transformers' `LambdaLR` schedules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    /// The shape.
    pub kind: ScheduleKind,
    /// The rate after warm-up.
    pub peak_lr: f64,
    /// Steps of linear warm-up from 0.
    pub warmup_steps: u64,
    /// Total optimizer steps (the cosine reaches its minimum there).
    pub total_steps: u64,
    /// The cosine's final rate as a fraction of the peak.
    pub min_lr_ratio: f64,
}

impl LrSchedule {
    /// OpenRLHF's scheduler: cosine to `0.1 · peak_lr` with `ceil(total_steps · warmup_ratio)`
    /// warm-up steps.
    pub fn openrlhf_cosine(peak_lr: f64, total_steps: u64, warmup_ratio: f64) -> Self {
        Self {
            kind: ScheduleKind::Cosine,
            peak_lr,
            warmup_steps: (total_steps as f64 * warmup_ratio).ceil() as u64,
            total_steps,
            min_lr_ratio: 0.1,
        }
    }

    /// The rate of the optimizer step that follows `step` completed steps (so `lr_at(0)` is the
    /// first step's): `peak · step/warmup` during warm-up; then `peak` (constant) or
    /// `peak · (r + (1−r)·½(1 + cos(π·progress)))` with `progress = (step − warmup)/(total −
    /// warmup)`, clamped at 0 (cosine; past `total_steps` the cosine rises again, as in
    /// transformers).
    pub fn lr_at(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.peak_lr * (step as f64 / self.warmup_steps.max(1) as f64);
        }
        match self.kind {
            ScheduleKind::Constant => self.peak_lr * 1.0,
            ScheduleKind::Cosine => {
                let min_lr_ratio = self.min_lr_ratio;
                let progress = (step - self.warmup_steps) as f64
                    / self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
                let factor = 0.5 * (1.0 + (std::f64::consts::PI * 0.5 * 2.0 * progress).cos());
                let factor = factor * (1.0 - min_lr_ratio) + min_lr_ratio;
                self.peak_lr * factor.max(0.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The CPU kernels and the tensor-op path (the portable path, in slices) agree.
    #[test]
    fn cpu_kernels_match_tensor_op_path() {
        let dev = Device::Cpu;
        let mut rng = crate::rng::Rng::new(7);
        let mut randn =
            |n: usize| -> Vec<f32> { (0..n).map(|_| (rng.uniform() * 2.0 - 1.0) as f32).collect() };
        let init = Tensor::from_vec(randn(200_000), (400, 500), &dev).unwrap();
        let (a, b) = (
            Var::from_tensor(&init).unwrap(),
            Var::from_tensor(&init).unwrap(),
        );
        let cfg = AdamWConfig {
            weight_decay: 0.1,
            ..AdamWConfig::default()
        };
        let mut opt = AdamW::new(vec![("w".into(), a.clone())], cfg).unwrap();
        let mut moments_b = Tensor::zeros((2, 200_000), DType::F32, &dev).unwrap();
        for (t, lr) in [1e-2, 3e-3, 2e-2].into_iter().enumerate() {
            let g = Tensor::from_vec(randn(200_000), (400, 500), &dev).unwrap();
            let mut store = GradStore::default();
            store.insert(a.as_tensor(), g.clone());
            opt.step(&store, lr).unwrap();
            let t = t as i32 + 1;
            let hp = StepScalars {
                beta1: cfg.beta1 as f32,
                beta2: cfg.beta2 as f32,
                decay: (1.0 - lr * cfg.weight_decay) as f32,
                step_size: (lr / (1.0 - cfg.beta1.powi(t))) as f32,
                bc2_sqrt: (1.0 - cfg.beta2.powi(t)).sqrt() as f32,
                eps: cfg.eps as f32,
            };
            // Slices of 30,000: several, and a remainder.
            update_in_slices(&b, &mut moments_b, &g, hp, 30_000).unwrap();
        }
        let d = (a.as_tensor() - b.as_tensor())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d <= 3e-7, "max diff {d}");
        let moved = (a.as_tensor() - &init)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(moved > 1e-3, "the update did nothing: {moved}");
    }
}
