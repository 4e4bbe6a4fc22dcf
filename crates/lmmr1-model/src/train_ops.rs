//! Training ops with a hand-written backward, each one autograd node (candle 0.11.1 custom ops).
//!
//! candle's backward allocates a zero tensor and adds into it for **every** node of the graph,
//! views (reshape, transpose, broadcast) included, and computes the gradients of constants too
//! (a frozen weight's matmul gradient, a mask's). For a transformer step that is most of the
//! non-matmul time. These ops collapse the big per-token pieces into single nodes whose
//! backward computes only what is needed:
//! * [`linear`]: `y = x·wᵀ + b`; the weight gradient `gᵀ·x` lands on the weight itself, in its
//!   own layout (no transposed view), and only when the weight is trained;
//! * [`token_logprobs`] (and [`token_logprobs_entropy`], which adds each row's entropy):
//!   `log_softmax(logits)[target]` in one pass, backward `g·(onehot − softmax)` in one pass,
//!   without materialising the log-softmax; [`head_token_logprobs`] takes the LM head into the
//!   same node, so the `(tokens, V)` logits and their gradient never enter candle's graph;
//! * [`rms_norm`], [`masked_softmax`] (scale + additive mask + softmax of attention scores) and
//!   [`swiglu`]: row / element kernels with their analytic backward;
//! * [`rope`]: the rotate-half rotation, whose backward is the rotation by `−sin`;
//! * [`attention`]: scores, mask, softmax and `·v` in one node (flash-attention style: the
//!   backward recomputes the probabilities; blocked keys are skipped; GQA without copies), its
//!   register-blocked loops compiled for the CPU's widest SIMD through `pulp`'s safe runtime
//!   dispatch; its forward also serves inference ([`attention_no_grad`], and
//!   [`attention_cached`] on a KV cache read in place).
//!
//! They run on CPU for f32; other devices and dtypes use the equivalent compositions, which are
//! also the reference the tests compare with.

use std::sync::{Arc, Mutex};

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Storage, Tensor, D};

/// Whether the custom CPU path applies to these tensors.
fn cpu_f32(ts: &[&Tensor]) -> bool {
    ts.iter()
        .all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}

fn cpu_err(what: &str) -> candle_core::Error {
    candle_core::Error::Msg(format!("{what}: expected a contiguous f32 CPU tensor"))
}

/// The f32 data of a contiguous CPU tensor, passed to `f`.
pub(crate) fn with_f32<R>(
    t: &Tensor,
    what: &str,
    f: impl FnOnce(&[f32]) -> R,
) -> candle_core::Result<R> {
    let (s, l) = t.storage_and_layout();
    match (&*s, l.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) => Ok(f(&v[a..b])),
        _ => Err(cpu_err(what)),
    }
}

// ---------------------------------------------------------------------------------------------
// linear

/// The node of [`linear`]: its forward multiplies straight into the output buffer (candle's
/// CPU matmul on the arguments' storages: no product tensor to copy out of) and adds the bias
/// in place; its backward computes `g·w`, `gᵀ·x` and `Σg` for the arguments that are tracked.
struct LinearNode;

impl LinearNode {
    /// `x·wᵀ (+ b)` for `x` contiguous `(…, in)` and `w` `(out, in)` with any strides.
    fn forward(
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (out, inp) = w.1.shape().dims2()?;
        let m = x.1.shape().elem_count() / inp.max(1);
        let (start, _) =
            x.1.contiguous_offsets()
                .ok_or_else(|| cpu_err("linear input"))?;
        let y = x.0.matmul(
            w.0,
            (1, m, out, inp),
            &Layout::contiguous_with_offset((m, inp), start),
            &w.1.transpose(0, 1)?,
        )?;
        let mut dims = x.1.dims().to_vec();
        if let Some(l) = dims.last_mut() {
            *l = out;
        }
        let y = match (y, bias) {
            (y, None) => y,
            (CpuStorage::F32(mut y), Some((CpuStorage::F32(b), l))) => {
                let (a, e) = l
                    .contiguous_offsets()
                    .ok_or_else(|| cpu_err("linear bias"))?;
                let b = &b[a..e];
                for row in y.chunks_exact_mut(out.max(1)) {
                    for (y, b) in row.iter_mut().zip(b) {
                        *y += b;
                    }
                }
                CpuStorage::F32(y)
            }
            _ => return Err(cpu_err("linear bias")),
        };
        Ok((y, Shape::from(dims)))
    }

    /// `(g·w, gᵀ·x)` for `x`: `(…, in)`, `w`: `(out, in)`, `g`: `(…, out)`.
    fn grads(
        x: &Tensor,
        w: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Tensor)> {
        let (out, inp) = w.dims2()?;
        let m = g.elem_count() / out.max(1);
        let g2 = g.detach().contiguous()?.reshape((m, out))?;
        let gx = if x.track_op() {
            Some(g2.matmul(&w.detach())?.reshape(x.shape())?)
        } else {
            None
        };
        let gw = if w.track_op() {
            let x2 = x.detach().contiguous()?.reshape((m, inp))?;
            Some(g2.t()?.matmul(&x2)?)
        } else {
            None
        };
        Ok((gx, gw, g2))
    }
}

impl CustomOp2 for LinearNode {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        w: &CpuStorage,
        lw: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Self::forward((x, lx), (w, lw), None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, _) = Self::grads(x, w, g)?;
        Ok((gx, gw))
    }
}

impl CustomOp3 for LinearNode {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        lx: &Layout,
        w: &CpuStorage,
        lw: &Layout,
        b: &CpuStorage,
        lb: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Self::forward((x, lx), (w, lw), Some((b, lb)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, g2) = Self::grads(x, w, g)?;
        let gb = if b.track_op() { Some(g2.sum(0)?) } else { None };
        Ok((gx, gw, gb))
    }
}

/// `y = x·wᵀ + b` over the last dimension as one autograd node: `x` `(…, in)`, `w` `(out, in)`
/// (any strides; its gradient `gᵀ·x` is contiguous `(out, in)`), `b` `(out)`. Gradients are
/// computed only for tracked arguments (a frozen weight costs no matmul in the backward).
/// Other devices and dtypes: `x·wᵀ + b` composed.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let (out, inp) = w.dims2()?;
    let k = x.dim(D::Minus1)?;
    if k != inp {
        candle_core::bail!("linear: input width {k} but weight {:?}", w.dims());
    }
    let m = x.elem_count() / inp.max(1);
    let mut out_dims = x.dims().to_vec();
    if let Some(l) = out_dims.last_mut() {
        *l = out;
    }
    let all: Vec<&Tensor> = [Some(x), Some(w), b].into_iter().flatten().collect();
    if !cpu_f32(&all) || b.is_some_and(|b| b.dims() != [out]) {
        let y = x.contiguous()?.reshape((m, inp))?.matmul(&w.t()?)?;
        let y = match b {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        return y.reshape(out_dims);
    }
    let x = x.contiguous()?;
    match b {
        Some(b) => x.apply_op3(w, &b.contiguous()?, LinearNode),
        None => x.apply_op2(w, LinearNode),
    }
}

// ---------------------------------------------------------------------------------------------
// token log-probabilities

/// `log_softmax(row)[target]` per row (and, with `entropy`, the row's entropy beside it), and
/// their gradient.
struct TokenLogProbsNode {
    entropy: bool,
    /// Each row's `(log Σ exp, entropy)`, kept by the forward for the backward.
    stats: Mutex<Option<Arc<Vec<[f32; 2]>>>>,
}

/// `(log Σ exp(x), H)` of a row, `H = −Σ p log p` with `p = softmax(x)` (`H` only when
/// `entropy`). With `s = Σ e^{x−m}` and `u = Σ e^{x−m}(x−m)` (`m` the maximum),
/// `log Σ exp = m + ln s` and `H = ln s − u/s`. Sixteen f32 lanes sum blocks of 256 terms (so
/// that it vectorises); the blocks' sums are accumulated in f64.
#[inline(always)]
fn lse_entropy(row: &[f32], entropy: bool) -> [f32; 2] {
    let max = max16(row);
    if !max.is_finite() {
        return [max, f32::NAN];
    }
    let (mut s, mut u) = (0f64, 0f64);
    let mut blocks = row.chunks_exact(256);
    for block in &mut blocks {
        let (mut ls, mut lu) = ([0f32; 16], [0f32; 16]);
        for c in block.chunks_exact(16) {
            for ((ls, lu), &v) in ls.iter_mut().zip(lu.iter_mut()).zip(c) {
                let e = exp_nonpos(v - max);
                *ls += e;
                if entropy {
                    *lu += e * (v - max);
                }
            }
        }
        s += ls.iter().map(|&l| l as f64).sum::<f64>();
        u += lu.iter().map(|&l| l as f64).sum::<f64>();
    }
    for &v in blocks.remainder() {
        let e = exp_nonpos(v - max) as f64;
        s += e;
        u += e * (v - max) as f64;
    }
    let ln_s = s.ln();
    [
        max + ln_s as f32,
        if entropy { (ln_s - u / s) as f32 } else { 0.0 },
    ]
}

fn targets_of<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [u32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::U32(t), Some((a, b))) => Ok(&t[a..b]),
        _ => candle_core::bail!("token_logprobs: targets must be contiguous u32"),
    }
}

