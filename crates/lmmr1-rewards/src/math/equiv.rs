//! Mathematical equivalence of two parsed answers, following Math-Verify's `sympy_expr_eq`:
//! assignments and equations are unwrapped asymmetrically (the gold decides), relations compare
//! up to flipping and scaling, sets without order, intervals with their open/closed ends,
//! floats after rounding, symbols case-insensitively, and everything else by exact rational
//! arithmetic or, failing that, numeric evaluation at fixed sample points.

use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::ToPrimitive;

use super::eval::{exact, numeric, C64};
use super::expr::{Const, Expr, Number, Rel};

/// Comparison settings (Math-Verify's `verify` arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompareConfig {
    /// Decimals kept when a float is involved (`float_rounding`, default 6).
    pub float_rounding: u32,
    /// When false, free variables are matched by position (`f(x)` ≡ `f(y)`).
    pub strict: bool,
    /// Also compare a relation prediction against a set gold (`x∈[-2,7]` vs `-2≤x≤7`).
    pub allow_set_relation_comp: bool,
}

impl Default for CompareConfig {
    fn default() -> Self {
        Self {
            float_rounding: 6,
            strict: true,
            allow_set_relation_comp: false,
        }
    }
}

/// Maximum nodes in an expression we compare (larger inputs compare unequal).
const MAX_NODES: usize = 20_000;

/// Whether `pred` equals `gold` under Math-Verify's rules.
pub fn expr_eq(gold: &Expr, pred: &Expr, cfg: &CompareConfig) -> bool {
    use std::borrow::Cow;
    if gold.size() > MAX_NODES || pred.size() > MAX_NODES {
        return false;
    }
    let mut gold = Cow::Borrowed(gold);
    let mut pred = Cow::Borrowed(pred);
    if !cfg.strict {
        let gs = gold.free_symbols();
        let ps = pred.free_symbols();
        if gs.len() == ps.len() {
            pred = Cow::Owned(rename(&pred, &ps, &gs));
        }
    }
    let gold_assign = is_assignment(&gold);
    let pred_assign = is_assignment(&pred);
    let gold_eq = gold.is_equation();
    let pred_eq = pred.is_equation();
    if gold_assign {
        gold = Cow::Owned(Expr::Rel(
            Rel::Eq,
            Box::new(first_lhs(&gold)),
            Box::new(last_rhs(&gold)),
        ));
    }
    if pred_assign {
        pred = Cow::Owned(Expr::Rel(
            Rel::Eq,
            Box::new(first_lhs(&pred)),
            Box::new(last_rhs(&pred)),
        ));
    }
    if pred_eq && !gold_eq {
        pred = Cow::Owned(last_rhs(&pred));
    } else if gold_assign && !pred_eq {
        gold = Cow::Owned(last_rhs(&gold));
    }
    if gold.is_relation() && is_sympy_set(&pred) {
        if let Some(s) = relation_as_set(&gold) {
            gold = Cow::Owned(s);
        }
    }
    if cfg.allow_set_relation_comp && pred.is_relation() && is_sympy_set(&gold) {
        if let Some(s) = relation_as_set(&pred) {
            pred = Cow::Owned(s);
        }
    }
    compare(&gold, &pred, cfg)
}

/// The comparison after unwrapping (`sympy_expr_eq` from `sympy_str_eq` on).
fn compare(gold: &Expr, pred: &Expr, cfg: &CompareConfig) -> bool {
    let (vg, vp) = (Value::new(gold), Value::new(pred));
    if structural_eq(&vg, &vp) {
        return true;
    }
    if gold.is_relation() && pred.is_relation() {
        return compare_relations(gold, pred, cfg);
    }
    if gold.is_set_like() || pred.is_set_like() {
        return compare_sets(gold, pred, cfg);
    }
    if matches!(gold, Expr::Sym(_)) || matches!(pred, Expr::Sym(_)) {
        return compare_symbols(gold, pred);
    }
    if matches!(gold, Expr::Rel(..) | Expr::And(_)) || matches!(pred, Expr::Rel(..) | Expr::And(_))
    {
        return false;
    }
    numeric_eq(&vg, &vp, cfg) || symbolic_eq(&vg, &vp)
}

/// An expression's exact value and float-ness, computed at most once per comparison.
struct Value<'a> {
    e: &'a Expr,
    exact: std::cell::OnceCell<Option<BigRational>>,
    float: std::cell::OnceCell<bool>,
}

