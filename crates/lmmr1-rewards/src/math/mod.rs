//! A Math-Verify-compatible answer checker.
//!
//! [`verify`] follows the semantics of Hugging Face's Math-Verify (0.9, default settings):
//! both strings go through [answer extraction](extract) (LaTeX environments, `\boxed{}`,
//! anchors such as "final answer is", plain numbers and expressions; rightmost match of the
//! best priority group first), [normalization](normalize) (units, `\left`, `\dfrac`, `\frac12`,
//! …), a LaTeX parser, and then an equivalence test that mirrors `sympy_expr_eq`: exact
//! rational arithmetic for rational values, rounding to 6 decimals when a float is involved,
//! bounded numeric evaluation for irrational constants, identity testing at sample points for
//! expressions with variables, order-free sets, open/closed intervals, relations up to flipping
//! and scaling, and asymmetric unwrapping of assignments (the gold decides the form).
//!
//! ```
//! use lmmr1_rewards::math;
//!
//! assert!(math::verify("$\\frac{1}{3}$", "so x = 0.333333"));
//! assert!(math::verify("$\\{1, 2, 3\\}$", "$\\boxed{3, 2, 1}$"));
//! assert!(math::verify("$x < 3$", "$3 > x$"));
//! assert!(!math::verify("$[1, 3)$", "$(1, 3)$"));
//! assert!(math::verify("$2\\sqrt{3}$", "The answer is $\\sqrt{12}$."));
//! ```
//!
//! Differences from Math-Verify are few and deliberate:
//! * values whose difference only vanishes below double precision (`1/2004!` vs `1/2006!`,
//!   `2^{-99}` vs `2^{-98}`) are compared exactly when rational, so they are unequal;
//! * calculus (`\lim`, `\int`, bounded `\sum`) is not evaluated;
//! * `simplify(a - b) == 0` is decided by evaluating both sides at fixed sample points, so an
//!   identity that holds only on part of the domain (`\sqrt{x^2}` vs `x`) counts as equal;
//! * nothing times out: every step is bounded instead (see [`MAX_INPUT_LEN`]).
//!
//! On 3,036 cases Math-Verify 0.9.0 judged itself, the verdicts agree on 99.77 %
//! (`tests/math_verify_fixture.rs` lists every disagreement).

mod equiv;
mod eval;
mod expr;
mod extract;
mod latex;
mod malformed;
mod normalize;
mod python;
mod units;

use std::fmt;

pub use equiv::CompareConfig;
pub use expr::{Const, Expr, Func, Number, Rel};
pub use extract::{ExprConfig, ExtractConfig, Extracted, ExtractionMode, LatexConfig};
pub(crate) use normalize::{boxed_before, matching_bracket};
pub use normalize::{Boxed, NormConfig};

/// Longest input considered, in bytes: longer strings are checked on their last
/// `MAX_INPUT_LEN` bytes (answers sit at the end). This bounds the work per call.
pub const MAX_INPUT_LEN: usize = 16 * 1024;

/// An extracted answer: the parsed expression and the text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The parsed expression, if the matched text parsed.
    pub expr: Option<Expr>,
    /// The (normalized) matched text.
    pub raw: String,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expr {
            Some(e) => write!(f, "{e}"),
            None => f.write_str(&self.raw),
        }
    }
}