/// Per row of `x` `(rows, v)`: `log_softmax(row)[target]` (and the entropy beside it when
/// `entropy`: `width` 2) into `out`, and the row's `(log Σ exp, H)`.
fn row_logprobs(
    x: &[f32],
    v: usize,
    t: &[u32],
    entropy: bool,
) -> candle_core::Result<(Vec<f32>, Vec<[f32; 2]>)> {
    use rayon::prelude::*;
    let width = if entropy { 2 } else { 1 };
    if x.len() != t.len() * v {
        candle_core::bail!("token_logprobs: {} logits for {} targets", x.len(), t.len());
    }
    let mut out = vec![0f32; t.len() * width];
    let mut stats = vec![[0f32; 2]; t.len()];
    let arch = pulp::Arch::new();
    out.par_chunks_mut(width)
        .zip(stats.par_iter_mut())
        .zip(x.par_chunks(v.max(1)).zip(t.par_iter()))
        .try_for_each(|((o, st), (row, &tg))| {
            let tg = tg as usize;
            if tg >= row.len() {
                return Err(candle_core::Error::Msg(format!(
                    "token_logprobs: target {tg} >= vocabulary {}",
                    row.len()
                )));
            }
            *st = arch.dispatch(|| lse_entropy(row, entropy));
            o[0] = row[tg] - st[0];
            if let Some(h) = o.get_mut(1) {
                *h = st[1];
            }
            Ok(())
        })?;
    Ok((out, stats))
}

/// The gradient of the logits `x` `(rows, v)` from the forward's per-row `(log Σ exp, H)` and
/// the outputs' gradient `g` `(rows, width)`: per row
/// `g_lp·(onehot(target) − p) − g_H·p·(log p + H)` with `p = softmax(row)`
/// (`∂H/∂x = −p·(log p + H)`).
fn logits_grad(
    x: &[f32],
    v: usize,
    t: &[u32],
    stats: &[[f32; 2]],
    g: &[f32],
    entropy: bool,
) -> candle_core::Result<Vec<f32>> {
    use rayon::prelude::*;
    let width = if entropy { 2 } else { 1 };
    if g.len() != t.len() * width || stats.len() != t.len() || x.len() != t.len() * v {
        candle_core::bail!("token_logprobs: gradient and forward do not match");
    }
    let mut out = vec![0f32; x.len()];
    let arch = pulp::Arch::new();
    out.par_chunks_mut(v.max(1))
        .zip(x.par_chunks(v.max(1)).zip(stats.par_iter()))
        .zip(t.par_iter().zip(g.par_chunks(width)))
        .for_each(|((o, (row, &[lse, h])), (&tg, gr))| {
            let (g_lp, g_h) = (gr[0], gr.get(1).copied().unwrap_or(0.0));
            arch.dispatch(|| {
                if g_h == 0.0 {
                    for (o, &xv) in o.iter_mut().zip(row) {
                        *o = -g_lp * exp_nonpos(xv - lse);
                    }
                } else {
                    for (o, &xv) in o.iter_mut().zip(row) {
                        let lp = xv - lse;
                        *o = -exp_nonpos(lp) * (g_lp + g_h * (lp + h));
                    }
                }
            });
            if let Some(o) = o.get_mut(tg as usize) {
                *o += g_lp;
            }
        });
    Ok(out)
}

/// The output shape of the token nodes: the targets' shape, plus a trailing 2 with entropy.
fn token_out_shape(targets: &Layout, entropy: bool) -> Shape {
    let mut dims = targets.dims().to_vec();
    if entropy {
        dims.push(2);
    }
    Shape::from(dims)
}

fn poisoned(what: &str) -> candle_core::Error {
    candle_core::Error::Msg(format!("{what}: poisoned"))
}

impl CustomOp2 for TokenLogProbsNode {
    fn name(&self) -> &'static str {
        "token-logprobs"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(x), Some((a, b))) = (s1, l1.contiguous_offsets()) else {
            return Err(cpu_err("token_logprobs logits"));
        };
        let v = *l1.dims().last().unwrap_or(&1);
        let (out, stats) = row_logprobs(&x[a..b], v, targets_of(s2, l2)?, self.entropy)?;
        *self.stats.lock().map_err(|_| poisoned("token_logprobs"))? = Some(Arc::new(stats));
        Ok((CpuStorage::F32(out), token_out_shape(l2, self.entropy)))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        if !logits.track_op() {
            return Ok((None, None));
        }
        let stats = self
            .stats
            .lock()
            .map_err(|_| poisoned("token_logprobs"))?
            .clone()
            .ok_or_else(|| candle_core::Error::Msg("token_logprobs: no forward".into()))?;
        let gl = logits.detach().apply_op3_no_bwd(
            targets,
            &g.detach().contiguous()?,
            &TokenLogProbsGrad {
                stats,
                entropy: self.entropy,
            },
        )?;
        Ok((Some(gl), None))
    }
}

/// The logits' gradient ([`logits_grad`]) as an op on `(logits, targets, g)`.
struct TokenLogProbsGrad {
    stats: Arc<Vec<[f32; 2]>>,
    entropy: bool,
}

impl CustomOp3 for TokenLogProbsGrad {
    fn name(&self) -> &'static str {
        "token-logprobs-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "token_logprobs logits")?;
        let g = f32_slice(s3, l3, "token_logprobs gradient")?;
        let v = *l1.dims().last().unwrap_or(&1);
        let t = targets_of(s2, l2)?;
        let out = logits_grad(x, v, t, &self.stats, g, self.entropy)?;
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// The LM head and [`TokenLogProbsNode`] as one node on `(h, w, targets)`: `logits = h·wᵀ` stay
/// inside it (kept for the backward), so the big logits gradient never goes through candle's
/// gradient accumulation; the backward turns it straight into `g·w` and `gᵀ·h`.
struct HeadLogProbsNode {
    entropy: bool,
    saved: Mutex<Option<HeadSaved>>,
}

/// What [`HeadLogProbsNode`]'s forward keeps: the logits `(rows, V)` and each row's
/// `(log Σ exp, H)`.
type HeadSaved = (Arc<Vec<f32>>, Arc<Vec<[f32; 2]>>);

impl CustomOp3 for HeadLogProbsNode {
    fn name(&self) -> &'static str {
        "head-token-logprobs"
    }

    fn cpu_fwd(
        &self,
        sh: &CpuStorage,
        lh: &Layout,
        sw: &CpuStorage,
        lw: &Layout,
        st: &CpuStorage,
        lt: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (logits, _) = LinearNode::forward((sh, lh), (sw, lw), None)?;
        let CpuStorage::F32(logits) = logits else {
            return Err(cpu_err("head_token_logprobs logits"));
        };
        let v = lw.dims()[0];
        let (out, stats) = row_logprobs(&logits, v, targets_of(st, lt)?, self.entropy)?;
        *self
            .saved
            .lock()
            .map_err(|_| poisoned("head_token_logprobs"))? =
            Some((Arc::new(logits), Arc::new(stats)));
        Ok((CpuStorage::F32(out), token_out_shape(lt, self.entropy)))
    }

    fn bwd(
        &self,
        h: &Tensor,
        w: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        if !h.track_op() && !w.track_op() {
            return Ok((None, None, None));
        }
        let (logits, stats) = self
            .saved
            .lock()
            .map_err(|_| poisoned("head_token_logprobs"))?
            .clone()
            .ok_or_else(|| candle_core::Error::Msg("head_token_logprobs: no forward".into()))?;
        let (v, hid) = w.dims2()?;
        let rows = logits.len() / v.max(1);
        let t = targets.flatten_all()?.to_vec1::<u32>()?;
        let g = g.detach().flatten_all()?.to_vec1::<f32>()?;
        let gl = logits_grad(&logits, v, &t, &stats, &g, self.entropy)?;
        let gl = Tensor::from_vec(gl, (rows, v), h.device())?;
        let gh = if h.track_op() {
            Some(gl.matmul(&w.detach())?.reshape(h.shape())?)
        } else {
            None
        };
        let gw = if w.track_op() {
            Some(gl.t()?.matmul(&h.detach().reshape((rows, hid))?)?)
        } else {
            None
        };
        Ok((gh, gw, None))
    }
}

fn check_token_args(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    let lead = &logits.dims()[..logits.rank().saturating_sub(1)];
    if logits.rank() == 0 || targets.dims() != lead {
        candle_core::bail!(
            "token_logprobs: logits {:?} and targets {:?} do not match",
            logits.dims(),
            targets.dims()
        );
    }
    targets.to_dtype(DType::U32)?.contiguous()
}

fn token_node(entropy: bool) -> TokenLogProbsNode {
    TokenLogProbsNode {
        entropy,
        stats: Mutex::new(None),
    }
}

/// `log_softmax(logits, −1)` gathered at `targets`: logits `(…, V)`, targets `(…)` u32 →
/// `(…)` f32, as one autograd node (CPU, f32) whose backward is `g·(onehot − softmax)`.
/// Other devices and dtypes: `log_softmax` + `gather`, in f32 (f64 for f64).
pub fn token_logprobs(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    let targets = check_token_args(logits, targets)?;
    if logits.device().is_cpu() && logits.dtype() == DType::F32 {
        return logits.contiguous()?.apply_op2(&targets, token_node(false));
    }
    let lp = candle_nn::ops::log_softmax(&logits.to_dtype(work_dtype(logits.dtype()))?, D::Minus1)?;
    lp.gather(&targets.unsqueeze(D::Minus1)?, D::Minus1)?
        .squeeze(D::Minus1)
}

