//! Evaluation: exact rational where the value is rational, bounded complex floating point
//! otherwise.
//!
//! Both evaluators refuse work that could explode (`10^{10^{10}}`, `1000!!`): exact results are
//! capped at [`MAX_EXACT_BITS`] bits, exponents and factorials at small bounds, and anything beyond
//! returns `None` (exact) or a non-finite value (numeric), which the comparison treats as
//! "cannot decide by this route".

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::expr::{Const, Expr, Func, Number};

/// Largest exact intermediate, in bits of numerator plus denominator.
pub const MAX_EXACT_BITS: u64 = 1 << 16;
/// Largest integer exponent evaluated exactly.
const MAX_EXACT_EXP: u64 = 1 << 16;
/// Largest argument of an exactly evaluated factorial.
const MAX_EXACT_FACTORIAL: u64 = 5000;
/// Work allowed for one exact evaluation, in 64-bit word operations.
const EXACT_BUDGET: u64 = 1 << 22;

fn bits(r: &BigRational) -> u64 {
    r.numer().bits() + r.denom().bits()
}

fn bounded(r: BigRational) -> Option<BigRational> {
    (bits(&r) <= MAX_EXACT_BITS).then_some(r)
}

/// Evaluates `e` exactly when its value is rational and small enough; `None` otherwise.
pub fn exact(e: &Expr) -> Option<BigRational> {
    let mut budget = EXACT_BUDGET;
    exact_in(e, &mut budget)
}

/// Charges the cost of producing `r` (its size in words) against the budget.
fn charge(budget: &mut u64, r: &BigRational) -> Option<()> {
    let cost = bits(r) / 64 + 1;
    *budget = budget.checked_sub(cost)?;
    Some(())
}

fn exact_in(e: &Expr, budget: &mut u64) -> Option<BigRational> {
    let exact = |x: &Expr, budget: &mut u64| exact_in(x, budget);
    let r = exact_node(e, budget, exact)?;
    charge(budget, &r)?;
    Some(r)
}

fn exact_node(
    e: &Expr,
    budget: &mut u64,
    exact: impl Fn(&Expr, &mut u64) -> Option<BigRational>,
) -> Option<BigRational> {
    match e {
        Expr::Num(Number { value, .. }) => Some(value.clone()),
        Expr::Add(v) => {
            let mut acc = BigRational::zero();
            for x in v {
                let x = exact(x, budget)?;
                acc = bounded(if acc.is_zero() { x } else { acc + x })?;
            }
            Some(acc)
        }
        Expr::Mul(v) => {
            let mut acc = BigRational::one();
            for x in v {
                acc = bounded(mul(acc, exact(x, budget)?))?;
            }
            Some(acc)
        }
        Expr::Pow(b, p) => {
            let base = exact(b, budget)?;
            let p = exact(p, budget)?;
            if p.is_integer() {
                let n = p.numer().to_i64()?;
                exact_powi(&base, n)
            } else {
                // Rational powers of perfect powers: 8^(1/3) = 2, 4^(3/2) = 8.
                let q = p.denom().to_u32()?;
                let root = exact_root(&base, q)?;
                exact_powi(&root, p.numer().to_i64()?)
            }
        }
        Expr::Percent(x) => Some(exact(x, budget)? / BigRational::from_integer(BigInt::from(100))),
        Expr::Func(Func::Sqrt, a) if a.len() == 1 => exact_root(&exact(&a[0], budget)?, 2),
        Expr::Func(Func::Root, a) if a.len() == 2 => {
            let n = exact(&a[1], budget)?;
            if !n.is_integer() {
                return None;
            }
            exact_root(&exact(&a[0], budget)?, n.numer().to_u32()?)
        }
        Expr::Func(Func::Abs, a) if a.len() == 1 => Some(exact(&a[0], budget)?.abs()),
        Expr::Func(Func::Floor, a) if a.len() == 1 => Some(exact(&a[0], budget)?.floor()),
        Expr::Func(Func::Ceil, a) if a.len() == 1 => Some(exact(&a[0], budget)?.ceil()),
        Expr::Func(Func::Factorial, a) if a.len() == 1 => {
            let n = exact(&a[0], budget)?;
            if !n.is_integer() || n.is_negative() {
                return None;
            }
            let n = n.numer().to_u64()?;
            if n > MAX_EXACT_FACTORIAL {
                return None;
            }
            // The whole product costs about n·log2(n!)/64 word operations the naive way.
            let words = (n as f64 * (n.max(2) as f64).log2() / 64.0) as u64 + 1;
            *budget = budget.checked_sub(words)?;
            Some(BigRational::from_integer(range_product(2, n + 1)))
        }
        Expr::Func(Func::Binom, a) if a.len() == 2 => {
            let n = exact(&a[0], budget)?;
            let k = exact(&a[1], budget)?;
            if !n.is_integer() || !k.is_integer() || n.is_negative() || k.is_negative() {
                return None;
            }
            let (n, k) = (n.numer().to_u64()?, k.numer().to_u64()?);
            if k > n {
                return Some(BigRational::zero());
            }
            let k = k.min(n - k);
            if k > 10_000 {
                return None;
            }
            let mut acc = BigInt::one();
            for i in 0..k {
                acc = acc * (n - i) / (i + 1);
                *budget = budget.checked_sub(acc.bits() / 64 + 1)?;
                if acc.bits() > MAX_EXACT_BITS {
                    return None;
                }
            }
            Some(BigRational::from_integer(acc))
        }
        _ => None,
    }
}

