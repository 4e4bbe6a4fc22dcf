//! Python bindings of `lmmr1-rewards`: the module `lmmr1_rewards._native`, re-exported (with
//! the adapters for verl, TRL, EasyR1 and OpenRLHF) by the Python package `lmmr1_rewards`.
//!
//! Every function releases the GIL while it works, uses no signals and returns within the
//! checker's bounded work, so it can be called from any thread or process. The batch functions
//! score on a thread pool.

use lmmr1_rewards::math::{self, CompareConfig};
use lmmr1_rewards::sokoban::{self, Level, LmmR1Sokoban, SolveLimits};
use lmmr1_rewards::{format, lmm_r1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

/// Math-Verify's comparison settings.
fn compare(float_rounding: u32, strict: bool, allow_set_relation_comp: bool) -> CompareConfig {
    CompareConfig {
        float_rounding,
        strict,
        allow_set_relation_comp,
    }
}

/// `verify(parse(gold), parse(pred))` with these settings.
fn verify_one(gold: &str, pred: &str, cfg: &CompareConfig) -> bool {
    if *cfg == CompareConfig::default() {
        // The memoizing path (a batch often repeats its gold).
        return math::verify(gold, pred);
    }
    let (g, p) = (math::extract(gold), math::extract(pred));
    math::verify_answers(g.as_ref(), p.as_ref(), cfg)
}

/// Runs `f` on a pool of `num_threads` threads (all cores when `None`).
fn on_pool<T: Send>(num_threads: Option<usize>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    match num_threads {
        None => Ok(f()),
        Some(0) => Err(PyValueError::new_err("num_threads must be at least 1")),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(|pool| pool.install(f))
            .map_err(|e| PyValueError::new_err(format!("cannot start {n} threads: {e}"))),
    }
}

fn same_length(a: (&str, usize), b: (&str, usize)) -> PyResult<()> {
    if a.1 != b.1 {
        return Err(PyValueError::new_err(format!(
            "{} has {} items but {} has {}",
            a.0, a.1, b.0, b.1
        )));
    }
    Ok(())
}

fn math_score_dict<'py>(py: Python<'py>, s: &lmm_r1::MathScore) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("format", s.format)?;
    d.set_item("accuracy", s.accuracy)?;
    d.set_item("total", s.total)?;
    Ok(d)
}

/// Whether `pred` states the same answer as `gold` (Math-Verify's `verify(parse(gold),
/// parse(pred))`, gold first).
#[pyfunction]
#[pyo3(signature = (gold, pred, *, float_rounding = 6, strict = true, allow_set_relation_comp = false))]
fn verify(
    py: Python<'_>,
    gold: &str,
    pred: &str,
    float_rounding: u32,
    strict: bool,
    allow_set_relation_comp: bool,
) -> bool {
    let cfg = compare(float_rounding, strict, allow_set_relation_comp);
    py.detach(|| verify_one(gold, pred, &cfg))
}

/// The answer Math-Verify's `parse` extracts from `text`: `[value, matched text]` (the value in
/// the checker's notation), `[matched text]` when it does not parse, `[]` when nothing is found.
#[pyfunction]
fn parse(py: Python<'_>, text: &str) -> Vec<String> {
    py.detach(|| match math::extract(text) {
        None => Vec::new(),
        Some(a) => match &a.expr {
            Some(e) => vec![e.to_string(), a.raw.clone()],
            None => vec![a.raw.clone()],
        },
    })
}

/// LMM-R1's math reward of one response: `{"format": 0.5 or 0, "accuracy": 1 or 0, "total"}`.
#[pyfunction]
fn math_reward<'py>(py: Python<'py>, response: &str, gold: &str) -> PyResult<Bound<'py, PyDict>> {
    let s = py.detach(|| lmm_r1::math_reward(response, gold));
    math_score_dict(py, &s)
}

/// Whether a response has LMM-R1's exact `<think>…</think><answer>…</answer>` format.
#[pyfunction]
fn format_r1(response: &str) -> bool {
    format::r1(response)
}