/// [`token_logprobs`] and the entropy `−Σ p log p` of each row, `(…)` each, from one pass over
/// the logits (CPU, f32: one autograd node whose output `(…, 2)` holds both). Other devices and
/// dtypes: `log_softmax`, `gather` and `−Σ exp(lsm)·lsm`, in f32 (f64 for f64).
pub fn token_logprobs_entropy(
    logits: &Tensor,
    targets: &Tensor,
) -> candle_core::Result<(Tensor, Tensor)> {
    let targets = check_token_args(logits, targets)?;
    if logits.device().is_cpu() && logits.dtype() == DType::F32 {
        let both = logits.contiguous()?.apply_op2(&targets, token_node(true))?;
        return Ok((
            both.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?,
            both.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?,
        ));
    }
    let lsm =
        candle_nn::ops::log_softmax(&logits.to_dtype(work_dtype(logits.dtype()))?, D::Minus1)?;
    let lp = lsm
        .gather(&targets.unsqueeze(D::Minus1)?, D::Minus1)?
        .squeeze(D::Minus1)?;
    let h = (lsm.exp()? * &lsm)?.sum(D::Minus1)?.neg()?;
    Ok((lp, h))
}

/// The LM head and the token log-probabilities in one: `log_softmax(h·wᵀ)[target]` for `h`
/// `(…, H)`, `w` `(V, H)` (no bias), targets `(…)`, and with `entropy` each row's entropy too.
/// On CPU in f32 this is one autograd node ([`HeadLogProbsNode`]): the `(…, V)` logits and
/// their gradient stay inside it. Other devices and dtypes: [`linear`] then
/// [`token_logprobs`] / [`token_logprobs_entropy`] on the logits in f32 (f64 for f64).
pub fn head_token_logprobs(
    h: &Tensor,
    w: &Tensor,
    targets: &Tensor,
    entropy: bool,
) -> candle_core::Result<(Tensor, Option<Tensor>)> {
    let (_, hid) = w.dims2()?;
    if h.dim(D::Minus1)? != hid || targets.dims() != &h.dims()[..h.rank() - 1] {
        candle_core::bail!(
            "head_token_logprobs: hidden {:?}, weight {:?} and targets {:?} do not match",
            h.dims(),
            w.dims(),
            targets.dims()
        );
    }
    if !cpu_f32(&[h, w]) {
        let logits = linear(h, w, None)?.to_dtype(work_dtype(h.dtype()))?;
        return if entropy {
            let (lp, e) = token_logprobs_entropy(&logits, targets)?;
            Ok((lp, Some(e)))
        } else {
            Ok((token_logprobs(&logits, targets)?, None))
        };
    }
    let targets = targets.to_dtype(DType::U32)?.contiguous()?;
    let node = HeadLogProbsNode {
        entropy,
        saved: Mutex::new(None),
    };
    let out = h.contiguous()?.apply_op3(w, &targets, node)?;
    if !entropy {
        return Ok((out, None));
    }
    Ok((
        out.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?,
        Some(out.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?),
    ))
}

// ---------------------------------------------------------------------------------------------
// RMSNorm

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => Err(cpu_err(what)),
    }
}

/// Multiply-adds from which a kernel splits its work across rayon's threads: below it, handing
/// the work to the pool (a futex wake-up and wait per call) costs more than it saves (decoding
/// the tiny preset at batch 64: 93 → 111 thousand tok/s, medians of 3 in one A/B run).
pub(crate) const PAR_MIN_MULS: usize = 1 << 18;
/// Elements from which an elementwise kernel splits its work across rayon's threads.
pub(crate) const PAR_MIN_ELEMS: usize = 1 << 15;

/// Whether `work` reaches `min` and there is more than one thread to share it.
pub(crate) fn worth_threads(work: usize, min: usize) -> bool {
    work >= min && rayon::current_num_threads() > 1
}

/// Rows per parallel task of the row kernels.
fn row_block(rows: usize) -> usize {
    rows.div_ceil(4 * rayon::current_num_threads()).max(1)
}

/// `1/√(mean(x²) + eps)` of a row.
fn inv_rms(row: &[f32], eps: f32) -> f32 {
    let ms = row.iter().map(|&v| v * v).sum::<f32>() / row.len().max(1) as f32;
    1.0 / (ms + eps).sqrt()
}

/// `x / √(mean(x²) + eps) · w` over the last dimension.
struct RmsNormNode {
    eps: f32,
}

impl CustomOp2 for RmsNormNode {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let x = f32_slice(s1, l1, "rms_norm input")?;
        let w = f32_slice(s2, l2, "rms_norm weight")?;
        let d = w.len().max(1);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(d)
            .zip(x.par_chunks(d))
            .for_each(|(o, row)| {
                let r = inv_rms(row, self.eps);
                for ((o, &v), &w) in o.iter_mut().zip(row).zip(w) {
                    *o = v * r * w;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (rows, d) = (x.elem_count() / w.elem_count().max(1), w.elem_count());
        // (rows + 1, d): the input gradient, then the weight gradient.
        let both = x.detach().apply_op3_no_bwd(
            &w.detach(),
            &g.detach().contiguous()?,
            &RmsNormGrad { eps: self.eps },
        )?;
        let gx = x
            .track_op()
            .then(|| both.narrow(0, 0, rows)?.reshape(x.shape()))
            .transpose()?;
        let gw = w
            .track_op()
            .then(|| both.narrow(0, rows, 1)?.reshape(d))
            .transpose()?;
        Ok((gx, gw))
    }
}

/// `gx = r·(g·w − x̂·mean(g·w·x̂))`, `gw = Σ_rows g·x̂` with `x̂ = x·r`.
struct RmsNormGrad {
    eps: f32,
}

impl CustomOp3 for RmsNormGrad {
    fn name(&self) -> &'static str {
        "rms-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let x = f32_slice(s1, l1, "rms_norm input")?;
        let w = f32_slice(s2, l2, "rms_norm weight")?;
        let g = f32_slice(s3, l3, "rms_norm gradient")?;
        let d = w.len().max(1);
        let rows = x.len() / d;
        let mut out = vec![0f32; x.len() + d];
        let (gx, gw) = out.split_at_mut(x.len());
        let block = row_block(rows) * d;
        let partial: Vec<Vec<f32>> = gx
            .par_chunks_mut(block)
            .zip(x.par_chunks(block).zip(g.par_chunks(block)))
            .map(|(gx, (x, g))| {
                let mut gw = vec![0f32; d];
                for ((gx, x), g) in gx.chunks_mut(d).zip(x.chunks(d)).zip(g.chunks(d)) {
                    let r = inv_rms(x, self.eps);
                    let mut dot = 0f32;
                    for (((gw, &x), &g), &w) in gw.iter_mut().zip(x).zip(g).zip(w) {
                        let xh = x * r;
                        *gw += g * xh;
                        dot += g * w * xh;
                    }
                    let c = dot / d as f32;
                    for (((gx, &x), &g), &w) in gx.iter_mut().zip(x).zip(g).zip(w) {
                        *gx = r * (g * w - x * r * c);
                    }
                }
                gw
            })
            .collect();
        for p in partial {
            for (a, b) in gw.iter_mut().zip(p) {
                *a += b;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((rows + 1, d))))
    }
}

/// The dtype the compositions compute in: f64 stays f64 (gradient checks), the rest uses f32.
fn work_dtype(dtype: DType) -> DType {
    if dtype == DType::F64 {
        DType::F64
    } else {
        DType::F32
    }
}

/// RMSNorm `x / √(mean(x²) + eps) · w` over the last dimension (`w`: `(d)`) as one autograd
/// node (CPU, f32); other devices and dtypes: the composition, in f32 (f64 for f64).
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    if cpu_f32(&[x, w]) && w.rank() == 1 && x.dim(D::Minus1)? == w.dim(0)? {
        return x
            .contiguous()?
            .apply_op2(&w.contiguous()?, RmsNormNode { eps: eps as f32 });
    }
    let dtype = x.dtype();
    let work = work_dtype(dtype);
    let xf = x.to_dtype(work)?;
    let ms = xf.sqr()?.mean_keepdim(D::Minus1)?;
    xf.broadcast_div(&(ms + eps)?.sqrt()?)?
        .broadcast_mul(&w.to_dtype(work)?)?
        .to_dtype(dtype)
}

// ---------------------------------------------------------------------------------------------
// attention probabilities

/// `softmax(scores·scale + mask)` per row; scores `(B, n, G·T, Tk)`, mask `(B, T, Tk)`.
struct MaskedSoftmaxNode {
    scale: f32,
    /// `T`: rows of one mask per (batch, head, group).
    t: usize,
    /// `n·G·T`: rows per batch entry.
    rows_per_batch: usize,
}