impl<'a> Value<'a> {
    fn new(e: &'a Expr) -> Self {
        Self {
            e,
            exact: std::cell::OnceCell::new(),
            float: std::cell::OnceCell::new(),
        }
    }
    fn exact(&self) -> Option<&BigRational> {
        self.exact.get_or_init(|| exact(self.e)).as_ref()
    }
    fn float(&self) -> bool {
        *self.float.get_or_init(|| is_float(self.e))
    }
    /// The value a float comparison sees: exact when rational and float-free, else the
    /// double it evaluates to, taken exactly.
    fn rounding(&self) -> Option<BigRational> {
        if !self.float() {
            if let Some(x) = self.exact() {
                return Some(x.clone());
            }
        }
        BigRational::from_float(constant_f64(self.e)?)
    }
    fn exact_int(&self) -> bool {
        !self.float() && self.exact().is_some_and(|x| x.is_integer())
    }
}

fn rename(e: &Expr, from: &[String], to: &[String]) -> Expr {
    match e {
        Expr::Sym(s) => match from.iter().position(|f| f == s) {
            Some(i) => Expr::Sym(to[i].clone()),
            None => e.clone(),
        },
        Expr::Add(v) => Expr::Add(v.iter().map(|x| rename(x, from, to)).collect()),
        Expr::Mul(v) => Expr::Mul(v.iter().map(|x| rename(x, from, to)).collect()),
        Expr::Func(f, v) => Expr::Func(f.clone(), v.iter().map(|x| rename(x, from, to)).collect()),
        Expr::And(v) => Expr::And(v.iter().map(|x| rename(x, from, to)).collect()),
        Expr::Set(v) => Expr::Set(v.iter().map(|x| rename(x, from, to)).collect()),
        Expr::Tuple(v) => Expr::Tuple(v.iter().map(|x| rename(x, from, to)).collect()),
        Expr::Union(v) => Expr::Union(v.iter().map(|x| rename(x, from, to)).collect()),
        Expr::Pow(a, b) => Expr::Pow(Box::new(rename(a, from, to)), Box::new(rename(b, from, to))),
        Expr::Rel(r, a, b) => Expr::Rel(
            *r,
            Box::new(rename(a, from, to)),
            Box::new(rename(b, from, to)),
        ),
        Expr::Percent(a) => Expr::Percent(Box::new(rename(a, from, to))),
        Expr::Interval {
            lo,
            hi,
            lo_open,
            hi_open,
        } => Expr::Interval {
            lo: Box::new(rename(lo, from, to)),
            hi: Box::new(rename(hi, from, to)),
            lo_open: *lo_open,
            hi_open: *hi_open,
        },
        Expr::Matrix(rows) => Expr::Matrix(
            rows.iter()
                .map(|r| r.iter().map(|x| rename(x, from, to)).collect())
                .collect(),
        ),
        Expr::Num(_) | Expr::Const(_) | Expr::EmptySet => e.clone(),
    }
}

/// Whether an expression is made only of symbols (latex2sympy's `is_expr_of_only_symbols`):
/// the left side of an assignment such as `x`, `a_3`, `f(x)`, `|AB|` or `S_1:S`.
fn only_symbols(e: &Expr) -> bool {
    match e {
        Expr::Sym(_) => true,
        Expr::Pow(b, p) if **p == Expr::int(-1) => match &**b {
            Expr::Sym(_) => true,
            inner => children(inner).is_some_and(|c| c.iter().all(|x| only_symbols(x))),
        },
        other => {
            children(other).is_some_and(|c| !c.is_empty() && c.iter().all(|x| only_symbols(x)))
        }
    }
}

/// The arguments of a compound expression (`None` for leaves).
fn children(e: &Expr) -> Option<Vec<&Expr>> {
    Some(match e {
        Expr::Add(v) | Expr::Mul(v) | Expr::Func(_, v) | Expr::Set(v) | Expr::Tuple(v) => {
            v.iter().collect()
        }
        Expr::Pow(a, b) => vec![&**a, &**b],
        Expr::Percent(a) => vec![&**a],
        _ => return None,
    })
}

fn is_assignment(e: &Expr) -> bool {
    match e {
        Expr::Rel(Rel::Eq, lhs, _) => only_symbols(lhs),
        Expr::And(v) => {
            e.is_equation()
                && matches!(v.first(), Some(Expr::Rel(Rel::Eq, lhs, _)) if only_symbols(lhs))
        }
        _ => false,
    }
}

