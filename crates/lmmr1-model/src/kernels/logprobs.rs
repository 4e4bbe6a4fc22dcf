//! Token log-probabilities `log_softmax(logits)[target]` (and each row's entropy), with or
//! without the LM head inside the node.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor, D};

use super::linear::LinearNode;
use super::simd::{exp_nonpos, max16};
use super::{cpu_err, f32_slice, matmul, native_f32, poisoned, with_f32, work_dtype};

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

/// Logits (f32) alive at once in the LM-head log-prob computations: their rows are processed
/// in chunks of `LOGITS_CHUNK_ELEMS / V` (Qwen2.5-VL's vocabulary of 151,936: 110 rows, 64 MiB
/// of logits), forward and backward, so a long batch never holds its whole `tokens × V`
/// logits.
pub const LOGITS_CHUNK_ELEMS: usize = 1 << 24;

/// Rows per chunk of logits for a vocabulary of `v`.
pub fn logits_chunk_rows(v: usize) -> usize {
    (LOGITS_CHUNK_ELEMS / v.max(1)).max(1)
}

/// The LM head and [`TokenLogProbsNode`] as one node on `(h, w, targets)`, the rows in chunks
/// of [`logits_chunk_rows`]: the logits never go through candle's graph, and the backward
/// turns their gradient straight into `g·w` and `gᵀ·h`. A batch that fits one chunk keeps its
/// logits for the backward; a longer one keeps only each row's `(log Σ exp, H)` and recomputes
/// each chunk's logits in the backward (one more head product).
struct HeadLogProbsNode {
    entropy: bool,
    chunk_rows: usize,
    saved: Mutex<Option<HeadSaved>>,
}

/// What [`HeadLogProbsNode`]'s forward keeps: the logits `(rows, V)` when they fit one chunk,
/// and each row's `(log Σ exp, H)`.
type HeadSaved = (Option<Arc<Vec<f32>>>, Arc<Vec<[f32; 2]>>);

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
        let (v, hid) = lw.shape().dims2()?;
        let t = targets_of(st, lt)?;
        let rows = t.len();
        let (start, _) = lh
            .contiguous_offsets()
            .ok_or_else(|| cpu_err("head_token_logprobs hidden states"))?;
        let width = if self.entropy { 2 } else { 1 };
        let (mut out, mut stats) = (Vec::with_capacity(rows * width), Vec::with_capacity(rows));
        let mut kept = None;
        for r0 in (0..rows).step_by(self.chunk_rows) {
            let n = self.chunk_rows.min(rows - r0);
            let lay = Layout::contiguous_with_offset((n, hid), start + r0 * hid);
            let (logits, _) = LinearNode::forward((sh, &lay), (sw, lw), None)?;
            let CpuStorage::F32(logits) = logits else {
                return Err(cpu_err("head_token_logprobs logits"));
            };
            let (o, st) = row_logprobs(&logits, v, &t[r0..r0 + n], self.entropy)?;
            out.extend(o);
            stats.extend(st);
            if n == rows {
                kept = Some(Arc::new(logits));
            }
        }
        *self
            .saved
            .lock()
            .map_err(|_| poisoned("head_token_logprobs"))? = Some((kept, Arc::new(stats)));
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
        let (kept, stats) = self
            .saved
            .lock()
            .map_err(|_| poisoned("head_token_logprobs"))?
            .clone()
            .ok_or_else(|| candle_core::Error::Msg("head_token_logprobs: no forward".into()))?;
        let (v, hid) = w.dims2()?;
        let width = if self.entropy { 2 } else { 1 };
        let t = targets.flatten_all()?.to_vec1::<u32>()?;
        let g = g.detach().flatten_all()?.to_vec1::<f32>()?;
        let rows = t.len();
        let (hd, wd) = (h.detach().reshape((rows, hid))?, w.detach());
        let (mut gh, mut gw) = (Vec::new(), None::<Tensor>);
        for r0 in (0..rows).step_by(self.chunk_rows) {
            let n = self.chunk_rows.min(rows - r0);
            let hc = hd.narrow(0, r0, n)?;
            let rs = r0..r0 + n;
            let gl = match &kept {
                Some(logits) => logits_grad(logits, v, &t, &stats, &g, self.entropy)?,
                None => {
                    let logits = hc.matmul(&wd.t()?)?.contiguous()?;
                    with_f32(&logits, "head_token_logprobs logits", |l| {
                        logits_grad(
                            l,
                            v,
                            &t[rs.clone()],
                            &stats[rs.clone()],
                            &g[r0 * width..(r0 + n) * width],
                            self.entropy,
                        )
                    })??
                }
            };
            let gl = Tensor::from_vec(gl, (n, v), h.device())?;
            if h.track_op() {
                gh.push(gl.matmul(&wd)?);
            }
            if w.track_op() {
                let part = gl.t()?.matmul(&hc)?;
                gw = Some(match gw {
                    Some(acc) => (acc + part)?,
                    None => part,
                });
            }
        }
        let gh = if h.track_op() {
            Some(Tensor::cat(&gh, 0)?.reshape(h.shape())?)
        } else {
            None
        };
        Ok((gh, gw, None))
    }
}