impl CustomOp2 for MaskedSoftmaxNode {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let s = f32_slice(s1, l1, "attention scores")?;
        let m = f32_slice(s2, l2, "attention mask")?;
        let tk = *l1.dims().last().unwrap_or(&1);
        let mut out = vec![0f32; s.len()];
        out.par_chunks_mut(tk.max(1))
            .zip(s.par_chunks(tk.max(1)))
            .enumerate()
            .for_each(|(r, (o, row))| {
                let (b, t) = (r / self.rows_per_batch, r % self.t);
                let mrow = &m[(b * self.t + t) * tk..(b * self.t + t + 1) * tk];
                for ((o, &v), &mv) in o.iter_mut().zip(row).zip(mrow) {
                    *o = v * self.scale + mv;
                }
                let max = max16(o);
                let mut sum = 0f32;
                for o in o.iter_mut() {
                    // exp(z) rounds to 0 below −104; masked entries (≈ f32::MIN) skip libm's
                    // slow underflow path.
                    let z = *o - max;
                    *o = if z < -104.0 { 0.0 } else { z.exp() };
                    sum += *o;
                }
                for o in o.iter_mut() {
                    *o /= sum;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        scores: &Tensor,
        _mask: &Tensor,
        res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        if !scores.track_op() {
            return Ok((None, None));
        }
        let gs = res.detach().apply_op2_no_bwd(
            &g.detach().contiguous()?,
            &SoftmaxGrad { scale: self.scale },
        )?;
        Ok((Some(gs), None))
    }
}

/// `scale · y·(g − Σ g·y)` per row, from the softmax output `y`.
struct SoftmaxGrad {
    scale: f32,
}

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "softmax-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let y = f32_slice(s1, l1, "softmax output")?;
        let g = f32_slice(s2, l2, "softmax gradient")?;
        let tk = *l1.dims().last().unwrap_or(&1);
        let mut out = vec![0f32; y.len()];
        out.par_chunks_mut(tk.max(1))
            .zip(y.par_chunks(tk.max(1)).zip(g.par_chunks(tk.max(1))))
            .for_each(|(o, (y, g))| {
                let dot: f32 = y.iter().zip(g).map(|(y, g)| y * g).sum();
                for ((o, &y), &g) in o.iter_mut().zip(y).zip(g) {
                    *o = self.scale * y * (g - dot);
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `softmax(scores·scale + mask)` over the last dimension with the additive mask shared by the
/// `groups` query heads of each key/value head: scores `(B, n_kv, groups·T, Tk)`, mask
/// `(B, 1, T, Tk)`. One autograd node on CPU for f32 (the mask gets no gradient); otherwise the
/// composition (`affine`, `broadcast_add`, `softmax`).
pub fn masked_softmax(
    scores: &Tensor,
    mask: &Tensor,
    scale: f64,
    groups: usize,
) -> candle_core::Result<Tensor> {
    let (b, n, gt, tk) = scores.dims4()?;
    let t = gt / groups.max(1);
    if cpu_f32(&[scores, mask]) && mask.dims() == [b, 1, t, tk] && t * groups == gt {
        return scores.contiguous()?.apply_op2(
            &mask.contiguous()?,
            MaskedSoftmaxNode {
                scale: scale as f32,
                t,
                rows_per_batch: n * gt,
            },
        );
    }
    let att = (scores * scale)?
        .reshape((b, n, groups, t, tk))?
        .broadcast_add(&mask.unsqueeze(1)?)?
        .reshape((b, n, gt, tk))?;
    candle_nn::ops::softmax(&att, D::Minus1)
}

// ---------------------------------------------------------------------------------------------
// fused attention

/// Mask values below this are "blocked": `scale·q·k + m` rounds to `m` in f32 for any sane
/// score, and the probability is exactly 0 unless the whole row is blocked.
const BLOCKED: f32 = -1.0e36;

/// `Σ a·b` with sixteen partial sums (vectorises; f32 rounding like a gemm's).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `exp(z)` for softmax arguments `z ≤ 0`, written to vectorise (no libm call):
/// `2ⁿ·e^r` with `z = n·ln2 + r`, `|r| ≤ ln2/2`, `e^r` by its degree-7 Taylor polynomial
/// (relative error below 2e-7). Returns 0 below −87 (where `expf` is subnormal, < 2e-38).
/// `n` is rounded by adding 1.5·2²³ (the sum's low mantissa bits are then `n`), which keeps
/// the whole function in plain float and integer lane operations.
#[inline(always)]
fn exp_nonpos(z: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0;
    let zc = z.max(-87.0);
    let t = zc * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = zc - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    let two_n = f32::from_bits(t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23);
    if z < -87.0 {
        0.0
    } else {
        two_n * p
    }
}

/// Max of a slice (sixteen lanes: vectorises).
#[inline(always)]
fn max16(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let mut chunks = row.chunks_exact(16);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = if v > *l { v } else { *l };
        }
    }
    let tail = chunks.remainder().iter().copied();
    lanes
        .into_iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, f32::max)
}

/// Sum of a slice (sixteen partial sums: vectorises).
#[inline(always)]
fn sum16(row: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let mut chunks = row.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// Shapes of [`attention`]: q `(B, n, G·T, hd)`, k/v `(B, n, Tk, hd)`, mask `(B, T, Tk)`.
/// The keys and values may be the first `Tk` of `cap` positions (a KV cache): each
/// (batch, head) block spans `cap·hd` values and the transposed keys' rows `cap`.
#[derive(Clone, Copy)]
struct AttnDims {
    n: usize,
    gt: usize,
    t: usize,
    tk: usize,
    cap: usize,
    hd: usize,
    scale: f32,
}

impl AttnDims {
    /// The mask row of query row `r` (`(b·n + h)·G·T + i`).
    #[inline(always)]
    fn mask_row<'a>(&self, m: &'a [f32], r: usize) -> &'a [f32] {
        let i = self.mask_index(r);
        &m[i * self.tk..(i + 1) * self.tk]
    }

    /// The index `b·T + t` of query row `r`'s mask row.
    #[inline(always)]
    fn mask_index(&self, r: usize) -> usize {
        (r / (self.gt * self.n)) * self.t + r % self.t
    }

    /// [`AttnDims::span`] of every mask row of `m` `(B, T, Tk)`, computed once per node.
    fn spans(&self, m: &[f32]) -> Vec<(usize, usize)> {
        m.chunks_exact(self.tk.max(1)).map(AttnDims::span).collect()
    }

    /// The keys `lo..hi` that need computing: the span of visible keys (mask ≥ −1e36), all keys
    /// when none is visible. Keys outside the span have probability exactly 0 (their score
    /// `scale·q·k + m` rounds to `m`, more than 104 below the row max).
    #[inline(always)]
    fn span(mrow: &[f32]) -> (usize, usize) {
        match mrow.iter().position(|&m| m >= BLOCKED) {
            Some(lo) => {
                let hi = mrow.iter().rposition(|&m| m >= BLOCKED).unwrap_or(lo) + 1;
                (lo, hi)
            }
            None => (0, mrow.len()),
        }
    }

    /// Scale, mask and softmax of one row's scores over its span `lo..hi` (in place in
    /// `p[lo..hi]`). `stats`: the row's `(max, 1/Σexp)` when known (backward), else computed
    /// and returned.
    #[inline(always)]
    fn softmax_span(
        &self,
        p: &mut [f32],
        mrow: &[f32],
        (lo, hi): (usize, usize),
        stats: Option<[f32; 2]>,
    ) -> [f32; 2] {
        let p = &mut p[lo..hi];
        for (p, &m) in p.iter_mut().zip(&mrow[lo..hi]) {
            *p = *p * self.scale + m;
        }
        let [max, inv] = match stats {
            Some(st) => st,
            None => {
                let max = max16(p);
                for p in p.iter_mut() {
                    *p = exp_nonpos(*p - max);
                }
                let inv = 1.0 / sum16(p);
                for p in p.iter_mut() {
                    *p *= inv;
                }
                return [max, inv];
            }
        };
        for p in p.iter_mut() {
            *p = exp_nonpos(*p - max) * inv;
        }
        [max, inv]
    }

    /// Probabilities of the `nr` query rows from global row `r0` into `p` (`nr` rows of `tk`),
    /// exactly 0 outside each row's own span; returns the union `lo..hi` of the spans, its end
    /// moved up to a whole number of vector widths where the keys allow (the extra columns
    /// hold 0), so that the kernels that follow run without scalar tails.
    /// `stats`: per row `(max, 1/Σexp)`, read when `known`, else written.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn probs_block(
        &self,
        r0: usize,
        nr: usize,
        q: &[f32],
        kt: &[f32],
        (m, row_spans): (&[f32], &[(usize, usize)]),
        p: &mut [f32],
        stats: &mut [[f32; 2]],
        known: bool,
    ) -> (usize, usize) {
        let (hd, tk, cap) = (self.hd, self.tk, self.cap);
        let mut spans = [(0, 0); MR];
        let (mut lo, mut hi) = (tk, 0);
        for (k, s) in spans.iter_mut().enumerate().take(nr) {
            *s = row_spans[self.mask_index(r0 + k)];
            lo = lo.min(s.0);
            hi = hi.max(s.1);
        }
        if lo >= hi {
            return (0, 0);
        }
        let hi = (lo + (hi - lo).next_multiple_of(LANES)).min(tk);
        by_rows!(
            nr,
            scores_block(&q[r0 * hd..(r0 + nr) * hd], hd, (kt, cap), tk, (lo, hi), p)
        );
        for (k, &(a, b)) in spans.iter().enumerate().take(nr) {
            let row = &mut p[k * tk..(k + 1) * tk];
            let st = self.softmax_span(
                row,
                self.mask_row(m, r0 + k),
                (a, b),
                known.then_some(stats[k]),
            );
            stats[k] = st;
            row[lo..a.max(lo)].fill(0.0);
            row[b.min(hi)..hi].fill(0.0);
        }
        (lo, hi)
    }
}

/// Query rows per register block of the attention kernels.
const MR: usize = 8;
/// f32 lanes of the widest vector (AVX-512); smaller ISAs split the arrays.
const LANES: usize = 16;

