//! Numbers: exact decimal literals, `1,234,567` with thousands separators, mixed numbers.

use super::*;

/// Parses a decimal literal exactly.
pub fn number(s: &str) -> PResult<Expr> {
    if let Some(magnitude) = s.strip_prefix('-') {
        return match number(magnitude)? {
            Expr::Num(mut n) => {
                n.value = -n.value;
                Ok(Expr::Num(n))
            }
            other => Ok(other),
        };
    }
    let (int, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let float = frac.is_some();
    let frac = frac.unwrap_or("");
    if !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return Err(ParseError("bad number"));
    }
    // Fast path: up to 18 digits fit a u64 (no big-integer arithmetic).
    if int.len() + frac.len() <= 18 {
        let mantissa = int
            .bytes()
            .chain(frac.bytes())
            .fold(0u64, |m, d| m * 10 + u64::from(d - b'0'));
        let scale = 10u64.pow(frac.len() as u32);
        let g = num_integer::gcd(mantissa, scale).max(1);
        let value = BigRational::new_raw(BigInt::from(mantissa / g), BigInt::from(scale / g));
        return Ok(Expr::Num(Number { value, float }));
    }
    let digits = |t: &str| -> PResult<BigInt> {
        if t.is_empty() {
            return Ok(BigInt::zero());
        }
        t.parse::<BigInt>().map_err(|_| ParseError("bad number"))
    };
    let scale = num_traits::pow::pow(BigInt::from(10), frac.len());
    let value = BigRational::new(digits(int)? * &scale + digits(frac)?, scale);
    Ok(Expr::Num(Number { value, float }))
}

/// A whole answer like `1,234,567.89` (`^\s*-?\d{1,3}(,\d{3})+(\.\d+)?\s*$`) is one number,
/// not a set; returns it without the commas.
pub(super) fn comma_number(src: &str) -> Option<String> {
    let t = src.trim();
    let (sign, body) = match t.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", t),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) if !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()) => (i, Some(f)),
        Some(_) => return None,
        None => (body, None),
    };
    let mut groups = int.split(',');
    let lead = groups.next()?;
    if lead.is_empty() || lead.len() > 3 || !lead.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut digits = lead.to_string();
    let mut n = 0;
    for g in groups {
        if g.len() != 3 || !g.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.push_str(g);
        n += 1;
    }
    if n == 0 || digits.len() > MAX_DIGITS {
        return None;
    }
    Some(match frac {
        Some(f) => format!("{sign}{digits}.{f}"),
        None => format!("{sign}{digits}"),
    })
}

/// `n` followed by a positive rational `p/q` reads as the mixed number `n + p/q` when `n` is an
/// integer (latex2sympy's `interpret_as_mixed_fractions`).
pub(super) fn mixed_number(left: &Expr, right: &Expr) -> Option<Expr> {
    let has_float_or_percent = |e: &Expr| {
        let mut found = false;
        e.visit(&mut |n| {
            if matches!(n, Expr::Num(Number { float: true, .. }) | Expr::Percent(_)) {
                found = true;
            }
        });
        found
    };
    if has_float_or_percent(left) || has_float_or_percent(right) {
        return None;
    }
    let n = exact(left)?;
    let r = exact(right)?;
    if !n.is_integer() || r <= BigRational::zero() {
        return None;
    }
    let value = if n < BigRational::zero() {
        n - r
    } else {
        n + r
    };
    Some(Expr::Num(Number::rational(value)))
}