/// The last [`MAX_INPUT_LEN`] bytes of `s` at most, on a character boundary (what the
/// checkers read of an over-long input).
pub(crate) fn tail(s: &str) -> &str {
    if s.len() <= MAX_INPUT_LEN {
        return s;
    }
    let mut start = s.len() - MAX_INPUT_LEN;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Extracts the final answer from a response with Math-Verify's default settings.
///
/// Returns `None` when nothing answer-like is found.
///
/// ```
/// let a = lmmr1_rewards::math::extract("So the total is $\\boxed{\\frac{3}{4}}$.").unwrap();
/// assert_eq!(a.raw, "\\frac{3}{4}");
/// assert_eq!(a.to_string(), "(3/4)");
/// ```
pub fn extract(response: &str) -> Option<Answer> {
    extract_with(response, &ExtractConfig::default())
}

/// [`extract`] with explicit extraction settings.
pub fn extract_with(response: &str, cfg: &ExtractConfig) -> Option<Answer> {
    let e = extract::extract(tail(response), cfg);
    match (e.value, e.raw) {
        (None, None) => None,
        (expr, raw) => Some(Answer {
            expr,
            raw: raw.unwrap_or_default(),
        }),
    }
}

/// Whether `pred` states the same answer as `gold`, with Math-Verify's default semantics
/// (`verify(parse(gold), parse(pred))`).
///
/// The argument order matters: the gold decides the form (an assignment `k = 1` in the gold
/// accepts `1`; an equation in the prediction is reduced to its right-hand side).
pub fn verify(gold: &str, pred: &str) -> bool {
    let (g, p) = (extract_recent(gold), extract_recent(pred));
    verify_answers(g.as_deref(), p.as_deref(), &CompareConfig::default())
}

/// How many recent extractions each thread remembers for [`verify`] (an RL batch scores many
/// samples against the same gold; Math-Verify keeps similar LRU caches of size 20).
const RECENT_ENTRIES: usize = 8;
/// Longest input remembered.
const RECENT_MAX_LEN: usize = 1024;

type Recent = std::collections::VecDeque<(String, Option<std::rc::Rc<Answer>>)>;

thread_local! {
    static RECENT: std::cell::RefCell<Recent> = const { std::cell::RefCell::new(Recent::new()) };
}

/// [`extract`] with default settings, memoized over the last few inputs of this thread.
fn extract_recent(text: &str) -> Option<std::rc::Rc<Answer>> {
    if text.len() > RECENT_MAX_LEN {
        return extract(text).map(std::rc::Rc::new);
    }
    if let Some(hit) =
        RECENT.with_borrow(|r| r.iter().find(|(k, _)| k == text).map(|(_, v)| v.clone()))
    {
        return hit;
    }
    let value = extract(text).map(std::rc::Rc::new);
    RECENT.with_borrow_mut(|r| {
        if r.len() == RECENT_ENTRIES {
            r.pop_front();
        }
        r.push_back((text.to_string(), value.clone()));
    });
    value
}

/// Compares two extracted answers (Math-Verify's `verify` on parsed lists): parsed values by
/// [`equivalent`], and matched texts by exact string equality.
pub fn verify_answers(gold: Option<&Answer>, pred: Option<&Answer>, cfg: &CompareConfig) -> bool {
    let (Some(g), Some(p)) = (gold, pred) else {
        return false;
    };
    if let (Some(ge), Some(pe)) = (&g.expr, &p.expr) {
        if equivalent(ge, pe, cfg) {
            return true;
        }
    }
    let (gr, pr) = (g.raw.trim(), p.raw.trim());
    !gr.is_empty() && gr == pr
}

/// Whether two parsed expressions are equal under Math-Verify's rules (gold first).
pub fn equivalent(gold: &Expr, pred: &Expr, cfg: &CompareConfig) -> bool {
    equiv::expr_eq(gold, pred, cfg)
}

/// Parses a LaTeX answer string (without `$` delimiters) after the default normalization.
///
/// ```
/// use lmmr1_rewards::math::parse_latex;
/// assert!(parse_latex("\\frac{1}{2}").is_some());
/// assert!(parse_latex("\\frac{").is_none());
/// ```
pub fn parse_latex(latex: &str) -> Option<Expr> {
    let s = normalize::normalize(tail(latex), &NormConfig::default());
    extract::parse_latex(&s)
}

/// The real value of a constant expression: exact when rational, else the double it evaluates
/// to (taken exactly). `None` for expressions with free symbols, sets, relations, and complex or
/// non-finite values. Used by the geometry checker's decimal tolerance.
pub(crate) fn real_value(e: &Expr) -> Option<num_rational::BigRational> {
    if let Some(x) = eval::exact(e) {
        return Some(x);
    }
    if !e.is_constant() {
        return None;
    }
    let v = eval::numeric(e, &[]);
    if !v.is_finite() || v.im.abs() > 1e-12 * v.re.abs().max(1.0) {
        return None;
    }
    num_rational::BigRational::from_float(v.re)
}