/// Calls `f::<R>(args…)` with `R` = the runtime row count `nr` (1..=[`MR`]).
macro_rules! by_rows {
    ($nr:expr, $f:ident($($a:expr),*)) => {
        match $nr {
            8 => $f::<8>($($a),*),
            7 => $f::<7>($($a),*),
            6 => $f::<6>($($a),*),
            5 => $f::<5>($($a),*),
            4 => $f::<4>($($a),*),
            3 => $f::<3>($($a),*),
            2 => $f::<2>($($a),*),
            _ => $f::<1>($($a),*),
        }
    };
}
use by_rows;

/// Strided `R`-row views of one operand of [`rows_times`]: row `r` starts at `r·stride`.
#[derive(Clone, Copy)]
struct Rows<'a> {
    data: &'a [f32],
    stride: usize,
}

/// `out[r][c] = Σ_{k∈ks} a[r][k]·b[k][c]` for `R` rows and the columns `cs`: a register tile of
/// `R × 16` sums per 16 columns, one load of `b` per `R` multiply-adds, the sums running over
/// `k` in order; leftover columns are summed one by one. The attention scores are
/// `q·kᵀ` (`a` = queries over the head dimension, `b` = transposed keys) and the outputs
/// `p·v` (`a` = probabilities over the keys, `b` = values).
#[inline(always)]
fn rows_times<const R: usize>(
    a: Rows,
    ks: (usize, usize),
    b: Rows,
    (c0, c1): (usize, usize),
    out: &mut [f32],
    out_stride: usize,
) {
    let mut c = c0;
    while c + LANES <= c1 {
        let mut acc = [[0f32; LANES]; R];
        for k in ks.0..ks.1 {
            let col: &[f32; LANES] = b.data[k * b.stride + c..k * b.stride + c + LANES]
                .try_into()
                .expect("LANES columns");
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = a.data[r * a.stride + k];
                for l in 0..LANES {
                    acc[l] = x.mul_add(col[l], acc[l]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            out[r * out_stride + c..r * out_stride + c + LANES].copy_from_slice(acc);
        }
        c += LANES;
    }
    for c in c..c1 {
        for r in 0..R {
            let mut s = 0f32;
            for k in ks.0..ks.1 {
                s += a.data[r * a.stride + k] * b.data[k * b.stride + c];
            }
            out[r * out_stride + c] = s;
        }
    }
}

/// Scores `out[r][j] = Σ_d a[r][d]·bt[d][j]` for `j` in `span`: `R` rows `a` (`R × hd`), `bt`
/// (`hd` rows of stride `bt.1`), `out` `R` rows of `tk`.
#[inline(always)]
fn scores_block<const R: usize>(
    a: &[f32],
    hd: usize,
    bt: (&[f32], usize),
    tk: usize,
    span: (usize, usize),
    out: &mut [f32],
) {
    let (a, bt) = (
        Rows {
            data: a,
            stride: hd,
        },
        Rows {
            data: bt.0,
            stride: bt.1,
        },
    );
    rows_times::<R>(a, (0, hd), bt, span, out, tk);
}

/// `out[r][:] = Σ_{j∈span} p[r][j]·x[j][:]`: `R` rows of `p` (stride `tk`), rows `x`
/// (`tk × hd`), `out` `R × hd`.
#[inline(always)]
fn probs_times_rows<const R: usize>(
    p: &[f32],
    tk: usize,
    span: (usize, usize),
    x: &[f32],
    hd: usize,
    out: &mut [f32],
) {
    let (p, x) = (
        Rows {
            data: p,
            stride: tk,
        },
        Rows {
            data: x,
            stride: hd,
        },
    );
    rows_times::<R>(p, span, x, (0, hd), out, hd);
}

/// `outt[d][j] += Σ_r a[r][d]·s[r][j]` for `j` in `lo..hi`: `R` rows `a` (`R × hd`), `s`
/// (`R` rows of `tk`), `outt` (`hd × tk`).
#[inline(always)]
fn accumulate_cols<const R: usize>(
    a: &[f32],
    hd: usize,
    s: &[f32],
    tk: usize,
    (lo, hi): (usize, usize),
    outt: &mut [f32],
) {
    for d in 0..hd {
        let o = &mut outt[d * tk..(d + 1) * tk];
        let mut j = lo;
        while j + LANES <= hi {
            let mut acc: [f32; LANES] = o[j..j + LANES].try_into().expect("LANES columns");
            for r in 0..R {
                let x = a[r * hd + d];
                let sr: &[f32; LANES] = s[r * tk + j..r * tk + j + LANES]
                    .try_into()
                    .expect("LANES columns");
                for l in 0..LANES {
                    acc[l] = x.mul_add(sr[l], acc[l]);
                }
            }
            o[j..j + LANES].copy_from_slice(&acc);
            j += LANES;
        }
        for j in j..hi {
            for r in 0..R {
                o[j] += a[r * hd + d] * s[r * tk + j];
            }
        }
    }
}

/// `(…, R, C)` → `(…, C, R)` contiguous.
fn transposed(x: &Tensor) -> candle_core::Result<Tensor> {
    x.detach().transpose(D::Minus2, D::Minus1)?.contiguous()
}

/// `softmax(scale·q·kᵀ + mask)·v` per (batch, kv head), the `G` query heads of a kv head
/// stacked along the query axis. Keeps each row's max and `1/Σexp` for the backward, which
/// recomputes the probabilities (flash-attention style: no `T×Tk` tensor is stored). Query
/// rows go through register-blocked kernels [`MR`] at a time.
struct AttentionNode {
    dims: AttnDims,
    /// `(B, T, Tk)`, contiguous f32.
    mask: Tensor,
    /// The keys transposed, `(B, n, hd, cap)` (the backward transposes the values).
    kt: Tensor,
    /// Per mask row `(b, t)`: the span of visible keys ([`AttnDims::span`]).
    spans: Vec<(usize, usize)>,
    /// Per query row: `(max, 1/Σexp)`.
    stats: Mutex<Option<Vec<[f32; 2]>>>,
}

/// The forward of query rows `i0..` of one (batch, kv head) `bn`, run under
/// [`pulp::Arch::dispatch`] so that its loops are compiled for the CPU's widest SIMD.
struct AttnFwdRows<'a> {
    d: AttnDims,
    bn: usize,
    i0: usize,
    q: &'a [f32],
    kt: &'a [f32],
    /// The values in their own layout, `(B, n, Tk, hd)`.
    v: &'a [f32],
    m: &'a [f32],
    spans: &'a [(usize, usize)],
    out: &'a mut [f32],
    stats: &'a mut [[f32; 2]],
}

impl pulp::WithSimd for AttnFwdRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let d = self.d;
        let (hd, tk, gt, blk) = (d.hd, d.tk, d.gt, d.cap * d.hd);
        let kt = &self.kt[self.bn * blk..(self.bn + 1) * blk];
        let v = &self.v[self.bn * blk..(self.bn + 1) * blk];
        let mut p = vec![0f32; MR * tk];
        let rows = self.out.len() / hd.max(1);
        let mut i = 0;
        while i < rows {
            let nr = (rows - i).min(MR);
            let r0 = self.bn * gt + self.i0 + i;
            let span = d.probs_block(
                r0,
                nr,
                self.q,
                kt,
                (self.m, self.spans),
                &mut p,
                &mut self.stats[i..],
                false,
            );
            by_rows!(
                nr,
                probs_times_rows(&p, tk, span, v, hd, &mut self.out[i * hd..(i + nr) * hd])
            );
            i += nr;
        }
    }
}

/// The backward of one (batch, kv head): `dq` `(G·T, hd)`, `dkt`/`dvt` `(hd, Tk)`.
struct AttnBwdBlock<'a> {
    d: AttnDims,
    bn: usize,
    t: Bwd<'a>,
    stats: &'a [[f32; 2]],
    dq: &'a mut [f32],
    dkt: &'a mut [f32],
    dvt: &'a mut [f32],
}

impl pulp::WithSimd for AttnBwdBlock<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let (d, bn, t) = (self.d, self.bn, self.t);
        let (hd, tk, gt) = (d.hd, d.tk, d.gt);
        let blk = bn * tk * hd..(bn + 1) * tk * hd;
        let (kt, vt) = (&t.kt[blk.clone()], &t.vt[blk.clone()]);
        let k = &t.k[blk];
        let (mut p, mut ds) = (vec![0f32; MR * tk], vec![0f32; MR * tk]);
        let mut i = 0;
        while i < gt {
            let nr = (gt - i).min(MR);
            let r0 = bn * gt + i;
            let mut st = [[0f32; 2]; MR];
            st[..nr].copy_from_slice(&self.stats[r0..r0 + nr]);
            let span = d.probs_block(r0, nr, t.q, kt, (t.m, t.spans), &mut p, &mut st, true);
            let (lo, hi) = span;
            if lo < hi {
                let rows = r0 * hd..(r0 + nr) * hd;
                let (qb, gb) = (&t.q[rows.clone()], &t.g[rows.clone()]);
                // ds = p·(g·vⱼ − g·o)·scale (0 where p is)
                by_rows!(nr, scores_block(gb, hd, (vt, tk), tk, span, &mut ds));
                for k in 0..nr {
                    let rr = (r0 + k) * hd..(r0 + k + 1) * hd;
                    let delta = dot(&t.g[rr.clone()], &t.o[rr]);
                    let (pr, dr) = (
                        &p[k * tk + lo..k * tk + hi],
                        &mut ds[k * tk + lo..k * tk + hi],
                    );
                    for (ds, &p) in dr.iter_mut().zip(pr) {
                        *ds = p * (*ds - delta) * d.scale;
                    }
                }
                by_rows!(
                    nr,
                    probs_times_rows(&ds, tk, span, k, hd, &mut self.dq[i * hd..(i + nr) * hd])
                );
                by_rows!(nr, accumulate_cols(qb, hd, &ds, tk, span, self.dkt));
                by_rows!(nr, accumulate_cols(gb, hd, &p, tk, span, self.dvt));
            } else {
                self.dq[i * hd..(i + nr) * hd].fill(0.0);
            }
            i += nr;
        }
    }
}