fn first_lhs(e: &Expr) -> Expr {
    match e {
        Expr::Rel(_, l, _) => (**l).clone(),
        Expr::And(v) => v.first().map(first_lhs).unwrap_or(Expr::EmptySet),
        other => other.clone(),
    }
}

fn last_rhs(e: &Expr) -> Expr {
    match e {
        Expr::Rel(_, _, r) => (**r).clone(),
        Expr::And(v) => v.last().map(last_rhs).unwrap_or(Expr::EmptySet),
        other => other.clone(),
    }
}

/// sympy's `Set` (intervals, finite sets, unions), not tuples.
fn is_sympy_set(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Set(_) | Expr::Interval { .. } | Expr::Union(_) | Expr::EmptySet
    )
}

/// A one-variable relation (or chain) as the set of its solutions, when it is a simple bound.
fn relation_as_set(e: &Expr) -> Option<Expr> {
    let rels: Vec<&Expr> = match e {
        Expr::And(v) => v.iter().collect(),
        r => vec![r],
    };
    let mut var: Option<&str> = None;
    let inf = || Expr::Const(Const::Infinity);
    let ninf = || Expr::negated(Expr::Const(Const::Infinity));
    let (mut lo, mut hi, mut lo_open, mut hi_open) = (ninf(), inf(), true, true);
    let mut point = None;
    for r in rels {
        let Expr::Rel(op, a, b) = r else {
            return None;
        };
        // Put the variable on the left.
        let (op, v, bound) = match (&**a, &**b) {
            (Expr::Sym(s), c) if c.is_constant() => (*op, s.as_str(), c.clone()),
            (c, Expr::Sym(s)) if c.is_constant() => (op.flipped(), s.as_str(), c.clone()),
            _ => return None,
        };
        if var.is_some_and(|x| x != v) {
            return None;
        }
        var = Some(v);
        match op {
            Rel::Lt | Rel::Le => {
                hi = bound;
                hi_open = op == Rel::Lt;
            }
            Rel::Gt | Rel::Ge => {
                lo = bound;
                lo_open = op == Rel::Gt;
            }
            Rel::Eq => point = Some(bound),
            Rel::Ne => return None,
        }
    }
    if let Some(p) = point {
        return Some(Expr::Set(vec![p]));
    }
    Some(Expr::Interval {
        lo: Box::new(lo),
        hi: Box::new(hi),
        lo_open,
        hi_open,
    })
}

/// sympy's `==` after its automatic evaluation: structure, with numbers compared by value.
fn structural_eq(va: &Value, vb: &Value) -> bool {
    match (va.e, vb.e) {
        (Expr::Num(x), Expr::Num(y)) => x.value == y.value,
        (Expr::Num(_), _) | (_, Expr::Num(_)) => {
            !va.float()
                && !vb.float()
                && matches!((va.exact(), vb.exact()), (Some(x), Some(y)) if x == y)
        }
        (a, b) => a == b,
    }
}

fn is_float(e: &Expr) -> bool {
    let mut f = false;
    e.visit(&mut |n| {
        if let Expr::Num(Number { float: true, .. }) = n {
            f = true;
        }
    });
    f
}

fn compare_relations(gold: &Expr, pred: &Expr, cfg: &CompareConfig) -> bool {
    match (gold, pred) {
        (Expr::And(g), Expr::And(p)) => {
            g.len() == p.len() && g.iter().zip(p).all(|(a, b)| compare_relations(a, b, cfg))
        }
        (Expr::Rel(og, lg, rg), Expr::Rel(op, lp, rp)) => {
            let dg = difference(lg, rg);
            if og == op && expr_eq(&dg, &difference(lp, rp), cfg) {
                return true;
            }
            if og.flipped() == *op && expr_eq(&dg, &difference(rp, lp), cfg) {
                return true;
            }
            // For two equations sympy solves both and compares the solutions, which for these
            // answers means the sides' differences are proportional. (Its solver path fails on
            // inequalities, so `x < 3` and `2x < 6` stay unequal, as in Math-Verify.)
            *og == Rel::Eq && *op == Rel::Eq && proportional(&dg, &difference(lp, rp)).is_some()
        }
        _ => false,
    }
}

fn difference(a: &Expr, b: &Expr) -> Expr {
    Expr::Add(vec![a.clone(), Expr::negated(b.clone())])
}

/// Sample points for identity testing: fixed, irrational-looking, positive.
const SAMPLES: [f64; 5] = [
    0.713_281_9,
    1.417_093_3,
    2.261_905_7,
    0.382_119_4,
    3.159_732_1,
];