/// The portable [`head_token_logprobs`]: device ops in chunks of [`logits_chunk_rows`], the
/// softmax in f32 (f64 for f64), the backward ([`HeadBackward`]) recomputing each chunk's
/// logits. Returns the log-probs `(…)` and, with `entropy`, the entropies `(…)`.
fn head_logprobs_portable(
    h: &Tensor,
    w: &Tensor,
    targets: &Tensor,
    entropy: bool,
    chunk: usize,
) -> candle_core::Result<(Tensor, Option<Tensor>)> {
    let (_, hid) = w.dims2()?;
    let lead = h.dims()[..h.rank() - 1].to_vec();
    let rows = h.elem_count() / hid.max(1);
    let work = work_dtype(h.dtype());
    let targets = targets.to_dtype(DType::U32)?.flatten_all()?.contiguous()?;
    let (hd, wt) = (h.detach().reshape((rows, hid))?, w.detach().t()?);
    let (mut lps, mut lses, mut ents) = (Vec::new(), Vec::new(), Vec::new());
    for r0 in (0..rows).step_by(chunk) {
        let n = chunk.min(rows - r0);
        let logits = matmul(&hd.narrow(0, r0, n)?, &wt, "lm head h·wᵀ")?.to_dtype(work)?;
        let max = logits.max_keepdim(1)?;
        let lse = (logits.broadcast_sub(&max)?.exp()?.sum_keepdim(1)?.log()? + max)?;
        let tc = targets.narrow(0, r0, n)?.unsqueeze(1)?;
        lps.push(logits.gather(&tc, 1)?.sub(&lse)?.squeeze(1)?);
        if entropy {
            // H = −Σ p·(x − lse) = lse − Σ p·x
            let p = logits.broadcast_sub(&lse)?.exp()?;
            ents.push((lse.squeeze(1)? - (p * &logits)?.sum(1)?)?);
        }
        lses.push(lse.squeeze(1)?);
    }
    let lp = Tensor::cat(&lps, 0)?;
    let lse = Tensor::cat(&lses, 0)?;
    let ent = if entropy {
        Some(Tensor::cat(&ents, 0)?)
    } else {
        None
    };
    let value = match &ent {
        Some(e) => Tensor::stack(&[&lp, e], 1)?,
        None => lp.clone(),
    };
    let bwd = HeadBackward { lse, ent, chunk };
    let out =
        super::custom_grad::with_backward("head-token-logprobs", value, [h, w, &targets], bwd)?;
    let shape = lead;
    if entropy {
        let lp = out.narrow(1, 0, 1)?.reshape(shape.as_slice())?;
        let e = out.narrow(1, 1, 1)?.reshape(shape.as_slice())?;
        return Ok((lp, Some(e)));
    }
    Ok((out.reshape(shape)?, None))
}

/// The backward of [`head_logprobs_portable`]: per chunk, the logits again, then
/// `∂/∂x = g_lp·(onehot − p) − g_H·p·(log p + H)` (`p = softmax(x)`), `g·w` and `Σ gᵀ·h`.
struct HeadBackward {
    /// `log Σ exp` per row `(rows)`, f32 (f64 for f64).
    lse: Tensor,
    /// The entropy per row, when computed.
    ent: Option<Tensor>,
    chunk: usize,
}