impl AttentionNode {
    /// A node for `dims` with the mask `(B, 1, T, Tk)` and the transposed keys `kt`: the mask
    /// is made contiguous and its rows' key spans computed once.
    fn new(dims: AttnDims, mask: &Tensor, kt: Tensor) -> candle_core::Result<Self> {
        let mask = mask.detach().contiguous()?;
        let spans = with_f32(&mask, "attention mask", |m| dims.spans(m))?;
        Ok(Self {
            dims,
            mask,
            kt,
            spans,
            stats: Mutex::new(None),
        })
    }
}

impl CustomOp3 for AttentionNode {
    fn name(&self) -> &'static str {
        "attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        _: &CpuStorage,
        _: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let q = f32_slice(s1, l1, "attention queries")?;
        let v = f32_slice(s3, l3, "attention values")?;
        let d = self.dims;
        let (hd, gt) = (d.hd.max(1), d.gt.max(1));
        let rows = q.len() / hd;
        // Each (batch, kv head) in pieces of whole register blocks, about 4 tasks per thread.
        let units = (rows / gt).max(1);
        let pieces = (4 * rayon::current_num_threads()).div_ceil(units).max(1);
        let piece = gt.div_ceil(pieces).next_multiple_of(MR).min(gt);
        let mut out = vec![0f32; q.len()];
        let mut stats = vec![[0f32; 2]; rows];
        with_f32(&self.mask, "attention mask", |m| {
            with_f32(&self.kt, "attention keys", |kt| {
                let run = |bn: usize, c: usize, out: &mut [f32], stats: &mut [[f32; 2]]| {
                    pulp::Arch::new().dispatch(AttnFwdRows {
                        d,
                        bn,
                        i0: c * piece,
                        q,
                        kt,
                        v,
                        m,
                        spans: &self.spans,
                        out,
                        stats,
                    })
                };
                if worth_threads(rows * d.tk * hd, PAR_MIN_MULS) {
                    out.par_chunks_mut(gt * hd)
                        .zip(stats.par_chunks_mut(gt))
                        .enumerate()
                        .for_each(|(bn, (out, stats))| {
                            out.par_chunks_mut(piece * hd)
                                .zip(stats.par_chunks_mut(piece))
                                .enumerate()
                                .for_each(|(c, (out, stats))| run(bn, c, out, stats))
                        });
                } else {
                    // Decoding a small model: the handoff to the pool costs more than the work.
                    for (bn, (out, stats)) in out
                        .chunks_mut(gt * hd)
                        .zip(stats.chunks_mut(gt))
                        .enumerate()
                    {
                        run(bn, 0, out, stats);
                    }
                }
            })
        })??;
        *self.stats.lock().map_err(|_| poisoned("attention"))? = Some(stats);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        use rayon::prelude::*;
        if !(q.track_op() || k.track_op() || v.track_op()) {
            return Ok((None, None, None));
        }
        let stats = self
            .stats
            .lock()
            .map_err(|_| poisoned("attention"))?
            .take()
            .ok_or_else(|| candle_core::Error::Msg("attention: backward ran twice".into()))?;
        let d = self.dims;
        let (hd, tk, gt) = (d.hd.max(1), d.tk.max(1), d.gt.max(1));
        let qd = q.detach();
        let kd = k.detach().contiguous()?;
        let vt = transposed(v)?;
        let (od, gd) = (res.detach(), g.detach().contiguous()?);
        let mut dq = vec![0f32; q.elem_count()];
        // dk, dv transposed, (B, n, hd, Tk): the kernels accumulate 16 keys per vector.
        let mut dkt = vec![0f32; k.elem_count()];
        let mut dvt = vec![0f32; v.elem_count()];
        with_f32(&qd, "attention queries", |q| {
            with_f32(&kd, "attention keys", |k| {
                with_f32(&self.kt, "attention keys", |kt| {
                    with_f32(&vt, "attention values", |vt| {
                        with_f32(&od, "attention output", |o| {
                            with_f32(&gd, "attention gradient", |g| {
                                with_f32(&self.mask, "attention mask", |m| {
                                    let t = Bwd {
                                        q,
                                        k,
                                        kt,
                                        vt,
                                        o,
                                        g,
                                        m,
                                        spans: &self.spans,
                                    };
                                    dq.par_chunks_mut(gt * hd)
                                        .zip(dkt.par_chunks_mut(tk * hd))
                                        .zip(dvt.par_chunks_mut(tk * hd))
                                        .enumerate()
                                        .for_each(|(bn, ((dq, dkt), dvt))| {
                                            pulp::Arch::new().dispatch(AttnBwdBlock {
                                                d,
                                                bn,
                                                t,
                                                stats: &stats,
                                                dq,
                                                dkt,
                                                dvt,
                                            })
                                        });
                                })
                            })
                        })
                    })
                })
            })
        })???????;
        let back =
            |data: Vec<f32>, like: &Tensor, t: bool| -> candle_core::Result<Option<Tensor>> {
                if !like.track_op() {
                    return Ok(None);
                }
                let x = Tensor::from_vec(data, like.shape(), like.device())?;
                Ok(Some(if t {
                    let (b, n, tk, hd) = like.dims4()?;
                    x.reshape((b, n, hd, tk))?.transpose(2, 3)?.contiguous()?
                } else {
                    x
                }))
            };
        Ok((
            back(dq, q, false)?,
            back(dkt, k, true)?,
            back(dvt, v, true)?,
        ))
    }
}

/// The inputs of the attention backward kernel.
#[derive(Clone, Copy)]
struct Bwd<'a> {
    q: &'a [f32],
    /// The keys in their own layout, `(B, n, Tk, hd)`.
    k: &'a [f32],
    kt: &'a [f32],
    vt: &'a [f32],
    o: &'a [f32],
    g: &'a [f32],
    m: &'a [f32],
    spans: &'a [(usize, usize)],
}

/// Attention `softmax(q·kᵀ·scale + mask)·v` with the additive mask shared by the `groups`
/// query heads of each key/value head: q `(B, n_kv, groups·T, hd)`, k and v
/// `(B, n_kv, Tk, hd)`, mask `(B, 1, T, Tk)`; returns `(B, n_kv, groups·T, hd)`. One autograd
/// node on CPU for f32 (the mask gets no gradient): no `T×Tk` tensor is stored, blocked keys
/// (mask below −1e36) cost nothing, and the backward recomputes the probabilities. Otherwise
/// the composition (`matmul`, [`masked_softmax`], `matmul`).
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    scale: f64,
    groups: usize,
) -> candle_core::Result<Tensor> {
    match attention_cpu(q, k, v, mask, scale, groups, true)? {
        Some(y) => Ok(y),
        None => masked_softmax(&q.matmul(&k.t()?)?, mask, scale, groups)?.matmul(v),
    }
}

/// The forward kernel of [`attention`] for inference (no graph): `None` where it does not
/// apply (not CPU f32, or shapes that do not fit).
pub fn attention_no_grad(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    scale: f64,
    groups: usize,
) -> candle_core::Result<Option<Tensor>> {
    attention_cpu(q, k, v, mask, scale, groups, false)
}

/// The forward kernel of [`attention`] on a KV cache, for inference (no graph): the keys stored
/// transposed, `kt` `(B, n_kv, hd, cap)`, and the values `v` `(B, n_kv, cap, hd)`, both
/// contiguous, of which the first `len` positions are read in place (no copy per step). q
/// `(B, n_kv, groups·T, hd)`, mask `(B, 1, T, len)`. `None` where it does not apply (not CPU
/// f32, or shapes that do not fit).
pub fn attention_cached(
    q: &Tensor,
    kt: &Tensor,
    v: &Tensor,
    len: usize,
    mask: &Tensor,
    scale: f64,
    groups: usize,
) -> candle_core::Result<Option<Tensor>> {
    let (b, n, gt, hd) = q.dims4()?;
    let cap = v.dim(2)?;
    let t = gt / groups.max(1);
    let fits = kt.dims() == [b, n, hd, cap]
        && v.dims() == [b, n, cap, hd]
        && mask.dims() == [b, 1, t, len]
        && t * groups == gt
        && len <= cap
        && kt.is_contiguous()
        && v.is_contiguous();
    if !(cpu_f32(&[q, kt, v, mask]) && fits) {
        return Ok(None);
    }
    let dims = AttnDims {
        n,
        gt,
        t,
        tk: len,
        cap,
        hd,
        scale: scale as f32,
    };
    let node = AttentionNode::new(dims, mask, kt.detach())?;
    Ok(Some(q.contiguous()?.apply_op3_no_bwd(kt, v, &node)?))
}