fn sample_envs(vars: &[String]) -> Vec<Vec<(String, C64)>> {
    (0..SAMPLES.len())
        .map(|k| {
            vars.iter()
                .enumerate()
                .map(|(j, v)| {
                    (
                        v.clone(),
                        C64::real(SAMPLES[(k + 2 * j) % SAMPLES.len()] + 0.1 * j as f64),
                    )
                })
                .collect()
        })
        .collect()
}

fn close(a: C64, b: C64) -> bool {
    let scale = 1.0f64.max(a.abs()).max(b.abs());
    (a.re - b.re).abs() <= 1e-9 * scale && (a.im - b.im).abs() <= 1e-9 * scale
}

/// If `a = c·b` for a real constant `c ≠ 0` at every sample point, `c`.
fn proportional(a: &Expr, b: &Expr) -> Option<f64> {
    let mut vars = a.free_symbols();
    vars.extend(b.free_symbols());
    vars.sort();
    vars.dedup();
    if vars.is_empty() {
        return None;
    }
    let mut ratio: Option<C64> = None;
    let mut seen = 0;
    for env in sample_envs(&vars) {
        let (x, y) = (numeric(a, &env), numeric(b, &env));
        if !x.is_finite() || !y.is_finite() {
            continue;
        }
        if y.abs() < 1e-300 {
            if x.abs() < 1e-300 {
                continue;
            }
            return None;
        }
        let d = y.re * y.re + y.im * y.im;
        let r = C64 {
            re: (x.re * y.re + x.im * y.im) / d,
            im: (x.im * y.re - x.re * y.im) / d,
        };
        match ratio {
            None => ratio = Some(r),
            Some(r0) if close(r0, r) => {}
            Some(_) => return None,
        }
        seen += 1;
    }
    let r = ratio?;
    (seen >= 2 && r.im.abs() < 1e-12 && r.re != 0.0).then_some(r.re)
}

fn compare_sets(gold: &Expr, pred: &Expr, cfg: &CompareConfig) -> bool {
    let wrap = |e: &Expr| {
        if e.is_set_like() {
            e.clone()
        } else {
            Expr::Set(vec![e.clone()])
        }
    };
    let (a, b) = (wrap(gold), wrap(pred));
    if let (Expr::Interval { .. }, Expr::Interval { .. }) = (&a, &b) {
        return compare_intervals(&a, &b, cfg);
    }
    if a == b {
        return true;
    }
    if let (Some(x), Some(y)) = (exact_set(&a), exact_set(&b)) {
        if x == y {
            return true;
        }
    }
    match (&a, &b) {
        (Expr::Set(_) | Expr::Tuple(_), Expr::Set(_) | Expr::Tuple(_)) => deep_compare(&a, &b, cfg),
        (
            Expr::Interval {
                lo,
                hi,
                lo_open: true,
                hi_open: true,
            },
            Expr::Set(v) | Expr::Tuple(v),
        ) if v.len() == 2 => {
            deep_compare(&Expr::Tuple(vec![(**lo).clone(), (**hi).clone()]), &b, cfg)
        }
        (
            Expr::Set(v) | Expr::Tuple(v),
            Expr::Interval {
                lo,
                hi,
                lo_open: true,
                hi_open: true,
            },
        ) if v.len() == 2 => {
            deep_compare(&a, &Expr::Tuple(vec![(**lo).clone(), (**hi).clone()]), cfg)
        }
        (Expr::Union(x), Expr::Union(y)) => {
            x.len() == y.len() && match_distinct(x, y, |a, b| compare_sets(a, b, cfg))
        }
        _ => false,
    }
}

/// A finite set of exact rationals, sorted and deduplicated (sympy evaluates `{1, 2/2}`).
fn exact_set(e: &Expr) -> Option<Vec<BigRational>> {
    let Expr::Set(v) = e else {
        return None;
    };
    if v.iter().any(is_float) {
        return None;
    }
    let mut xs: Vec<BigRational> = v.iter().map(exact).collect::<Option<_>>()?;
    xs.sort();
    xs.dedup();
    Some(xs)
}