impl super::custom_grad::Backward for HeadBackward {
    fn backward(
        &self,
        [h, w, targets]: [&Tensor; 3],
        g: &Tensor,
    ) -> candle_core::Result<[Option<Tensor>; 3]> {
        if !h.track_op() && !w.track_op() {
            return Ok([None, None, None]);
        }
        let (v, hid) = w.dims2()?;
        let rows = targets.elem_count();
        let work = self.lse.dtype();
        let (hd, wd) = (h.detach().reshape((rows, hid))?, w.detach());
        let wt = wd.t()?;
        let width = if self.ent.is_some() { 2 } else { 1 };
        let g = g.detach().to_dtype(work)?.reshape((rows, width))?;
        let vocab = Tensor::arange(0u32, v as u32, h.device())?.unsqueeze(0)?;
        let (mut gh, mut gw) = (Vec::new(), None::<Tensor>);
        for r0 in (0..rows).step_by(self.chunk) {
            let n = self.chunk.min(rows - r0);
            let hc = hd.narrow(0, r0, n)?;
            let logits = matmul(&hc, &wt, "lm head h·wᵀ (backward)")?.to_dtype(work)?;
            let logp = logits.broadcast_sub(&self.lse.narrow(0, r0, n)?.unsqueeze(1)?)?;
            let p = logp.exp()?;
            let g_lp = g.narrow(0, r0, n)?.narrow(1, 0, 1)?;
            let coeff = match &self.ent {
                Some(ent) => {
                    let g_h = g.narrow(0, r0, n)?.narrow(1, 1, 1)?;
                    let h_c = ent.narrow(0, r0, n)?.unsqueeze(1)?;
                    (logp.broadcast_add(&h_c)?.broadcast_mul(&g_h)?).broadcast_add(&g_lp)?
                }
                None => g_lp.broadcast_as((n, v))?,
            };
            let onehot = targets
                .narrow(0, r0, n)?
                .unsqueeze(1)?
                .broadcast_eq(&vocab)?
                .to_dtype(work)?;
            let grad = (onehot.broadcast_mul(&g_lp)? - (p * coeff)?)?.to_dtype(h.dtype())?;
            if h.track_op() {
                gh.push(matmul(&grad, &wd, "lm head backward g·w")?);
            }
            if w.track_op() {
                let part = matmul(&grad.t()?, &hc, "lm head backward gᵀ·h")?;
                gw = Some(match gw {
                    Some(acc) => (acc + part)?,
                    None => part,
                });
            }
        }
        let gh = if h.track_op() {
            Some(Tensor::cat(&gh, 0)?.reshape(h.shape())?)
        } else {
            None
        };
        Ok([gh, gw, None])
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
    if native_f32(&[logits]) {
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
    if native_f32(&[logits]) {
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
/// `(…, H)`, `w` `(V, H)` (no bias), targets `(…)`, and with `entropy` each row's entropy too,
/// the rows in chunks of [`logits_chunk_rows`] (never the whole `(…, V)` logits at once, in
/// the graph or outside). Natively (CPU, f32) one autograd node ([`HeadLogProbsNode`]);
/// otherwise device ops with a hand-written backward, the softmax in f32 (f64 for f64).
pub fn head_token_logprobs(
    h: &Tensor,
    w: &Tensor,
    targets: &Tensor,
    entropy: bool,
) -> candle_core::Result<(Tensor, Option<Tensor>)> {
    head_token_logprobs_in_chunks(h, w, targets, entropy, logits_chunk_rows(w.dim(0)?))
}

/// [`head_token_logprobs`] with `chunk_rows` rows of logits at a time.
pub fn head_token_logprobs_in_chunks(
    h: &Tensor,
    w: &Tensor,
    targets: &Tensor,
    entropy: bool,
    chunk_rows: usize,
) -> candle_core::Result<(Tensor, Option<Tensor>)> {
    let (_, hid) = w.dims2()?;
    let chunk_rows = chunk_rows.max(1);
    if h.dim(D::Minus1)? != hid || targets.dims() != &h.dims()[..h.rank() - 1] {
        candle_core::bail!(
            "head_token_logprobs: hidden {:?}, weight {:?} and targets {:?} do not match",
            h.dims(),
            w.dims(),
            targets.dims()
        );
    }
    if !native_f32(&[h, w]) {
        return head_logprobs_portable(h, w, targets, entropy, chunk_rows);
    }
    let targets = targets.to_dtype(DType::U32)?.contiguous()?;
    let node = HeadLogProbsNode {
        entropy,
        chunk_rows,
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