/// The response part of a decoded prompt + response (after `<|im_start|>assistant\n`, end-of-turn
/// markers removed), as LMM-R1's reward server finds it.
#[pyfunction]
fn response_from_query(query: &str) -> String {
    lmm_r1::response_from_query(query)
}

/// [`verify`] over pairs, on `num_threads` threads (all cores by default), the GIL released.
#[pyfunction]
#[pyo3(signature = (golds, preds, num_threads = None, *, float_rounding = 6, strict = true, allow_set_relation_comp = false))]
fn verify_batch(
    py: Python<'_>,
    golds: Vec<String>,
    preds: Vec<String>,
    num_threads: Option<usize>,
    float_rounding: u32,
    strict: bool,
    allow_set_relation_comp: bool,
) -> PyResult<Vec<bool>> {
    same_length(("golds", golds.len()), ("preds", preds.len()))?;
    let cfg = compare(float_rounding, strict, allow_set_relation_comp);
    py.detach(|| {
        on_pool(num_threads, || {
            golds
                .par_iter()
                .zip(preds.par_iter())
                .map(|(g, p)| verify_one(g, p, &cfg))
                .collect()
        })
    })
}

/// [`math_reward`] over pairs, on `num_threads` threads (all cores by default).
#[pyfunction]
#[pyo3(signature = (responses, golds, num_threads = None))]
fn math_reward_batch<'py>(
    py: Python<'py>,
    responses: Vec<String>,
    golds: Vec<String>,
    num_threads: Option<usize>,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    same_length(("responses", responses.len()), ("golds", golds.len()))?;
    let scores: Vec<lmm_r1::MathScore> = py.detach(|| {
        on_pool(num_threads, || {
            responses
                .par_iter()
                .zip(golds.par_iter())
                .map(|(r, g)| lmm_r1::math_reward(r, g))
                .collect()
        })
    })?;
    scores.iter().map(|s| math_score_dict(py, s)).collect()
}

/// LMM-R1's Sokoban reward of a response on a level given in XSB text (`#` wall, `@` player,
/// `$` box, `.` target, `*` box on target, `+` player on target). With `magebench=True` the
/// dict also holds MageBench's level score (the optimal reward found by the solver, bounded to
/// 10 s).
#[pyfunction]
#[pyo3(signature = (level_xsb, response, *, magebench = false))]
fn sokoban_reward<'py>(
    py: Python<'py>,
    level_xsb: &str,
    response: &str,
    magebench: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let level =
        Level::from_xsb(level_xsb).map_err(|e| PyValueError::new_err(format!("level_xsb: {e}")))?;
    let (b, optimal) = py.detach(|| {
        let b = LmmR1Sokoban.breakdown(response, &level);
        let optimal = magebench.then(|| sokoban::optimal_reward(&level, &SolveLimits::default()));
        (b, optimal)
    });
    let d = PyDict::new(py);
    d.set_item("total", b.total)?;
    d.set_item("format_ok", b.format_ok)?;
    d.set_item("task_reward", b.task_reward)?;
    d.set_item("action_bonus", b.action_bonus)?;
    d.set_item("thinking_bonus", b.thinking_bonus)?;
    d.set_item("num_actions", b.num_actions)?;
    d.set_item("thinking_words", b.thinking_words)?;
    if let Some(optimal) = optimal {
        let optimal = optimal
            .map_err(|e| PyValueError::new_err(format!("level_xsb: no optimal plan: {e}")))?;
        d.set_item("optimal_reward", optimal)?;
        d.set_item(
            "magebench_score",
            sokoban::magebench_score(b.task_reward, optimal),
        )?;
    }
    Ok(d)
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(math_reward, m)?)?;
    m.add_function(wrap_pyfunction!(format_r1, m)?)?;
    m.add_function(wrap_pyfunction!(response_from_query, m)?)?;
    m.add_function(wrap_pyfunction!(verify_batch, m)?)?;
    m.add_function(wrap_pyfunction!(math_reward_batch, m)?)?;
    m.add_function(wrap_pyfunction!(sokoban_reward, m)?)?;
    m.add("MAX_INPUT_LEN", math::MAX_INPUT_LEN)?;
    Ok(())
}