fn compare_intervals(a: &Expr, b: &Expr, cfg: &CompareConfig) -> bool {
    match (a, b) {
        (
            Expr::Interval {
                lo: l1,
                hi: h1,
                lo_open: lo1,
                hi_open: ho1,
            },
            Expr::Interval {
                lo: l2,
                hi: h2,
                lo_open: lo2,
                hi_open: ho2,
            },
        ) => lo1 == lo2 && ho1 == ho2 && expr_eq(l1, l2, cfg) && expr_eq(h1, h2, cfg),
        _ => false,
    }
}

/// Element-wise comparison: sets without order, tuples in order.
fn deep_compare(gold: &Expr, pred: &Expr, cfg: &CompareConfig) -> bool {
    let (Expr::Set(g) | Expr::Tuple(g)) = gold else {
        return false;
    };
    let (Expr::Set(p) | Expr::Tuple(p)) = pred else {
        return false;
    };
    if g.len() != p.len() {
        return false;
    }
    let unordered = matches!(gold, Expr::Set(_))
        || (matches!(pred, Expr::Set(_)) && !matches!(gold, Expr::Tuple(_)));
    if !unordered {
        return g.iter().zip(p).all(|(a, b)| expr_eq(a, b, cfg));
    }
    match_distinct(g, p, |a, b| expr_eq(a, b, cfg))
}

/// Order-insensitive matching: each of `xs` pairs with a distinct element of `ys` (greedy).
fn match_distinct(xs: &[Expr], ys: &[Expr], eq: impl Fn(&Expr, &Expr) -> bool) -> bool {
    let mut used = vec![false; ys.len()];
    xs.iter().all(|x| {
        (0..ys.len()).any(|j| {
            let hit = !used[j] && eq(x, &ys[j]);
            used[j] |= hit;
            hit
        })
    })
}

fn compare_symbols(gold: &Expr, pred: &Expr) -> bool {
    let is_e_sym = |e: &Expr| matches!(e, Expr::Sym(s) if s.eq_ignore_ascii_case("e"));
    let is_euler = |e: &Expr| matches!(e, Expr::Const(Const::E));
    if (is_e_sym(gold) && is_euler(pred)) || (is_e_sym(pred) && is_euler(gold)) {
        return true;
    }
    let concat = |e: &Expr| -> Option<String> {
        let Expr::Mul(v) = e else {
            return None;
        };
        v.iter()
            .map(|x| match x {
                Expr::Sym(s) => Some(s.clone()),
                Expr::Const(Const::E) => Some("e".to_string()),
                _ => None,
            })
            .collect()
    };
    match (gold, pred) {
        (Expr::Sym(g), Expr::Mul(_)) => {
            if let Some(c) = concat(pred) {
                return g.to_lowercase() == c.to_lowercase();
            }
        }
        (Expr::Mul(_), Expr::Sym(p)) => {
            if let Some(c) = concat(gold) {
                return p.to_lowercase() == c.to_lowercase();
            }
        }
        (Expr::Sym(g), Expr::Sym(p)) => {
            let norm = |s: &str| {
                if s.chars().count() > 1 {
                    s.to_lowercase()
                } else {
                    s.to_string()
                }
            };
            return norm(g) == norm(p);
        }
        _ => {}
    }
    gold.to_string() == pred.to_string()
}