fn attention_cpu(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    scale: f64,
    groups: usize,
    record: bool,
) -> candle_core::Result<Option<Tensor>> {
    let (b, n, gt, hd) = q.dims4()?;
    let tk = k.dim(2)?;
    let t = gt / groups.max(1);
    let fits = k.dims() == [b, n, tk, hd]
        && v.dims() == [b, n, tk, hd]
        && mask.dims() == [b, 1, t, tk]
        && t * groups == gt;
    if cpu_f32(&[q, k, v, mask]) && fits {
        let dims = AttnDims {
            n,
            gt,
            t,
            tk,
            cap: tk,
            hd,
            scale: scale as f32,
        };
        let node = AttentionNode::new(dims, mask, transposed(k)?)?;
        let (q, k, v) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
        return Ok(Some(if record {
            q.apply_op3(&k, &v, node)?
        } else {
            q.apply_op3_no_bwd(&k, &v, &node)?
        }));
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// SwiGLU

/// `silu(gate) · up`.
struct SwiGluNode;

#[inline(always)]
fn sigmoid(v: f32) -> f32 {
    let e = exp_nonpos(-v.abs());
    if v >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

impl CustomOp2 for SwiGluNode {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let gate = f32_slice(s1, l1, "swiglu gate")?;
        let up = f32_slice(s2, l2, "swiglu up")?;
        let mut out = vec![0f32; gate.len()];
        let body = |(o, (g, u)): (&mut [f32], (&[f32], &[f32]))| {
            pulp::Arch::new().dispatch(|| {
                for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
                    *o = g * sigmoid(g) * u;
                }
            })
        };
        const C: usize = 1 << 14;
        if worth_threads(gate.len(), PAR_MIN_ELEMS) {
            out.par_chunks_mut(C)
                .zip(gate.par_chunks(C).zip(up.par_chunks(C)))
                .for_each(body);
        } else {
            out.chunks_mut(C)
                .zip(gate.chunks(C).zip(up.chunks(C)))
                .for_each(body);
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        // (2, n): the gate gradient, then the up gradient.
        let both =
            gate.detach()
                .apply_op3_no_bwd(&up.detach(), &g.detach().contiguous()?, &SwiGluGrad)?;
        let gg = gate
            .track_op()
            .then(|| both.get(0)?.reshape(gate.shape()))
            .transpose()?;
        let gu = up
            .track_op()
            .then(|| both.get(1)?.reshape(up.shape()))
            .transpose()?;
        Ok((gg, gu))
    }
}

/// `d gate = g·u·σ(x)(1 + x(1 − σ(x)))`, `d up = g·x·σ(x)`.
struct SwiGluGrad;

impl CustomOp3 for SwiGluGrad {
    fn name(&self) -> &'static str {
        "swiglu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let gate = f32_slice(s1, l1, "swiglu gate")?;
        let up = f32_slice(s2, l2, "swiglu up")?;
        let g = f32_slice(s3, l3, "swiglu gradient")?;
        let n = gate.len();
        let mut out = vec![0f32; 2 * n];
        let (dg, du) = out.split_at_mut(n);
        const C: usize = 1 << 14;
        dg.par_chunks_mut(C)
            .zip(du.par_chunks_mut(C))
            .zip(
                gate.par_chunks(C)
                    .zip(up.par_chunks(C))
                    .zip(g.par_chunks(C)),
            )
            .for_each(|((dg, du), ((x, u), g))| {
                pulp::Arch::new().dispatch(|| {
                    for ((((dg, du), &x), &u), &g) in
                        dg.iter_mut().zip(du.iter_mut()).zip(x).zip(u).zip(g)
                    {
                        let s = sigmoid(x);
                        *dg = g * u * s * (1.0 + x * (1.0 - s));
                        *du = g * x * s;
                    }
                })
            });
        Ok((CpuStorage::F32(out), Shape::from((2, n))))
    }
}

/// SwiGLU `silu(gate) · up` (same shapes): on CPU in f32 one pass (an autograd node when an
/// input is tracked; inference uses the same kernel without one); otherwise the composition.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> candle_core::Result<Tensor> {
    if cpu_f32(&[gate, up]) && gate.dims() == up.dims() {
        let (gate, up) = (gate.contiguous()?, up.contiguous()?);
        return if gate.track_op() || up.track_op() {
            gate.apply_op2(&up, SwiGluNode)
        } else {
            gate.apply_op2_no_bwd(&up, &SwiGluNode)
        };
    }
    gate.silu()? * up
}

// ---------------------------------------------------------------------------------------------
// RoPE

/// Rotary embedding, rotate-half form, of `x` `(B, H, T, D)` with the half-tables `cos`, `sin`
/// `(B, T, D/2)`: `y₁ = x₁c − x₂s`, `y₂ = x₂c + x₁s`. Its backward is the same rotation by `−s`.
struct RopeNode {
    /// Rotate by `−sin` (the backward).
    inverse: bool,
}