/// A product that skips the gcd normalization when it cannot reduce (one factor is ±1, or
/// both are integers): binary gcd on a 20,000-bit factorial is the expensive part otherwise.
fn mul(a: BigRational, b: BigRational) -> BigRational {
    if a.is_one() {
        b
    } else if b.is_one() {
        a
    } else if a.is_integer() && b.is_integer() {
        BigRational::from_integer(a.to_integer() * b.to_integer())
    } else {
        a * b
    }
}

/// `lo · (lo+1) · … · (hi−1)` by binary splitting (balanced big multiplications).
fn range_product(lo: u64, hi: u64) -> BigInt {
    if hi <= lo {
        return BigInt::one();
    }
    if hi - lo <= 16 {
        // Small runs multiply in machine words while they fit.
        let mut acc = BigInt::one();
        let mut word: u64 = 1;
        for k in lo..hi {
            match word.checked_mul(k) {
                Some(w) => word = w,
                None => {
                    acc *= word;
                    word = k;
                }
            }
        }
        return acc * word;
    }
    let mid = lo + (hi - lo) / 2;
    range_product(lo, mid) * range_product(mid, hi)
}

fn exact_powi(base: &BigRational, n: i64) -> Option<BigRational> {
    if base.is_zero() {
        return (n > 0)
            .then(BigRational::zero)
            .or((n == 0).then(BigRational::one));
    }
    if base.abs().is_one() {
        let odd = n % 2 != 0;
        return Some(if base.is_negative() && odd {
            -BigRational::one()
        } else {
            BigRational::one()
        });
    }
    let m = n.unsigned_abs();
    if m > MAX_EXACT_EXP || bits(base).saturating_mul(m) > MAX_EXACT_BITS * 2 {
        return None;
    }
    let r = num_traits::pow::pow(base.clone(), m as usize);
    bounded(if n < 0 { r.recip() } else { r })
}

/// The exact `q`-th root of `x` when it is rational.
fn exact_root(x: &BigRational, q: u32) -> Option<BigRational> {
    if q == 0 || q > 64 {
        return None;
    }
    if x.is_negative() {
        // Odd roots of negatives are real in the principal-branch sense only for sympy's
        // `real_root`; keep to the principal branch and decline.
        return None;
    }
    let n = x.numer().nth_root(q);
    let d = x.denom().nth_root(q);
    (num_traits::pow::pow(n.clone(), q as usize) == *x.numer()
        && num_traits::pow::pow(d.clone(), q as usize) == *x.denom())
    .then(|| BigRational::new(n, d))
}