/// A number or a percentage of a number (`is_atomic_or_pct_atomic`).
fn atomic_number(e: &Expr) -> Option<&Number> {
    match e {
        Expr::Num(n) => Some(n),
        Expr::Percent(x) => match &**x {
            Expr::Num(n) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

/// `28%` against `28`: Math-Verify accepts an integer for an integer percentage.
fn percent_of_integer_matches(pct: &Expr, other: &Expr) -> bool {
    match (pct, other) {
        (Expr::Percent(inner), Expr::Num(n)) => match &**inner {
            Expr::Num(m) => !m.float && !n.float && m.value.is_integer() && m.value == n.value,
            _ => false,
        },
        _ => false,
    }
}

/// The value of a constant expression as a finite real double.
fn constant_f64(e: &Expr) -> Option<f64> {
    if !is_float(e) {
        if let Some(x) = exact(e) {
            return x.to_f64();
        }
    }
    if !e.is_constant() {
        return None;
    }
    let v = numeric(e, &[]);
    (v.is_finite() && v.im.abs() <= 1e-12 * v.re.abs().max(1.0)).then_some(v.re)
}

/// `x` rounded to `decimals` places, half to even, exactly.
fn round_rational(x: &BigRational, decimals: u32) -> BigInt {
    let scale = match 10u64.checked_pow(decimals) {
        Some(p) => BigInt::from(p),
        None => num_traits::pow(BigInt::from(10), decimals as usize),
    };
    let n = x.numer() * scale;
    let d = x.denom();
    // Floor division (the denominator is positive).
    let (q, r) = n.div_mod_floor(d);
    let twice = r * 2u32;
    if twice > *d || (twice == *d && q.is_odd()) {
        q + 1
    } else {
        q
    }
}

/// Float comparison (`a.round(p) == b.round(p)` in sympy). An exact integer on one side does
/// not round to a float, so it only equals a float of exactly its value.
fn float_eq(va: &Value, vb: &Value, decimals: u32) -> bool {
    match (va.rounding(), vb.rounding()) {
        (Some(x), Some(y)) if va.exact_int() != vb.exact_int() => x == y,
        (Some(x), Some(y)) => round_rational(&x, decimals) == round_rational(&y, decimals),
        _ => false,
    }
}

/// Two matrices of the same shape whose elements pairwise satisfy `eq`.
fn elementwise(x: &[Vec<Expr>], y: &[Vec<Expr>], eq: impl Fn(&Expr, &Expr) -> bool) -> bool {
    let same_shape = x.len() == y.len() && x.iter().zip(y).all(|(r, s)| r.len() == s.len());
    same_shape
        && x.iter()
            .flatten()
            .zip(y.iter().flatten())
            .all(|(p, q)| eq(p, q))
}

fn numeric_eq(va: &Value, vb: &Value, cfg: &CompareConfig) -> bool {
    let (a, b) = (va.e, vb.e);
    if let (Expr::Matrix(x), Expr::Matrix(y)) = (a, b) {
        return elementwise(x, y, |p, q| numeric_eq(&Value::new(p), &Value::new(q), cfg));
    }
    let (na, nb) = (atomic_number(a), atomic_number(b));
    if na.is_some() || nb.is_some() {
        let float = na.is_some_and(|n| n.float) || nb.is_some_and(|n| n.float);
        if float {
            return float_eq(va, vb, cfg.float_rounding);
        }
        // `doit()` then `==`: a side computed with floats is a float (`6.02·10^23` is not the
        // integer 602…0), an exact side stays exact.
        return match (va.rounding(), vb.rounding()) {
            (Some(x), Some(y)) => {
                x == y || percent_of_integer_matches(a, b) || percent_of_integer_matches(b, a)
            }
            _ => false,
        };
    }
    if !a.is_constant() || !b.is_constant() {
        return false;
    }
    if let (Some(x), Some(y)) = (va.exact(), vb.exact()) {
        return x == y;
    }
    let (x, y) = (numeric(a, &[]), numeric(b, &[]));
    if !x.is_finite() || !y.is_finite() {
        return false;
    }
    // `(a - b).evalf(15, chop=True) == 0`.
    let diff = C64 {
        re: x.re - y.re,
        im: x.im - y.im,
    };
    diff.abs() <= 1e-12 * 1f64.max(x.abs()).max(y.abs())
}

/// `simplify(a - b) == 0`, decided by evaluation at sample points.
fn symbolic_eq(va: &Value, vb: &Value) -> bool {
    let (a, b) = (va.e, vb.e);
    if let (Expr::Matrix(x), Expr::Matrix(y)) = (a, b) {
        return elementwise(x, y, |p, q| symbolic_eq(&Value::new(p), &Value::new(q)));
    }
    if matches!(a, Expr::Matrix(_)) || matches!(b, Expr::Matrix(_)) {
        return false;
    }
    let mut vars = a.free_symbols();
    vars.extend(b.free_symbols());
    vars.sort();
    vars.dedup();
    if vars.is_empty() {
        if va.float() || vb.float() {
            // Float arithmetic: `6.02·10^23 − 602…0` is not zero.
            return matches!((va.rounding(), vb.rounding()), (Some(x), Some(y)) if x == y);
        }
        if let (Some(x), Some(y)) = (va.exact(), vb.exact()) {
            return x == y;
        }
        let (x, y) = (numeric(a, &[]), numeric(b, &[]));
        return x.is_finite() && y.is_finite() && close(x, y);
    }
    let mut agreed = 0;
    for env in sample_envs(&vars) {
        let (x, y) = (numeric(a, &env), numeric(b, &env));
        match (x.is_finite(), y.is_finite()) {
            (true, true) => {
                if !close(x, y) {
                    return false;
                }
                agreed += 1;
            }
            (false, false) => {}
            _ => return false,
        }
    }
    agreed >= 2
}