impl CustomOp3 for RopeNode {
    fn name(&self) -> &'static str {
        "rope"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let x = f32_slice(s1, l1, "rope x")?;
        let cos = f32_slice(s2, l2, "rope cos")?;
        let sin = f32_slice(s3, l3, "rope sin")?;
        let (b, h, t, d) = l1.shape().dims4()?;
        let half = d / 2;
        if d % 2 != 0 || cos.len() != b * t * half || sin.len() != cos.len() {
            return Err(candle_core::Error::Msg(format!(
                "rope: x {:?} needs cos/sin ({b}, {t}, {half}), got {:?} and {:?}",
                l1.shape(),
                l2.shape(),
                l3.shape()
            )));
        }
        let sign = if self.inverse { -1f32 } else { 1f32 };
        let mut out = vec![0f32; x.len()];
        // One task per (batch, head) plane of T·D values.
        out.par_chunks_mut(t * d)
            .zip(x.par_chunks(t * d))
            .enumerate()
            .for_each(|(plane, (y, x))| {
                let bb = plane / h;
                let table = bb * t * half..(bb + 1) * t * half;
                let (cos, sin) = (&cos[table.clone()], &sin[table]);
                pulp::Arch::new().dispatch(|| {
                    for ((y, x), (c, s)) in y
                        .chunks_exact_mut(d)
                        .zip(x.chunks_exact(d))
                        .zip(cos.chunks_exact(half).zip(sin.chunks_exact(half)))
                    {
                        let (y1, y2) = y.split_at_mut(half);
                        let (x1, x2) = x.split_at(half);
                        for i in 0..half {
                            let s = sign * s[i];
                            y1[i] = x1[i] * c[i] - x2[i] * s;
                            y2[i] = x2[i] * c[i] + x1[i] * s;
                        }
                    }
                })
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let gx = g.detach().contiguous()?.apply_op3_no_bwd(
            cos,
            sin,
            &RopeNode {
                inverse: !self.inverse,
            },
        )?;
        // `rope` only builds this node for constant tables.
        Ok((x.track_op().then_some(gx), None, None))
    }
}

/// Rotate-half RoPE `x·cos + rotate_half(x)·sin` of `x` `(B, H, T, D)` with half-tables `cos`,
/// `sin` `(B, T, D/2)`, as one autograd node (CPU, f32, `x` tracked, constant tables);
/// otherwise the composition.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    if cpu_f32(&[x, cos, sin]) && x.track_op() && !cos.track_op() && !sin.track_op() {
        return x.contiguous()?.apply_op3(
            &cos.contiguous()?,
            &sin.contiguous()?,
            RopeNode { inverse: false },
        );
    }
    let cos = Tensor::cat(&[cos, cos], D::Minus1)?.unsqueeze(1)?;
    let sin = Tensor::cat(&[sin, sin], D::Minus1)?.unsqueeze(1)?;
    x.broadcast_mul(&cos)? + crate::ops::rotate_half(x)?.broadcast_mul(&sin)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn randn(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = crate::generate::Rng::new(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| (rng.uniform() * 4.0 - 2.0) as f32).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
        let d = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let s = b
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        d / s.max(1e-6)
    }

    /// Values and gradients equal those of the composed ops (f64 reference) for every
    /// combination of tracked arguments.
    #[test]
    fn linear_matches_composition() {
        for (bias, train_w, train_x) in [
            (true, true, true),
            (false, true, true),
            (true, false, true),
            (false, true, false),
        ] {
            let x = Var::from_tensor(&randn(&[2, 5, 7], 1)).unwrap();
            let w = Var::from_tensor(&randn(&[3, 7], 2)).unwrap();
            let b = Var::from_tensor(&randn(&[3], 3)).unwrap();
            let up = randn(&[2, 5, 3], 4);
            let xt = if train_x {
                x.as_tensor().clone()
            } else {
                x.as_tensor().detach()
            };
            let wt = if train_w {
                w.as_tensor().clone()
            } else {
                w.as_tensor().detach()
            };
            let bt = b.as_tensor().clone();
            let y = linear(&xt, &wt, bias.then_some(&bt)).unwrap();
            let grads = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
            // Reference in f64 with plain ops.
            let f = |t: &Tensor| t.detach().to_dtype(DType::F64).unwrap();
            let (x64, w64, b64) = (
                Var::from_tensor(&f(&x)).unwrap(),
                Var::from_tensor(&f(&w)).unwrap(),
                Var::from_tensor(&f(&b)).unwrap(),
            );
            let mut y64 = x64.broadcast_matmul(&w64.t().unwrap()).unwrap();
            if bias {
                y64 = y64.broadcast_add(&b64).unwrap();
            }
            let g64 = (&y64 * &f(&up))
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let c = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
            assert!(max_rel(&y, &c(&y64)) < 1e-6);
            let pairs = [
                (train_x, grads.get(&x), g64.get(&x64)),
                (train_w, grads.get(&w), g64.get(&w64)),
                (bias, grads.get(&b), g64.get(&b64)),
            ];
            for (i, (want, got, reference)) in pairs.into_iter().enumerate() {
                match (want, got) {
                    (true, Some(g)) => {
                        assert!(max_rel(g, &c(reference.unwrap())) < 1e-5, "arg {i}")
                    }
                    (false, None) => {}
                    (w, g) => panic!(
                        "arg {i}: wanted gradient {w}, got {:?}",
                        g.map(|g| g.dims().to_vec())
                    ),
                }
            }
        }
    }

    #[test]
    fn token_logprobs_matches_log_softmax_gather() {
        let logits = Var::from_tensor(&(randn(&[2, 3, 50], 5) * 3.0).unwrap()).unwrap();
        let targets = Tensor::new(&[[0u32, 49, 7], [3, 3, 20]], &Device::Cpu).unwrap();
        let up = randn(&[2, 3], 6);
        let lp = token_logprobs(&logits, &targets).unwrap();
        let grads = (&lp * &up).unwrap().sum_all().unwrap().backward().unwrap();
        let l64 = Var::from_tensor(&logits.to_dtype(DType::F64).unwrap()).unwrap();
        let ref_lp = candle_nn::ops::log_softmax(&l64, D::Minus1)
            .unwrap()
            .gather(&targets.unsqueeze(2).unwrap(), 2)
            .unwrap()
            .squeeze(2)
            .unwrap();
        let g64 = (&ref_lp * &up.to_dtype(DType::F64).unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(max_rel(&lp, &ref_lp.to_dtype(DType::F32).unwrap()) < 1e-6);
        let g = grads.get(&logits).unwrap();
        let r = g64.get(&l64).unwrap().to_dtype(DType::F32).unwrap();
        assert!(max_rel(g, &r) < 1e-5, "{}", max_rel(g, &r));
        // Out-of-range targets are errors, not panics.
        let bad = Tensor::new(&[[0u32, 50, 7], [3, 3, 20]], &Device::Cpu).unwrap();
        assert!(token_logprobs(&logits, &bad).is_err());
    }
    /// f32 custom op vs the f64 composition: value and gradients of every input.
    fn check_vs_f64(
        name: &str,
        inputs: &[Tensor],
        ours: impl Fn(&[Tensor]) -> Tensor,
        reference: impl Fn(&[Tensor]) -> Tensor,
        tracked: &[bool],
    ) {
        let vars: Vec<Var> = inputs
            .iter()
            .map(|t| Var::from_tensor(t).unwrap())
            .collect();
        let args: Vec<Tensor> = vars
            .iter()
            .zip(tracked)
            .map(|(v, &tr)| {
                if tr {
                    v.as_tensor().clone()
                } else {
                    v.as_tensor().detach()
                }
            })
            .collect();
        let y = ours(&args);
        let up = randn(y.dims(), 99);
        let grads = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
        let vars64: Vec<Var> = inputs
            .iter()
            .map(|t| Var::from_tensor(&t.to_dtype(DType::F64).unwrap()).unwrap())
            .collect();
        let args64: Vec<Tensor> = vars64.iter().map(|v| v.as_tensor().clone()).collect();
        let y64 = reference(&args64);
        let g64 = (&y64 * &up.to_dtype(DType::F64).unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let c = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
        assert!(
            max_rel(&y, &c(&y64)) < 1e-5,
            "{name}: value {}",
            max_rel(&y, &c(&y64))
        );
        for (i, (v, v64)) in vars.iter().zip(&vars64).enumerate() {
            match (tracked[i], grads.get(v)) {
                (true, Some(g)) => {
                    let r = c(g64.get(v64).unwrap());
                    assert!(
                        max_rel(g, &r) < 1e-5,
                        "{name}: grad {i}: {}",
                        max_rel(g, &r)
                    );
                }
                (false, None) => {}
                (t, g) => panic!("{name}: input {i} tracked {t}, gradient {:?}", g.is_some()),
            }
        }
    }

    #[test]
    fn rms_norm_matches_composition() {
        let x = randn(&[3, 4, 16], 10);
        let w = (randn(&[16], 11) + 1.0).unwrap();
        let reference = |a: &[Tensor]| {
            let ms = a[0].sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
            a[0].broadcast_div(&(ms + 1e-6).unwrap().sqrt().unwrap())
                .unwrap()
                .broadcast_mul(&a[1])
                .unwrap()
        };
        for tracked in [[true, true], [true, false], [false, true]] {
            check_vs_f64(
                "rms_norm",
                &[x.clone(), w.clone()],
                |a| rms_norm(&a[0], &a[1], 1e-6).unwrap(),
                reference,
                &tracked,
            );
        }
    }

    #[test]
    fn masked_softmax_matches_composition() {
        // B 2, n_kv 2, groups 3, T 4, Tk 4; a causal mask with one padded key in batch 1.
        let (b, n, g, t) = (2usize, 2usize, 3usize, 4usize);
        let scores = randn(&[b, n, g * t, t], 12);
        let mut m = vec![0f32; b * t * t];
        for bb in 0..b {
            for i in 0..t {
                for j in 0..t {
                    if j > i || (bb == 1 && j == 0) {
                        m[(bb * t + i) * t + j] = f32::MIN;
                    }
                }
            }
        }
        let mask = Tensor::from_vec(m, (b, 1, t, t), &Device::Cpu).unwrap();
        let scale = 0.35;
        let ours = |a: &[Tensor]| masked_softmax(&a[0], &mask, scale, g).unwrap();
        let mask64 = mask.to_dtype(DType::F64).unwrap();
        let reference = |a: &[Tensor]| {
            let att = (&a[0] * scale)
                .unwrap()
                .reshape((b, n, g, t, t))
                .unwrap()
                .broadcast_add(&mask64.unsqueeze(1).unwrap())
                .unwrap()
                .reshape((b, n, g * t, t))
                .unwrap();
            candle_nn::ops::softmax(&att, D::Minus1).unwrap()
        };
        check_vs_f64("masked_softmax", &[scores], ours, reference, &[true]);
    }

    /// The fused attention against the f64 composition `softmax(q·kᵀ·scale + mask)·v`, with a
    /// causal mask, a padded key in the middle of one row span, and a fully masked row (batch
    /// 1, query 0: its only visible key is padded); widths 19 and 18 exercise the vector tails.
    #[test]
    fn attention_matches_composition() {
        let (b, n, g, t, hd) = (2usize, 2usize, 2usize, 19usize, 18usize);
        let q = randn(&[b, n, g * t, hd], 15);
        let k = randn(&[b, n, t, hd], 16);
        let v = randn(&[b, n, t, hd], 17);
        let mut m = vec![0f32; b * t * t];
        for bb in 0..b {
            for i in 0..t {
                for j in 0..t {
                    if j > i || (bb == 1 && (j == 0 || j == 7)) {
                        m[(bb * t + i) * t + j] = f32::MIN;
                    }
                }
            }
        }
        let mask = Tensor::from_vec(m, (b, 1, t, t), &Device::Cpu).unwrap();
        let scale = 1.0 / (hd as f64).sqrt();
        let mask64 = mask.to_dtype(DType::F64).unwrap();
        let reference = |a: &[Tensor]| {
            let att = (a[0].matmul(&a[1].t().unwrap()).unwrap() * scale)
                .unwrap()
                .reshape((b, n, g, t, t))
                .unwrap()
                .broadcast_add(&mask64.unsqueeze(1).unwrap())
                .unwrap()
                .reshape((b, n, g * t, t))
                .unwrap();
            candle_nn::ops::softmax(&att, D::Minus1)
                .unwrap()
                .matmul(&a[2])
                .unwrap()
        };
        for tracked in [
            [true, true, true],
            [true, false, false],
            [false, true, false],
            [false, false, true],
        ] {
            check_vs_f64(
                "attention",
                &[q.clone(), k.clone(), v.clone()],
                |a| attention(&a[0], &a[1], &a[2], &mask, scale, g).unwrap(),
                reference,
                &tracked,
            );
        }
    }

    #[test]
    fn swiglu_matches_composition() {
        let gate = (randn(&[4, 33], 13) * 3.0).unwrap();
        let up = randn(&[4, 33], 14);
        let reference = |a: &[Tensor]| (a[0].silu().unwrap() * &a[1]).unwrap();
        for tracked in [[true, true], [true, false], [false, true]] {
            check_vs_f64(
                "swiglu",
                &[gate.clone(), up.clone()],
                |a| swiglu(&a[0], &a[1]).unwrap(),
                reference,
                &tracked,
            );
        }
    }

    #[test]
    fn rope_matches_composition() {
        // B 2, H 3, T 5, D 8; the tables differ per batch row (M-RoPE positions).
        let x = randn(&[2, 3, 5, 8], 15);
        let cos = randn(&[2, 5, 4], 16);
        let sin = randn(&[2, 5, 4], 17);
        let reference = |a: &[Tensor]| {
            let c = Tensor::cat(&[&a[1], &a[1]], D::Minus1)
                .unwrap()
                .unsqueeze(1)
                .unwrap();
            let s = Tensor::cat(&[&a[2], &a[2]], D::Minus1)
                .unwrap()
                .unsqueeze(1)
                .unwrap();
            (a[0].broadcast_mul(&c).unwrap()
                + crate::ops::rotate_half(&a[0])
                    .unwrap()
                    .broadcast_mul(&s)
                    .unwrap())
            .unwrap()
        };
        check_vs_f64(
            "rope",
            &[x, cos, sin],
            |a| rope(&a[0], &a[1], &a[2]).unwrap(),
            reference,
            &[true, false, false],
        );
    }
}