/// A complex number for numeric evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct C64 {
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
}

impl C64 {
    /// A real number.
    pub const fn real(re: f64) -> Self {
        Self { re, im: 0.0 }
    }
    const NAN: C64 = C64::real(f64::NAN);

    /// Whether both parts are finite.
    pub fn is_finite(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
    /// The modulus.
    pub fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
    fn add(self, o: C64) -> C64 {
        C64 {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
    fn mul(self, o: C64) -> C64 {
        C64 {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
    fn recip(self) -> C64 {
        let d = self.re * self.re + self.im * self.im;
        if d == 0.0 {
            return C64::NAN;
        }
        C64 {
            re: self.re / d,
            im: -self.im / d,
        }
    }
    fn ln(self) -> C64 {
        C64 {
            re: self.abs().ln(),
            im: self.im.atan2(self.re),
        }
    }
    fn exp(self) -> C64 {
        let m = self.re.exp();
        if self.im == 0.0 {
            return C64::real(m);
        }
        C64 {
            re: m * self.im.cos(),
            im: m * self.im.sin(),
        }
    }
    fn powc(self, p: C64) -> C64 {
        if p.im == 0.0 && self.im == 0.0 {
            let (b, e) = (self.re, p.re);
            if b >= 0.0 || e.fract() == 0.0 {
                return C64::real(b.powf(e));
            }
        }
        if self.re == 0.0 && self.im == 0.0 {
            return if p.re > 0.0 { C64::real(0.0) } else { C64::NAN };
        }
        self.ln().mul(p).exp()
    }
    fn sqrt(self) -> C64 {
        if self.im == 0.0 && self.re >= 0.0 {
            return C64::real(self.re.sqrt());
        }
        self.powc(C64::real(0.5))
    }
}

/// Values of free symbols during numeric evaluation.
pub type Env<'a> = &'a [(String, C64)];

/// Evaluates `e` numerically, substituting the free symbols from `env`. Returns a non-finite
/// value when the expression has no numeric value (a set, an unbound symbol, an overflow).
pub fn numeric(e: &Expr, env: Env) -> C64 {
    match e {
        Expr::Num(n) => C64::real(n.value.to_f64().unwrap_or(f64::NAN)),
        Expr::Const(Const::Pi) => C64::real(std::f64::consts::PI),
        Expr::Const(Const::E) => C64::real(std::f64::consts::E),
        Expr::Const(Const::I) => C64 { re: 0.0, im: 1.0 },
        Expr::Const(Const::Infinity) => C64::real(f64::INFINITY),
        Expr::Sym(s) => lookup(env, s),
        Expr::Add(v) => v
            .iter()
            .fold(C64::real(0.0), |acc, x| acc.add(numeric(x, env))),
        Expr::Mul(v) => v
            .iter()
            .fold(C64::real(1.0), |acc, x| acc.mul(numeric(x, env))),
        Expr::Pow(b, p) => {
            let p = numeric(p, env);
            let b = numeric(b, env);
            if p.im == 0.0 && p.re == -1.0 {
                b.recip()
            } else if p.im == 0.0 && p.re.abs() > 1e4 && b.abs() != 1.0 {
                C64::NAN
            } else {
                b.powc(p)
            }
        }
        Expr::Percent(x) => numeric(x, env).mul(C64::real(0.01)),
        Expr::Func(f, args) => func(f, args, env),
        _ => C64::NAN,
    }
}

fn lookup(env: Env, name: &str) -> C64 {
    env.iter()
        .find(|(n, _)| n == name)
        .map(|&(_, v)| v)
        .unwrap_or(C64::NAN)
}

fn func(f: &Func, args: &[Expr], env: Env) -> C64 {
    let arg = |i: usize| args.get(i).map_or(C64::NAN, |a| numeric(a, env));
    let real = |g: fn(f64) -> f64| {
        let x = arg(0);
        if x.im != 0.0 {
            C64::NAN
        } else {
            C64::real(g(x.re))
        }
    };
    match f {
        Func::Sqrt => arg(0).sqrt(),
        Func::Root => {
            let (x, n) = (arg(0), arg(1));
            // sympy's root(x, n) is the principal root.
            x.powc(n.recip())
        }
        Func::Ln => arg(0).ln(),
        Func::Log => {
            let base = if args.len() > 1 {
                arg(1)
            } else {
                C64::real(10.0)
            };
            let d = base.ln();
            arg(0).ln().mul(d.recip())
        }
        Func::Exp => arg(0).exp(),
        Func::Abs => C64::real(arg(0).abs()),
        Func::Floor => real(f64::floor),
        Func::Ceil => real(f64::ceil),
        Func::Factorial => {
            let x = arg(0);
            if x.im != 0.0 || x.re < 0.0 || x.re > 170.0 || x.re.fract() != 0.0 {
                return C64::NAN;
            }
            C64::real((2..=x.re as u64).fold(1.0, |acc, k| acc * k as f64))
        }
        Func::Binom => {
            let (n, k) = (arg(0), arg(1));
            if n.im != 0.0 || k.im != 0.0 || k.re.fract() != 0.0 || k.re < 0.0 || k.re > 1000.0 {
                return C64::NAN;
            }
            let mut acc = 1.0;
            for i in 0..k.re as u64 {
                acc = acc * (n.re - i as f64) / (i as f64 + 1.0);
            }
            C64::real(acc)
        }
        Func::Trig(name) => trig(name, arg(0)),
        Func::Named(_) => lookup(env, &Expr::Func(f.clone(), args.to_vec()).to_string()),
    }
}

fn trig(name: &str, x: C64) -> C64 {
    if x.im != 0.0 {
        return C64::NAN;
    }
    let x = x.re;
    C64::real(match name {
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tan" => x.tan(),
        "cot" => 1.0 / x.tan(),
        "sec" => 1.0 / x.cos(),
        "csc" => 1.0 / x.sin(),
        "arcsin" => x.asin(),
        "arccos" => x.acos(),
        "arctan" => x.atan(),
        "sinh" => x.sinh(),
        "cosh" => x.cosh(),
        "tanh" => x.tanh(),
        _ => f64::NAN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_product_matches_the_naive_product() {
        for n in [0u64, 1, 2, 5, 16, 17, 20, 21, 100, 777] {
            let naive = (2..=n).fold(BigInt::one(), |acc, k| acc * k);
            assert_eq!(range_product(2, n + 1), naive, "{n}!");
        }
        let twenty: BigInt = "2432902008176640000".parse().unwrap();
        assert_eq!(range_product(2, 21), twenty);
    }

    #[test]
    fn exact_values_and_bounds() {
        let fact = |n: i64| Expr::Func(Func::Factorial, vec![Expr::int(n)]);
        let ratio = Expr::Mul(vec![fact(1000), Expr::recip(fact(999))]);
        assert_eq!(
            exact(&ratio),
            Some(BigRational::from_integer(BigInt::from(1000)))
        );
        // Beyond the factorial bound: no exact value, rather than unbounded work.
        assert_eq!(exact(&fact(MAX_EXACT_FACTORIAL as i64 + 1)), None);
        let tower = Expr::Pow(
            Box::new(Expr::int(10)),
            Box::new(Expr::Pow(Box::new(Expr::int(10)), Box::new(Expr::int(10)))),
        );
        assert_eq!(exact(&tower), None);
        assert!(!numeric(&tower, &[]).is_finite());
    }
}
