//! Plain numbers and expressions (Math-Verify's `ExprExtractionConfig` patterns): anchored
//! numbers with thousands separators, percents and currency, and short arithmetic expressions.

use super::*;

/// Longest plain expression considered (bounds the work on long runs of digits and spaces).
const MAX_EXPR_LEN: usize = 512;

const CURRENCY: &str = "$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₭₮₯₰₱₲₳₴₵₶₷₸₺₻₼₾₿";

fn is_expr_char(c: char) -> bool {
    c.is_ascii_digit() || c == '.' || c.is_whitespace() || is_op(c)
}

fn is_op(c: char) -> bool {
    matches!(c, '+' | '-' | '*' | '×' | '/' | '^' | '(' | ')' | '÷')
}

/// The anchor before a number or expression: start of text, or a space or `=` (consumed),
/// then an optional `**`. Returns the position after it.
fn prefix_at(t: &str, pos: usize) -> Option<usize> {
    let c = t[pos..].chars().next()?;
    let p = if c.is_whitespace() || c == '=' {
        pos + c.len_utf8()
    } else if pos == 0 {
        // `^`: the start of the text anchors without consuming anything.
        0
    } else {
        return None;
    };
    Some(if t[p..].starts_with("**") { p + 2 } else { p })
}

/// `expr_with_anchors` body at `p` (after the prefix): the end of the expression.
fn expr_body(t: &str, p: usize) -> Option<usize> {
    let b = t.as_bytes();
    let mut i = p;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    if b.get(i) == Some(&b'(') {
        i += 1;
    }
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let body_start = i + 1;
    // Maximal run of expression characters.
    let mut ends = vec![body_start];
    for (k, c) in t[body_start..].char_indices() {
        if !is_expr_char(c) || k >= MAX_EXPR_LEN {
            break;
        }
        ends.push(body_start + k + c.len_utf8());
    }
    // Greedy: try the longest end first; an operator must be followed by at least one char.
    let first_op_end = t[body_start..*ends.last()?]
        .char_indices()
        .find(|&(_, c)| is_op(c))
        .map(|(k, c)| body_start + k + c.len_utf8())?;
    for &e in ends.iter().rev() {
        if e <= first_op_end {
            break;
        }
        if suffix_ok(t, e) {
            return Some(e);
        }
    }
    None
}

fn suffix_ok(t: &str, pos: usize) -> bool {
    let r = &t[pos..];
    let r = r.strip_prefix("**").unwrap_or(r);
    match r.chars().next() {
        None => true,
        Some(c) => matches!(c, '.' | ',' | ':' | ')' | '$') || c.is_whitespace(),
    }
}

/// `number_re` at `p` (after prefix and optional currency): (end, normalized text, percent).
pub(super) fn number_body(t: &str, p: usize, build_text: bool) -> Option<(usize, String, bool)> {
    let b = t.as_bytes();
    if p > 0 && b[p - 1].is_ascii_digit() {
        return None;
    }
    let digits = |i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let neg = usize::from(b.get(p) == Some(&b'-'));
    let q = p + neg;
    let (int_end, dec): (usize, Option<(usize, usize)>) = 'm: {
        // Thousands separators: [1-9]\d{0,2}([ ,]\d{3})+ (.\d+)?
        if b.get(q).is_some_and(|c| (b'1'..=b'9').contains(c)) {
            let n = digits(q);
            for lead in (1..=n.min(3)).rev() {
                let mut i = q + lead;
                let mut groups = 0;
                while i + 3 < b.len() + 1
                    && matches!(b.get(i), Some(b' ') | Some(b','))
                    && b.get(i + 1..i + 4)
                        .is_some_and(|g| g.iter().all(u8::is_ascii_digit))
                {
                    i += 4;
                    groups += 1;
                }
                if groups > 0 {
                    let dec = (b.get(i) == Some(&b'.') && digits(i + 1) > 0)
                        .then(|| (i, i + 1 + digits(i + 1)));
                    break 'm (i, dec);
                }
            }
        }
        let n = digits(q);
        if n > 0 {
            let e = q + n;
            if matches!(b.get(e), Some(b'.') | Some(b',')) && digits(e + 1) > 0 {
                break 'm (e, Some((e, e + 1 + digits(e + 1))));
            }
            break 'm (e, None);
        }
        if neg == 0 && b.get(q) == Some(&b'.') && digits(q + 1) > 0 {
            break 'm (q, Some((q, q + 1 + digits(q + 1))));
        }
        return None;
    };
    let span = (int_end - p) + dec.map_or(0, |(a, b)| b - a);
    if span > 420 {
        return None;
    }
    let end = dec.map_or(int_end, |(_, de)| de);
    if !build_text {
        return Some((percent_end(t, end).unwrap_or(end), String::new(), false));
    }
    let mut int: String = t[p..int_end]
        .chars()
        .filter(|c| *c != ',' && *c != ' ')
        .collect();
    let sign = int.starts_with('-');
    let mag = int
        .trim_start_matches('-')
        .trim_start_matches('0')
        .to_string();
    // Python's `lstrip("0")` leaves "-0…" alone.
    if !sign {
        int = if mag.is_empty() { "0".into() } else { mag };
    }
    let mut text = int;
    if let Some((ds, de)) = dec {
        text.push('.');
        text.push_str(&t[ds + 1..de]);
    }
    let (end, percent) = match percent_end(t, end) {
        Some(e) => (e, true),
        None => (end, false),
    };
    Some((end, text, percent))
}

/// The end of a percent suffix (`\s*(%|percent|percentage|pct)`) at `pos`, if any.
fn percent_end(t: &str, pos: usize) -> Option<usize> {
    let r = t[pos..].trim_start();
    [
        "%",
        "Percent",
        "percent",
        "Percentage",
        "percentage",
        "Pct",
        "pct",
    ]
    .iter()
    .find_map(|p| r.strip_prefix(p))
    .map(|x| t.len() - x.len())
}

/// Expression-or-number at `pos` (prefix included), expression first.
fn expr_or_number_at(t: &str, pos: usize) -> Option<(usize, Kind)> {
    let p = prefix_at(t, pos)?;
    if let Some(end) = expr_body(t, p) {
        return Some((end, Kind::Expr(p, end)));
    }
    let q = match t[p..].chars().next() {
        Some(c) if CURRENCY.contains(c) => p + c.len_utf8(),
        _ => p,
    };
    number_body(t, q, false).map(|(end, _, _)| (end, Kind::Number(q)))
}

pub(super) fn expr_matches(scan: &Scan, prio: u32, cfg: &ExprConfig, out: &mut Vec<Match>) {
    let t = scan.t;
    match prio {
        0 => anchored(scan, out, "final answer is", |t, p| {
            let r = &t[p..];
            let r = r.strip_prefix(':').unwrap_or(r);
            let s = t.len() - r.trim_start().len();
            // `\s*` is greedy, but the prefix may need the last space back.
            let starts = [s, s.saturating_sub(1).max(p)];
            for q in starts {
                if let Some((end, kind)) = expr_or_number_at(t, q) {
                    let r = &t[end..];
                    let r = r.strip_prefix('.').unwrap_or(r);
                    let r = match r.chars().next() {
                        Some(c) if c.is_whitespace() => &r[c.len_utf8()..],
                        _ => r,
                    };
                    if r.starts_with("I hope") {
                        return Some((t.len() - r.len() + 6, kind));
                    }
                }
            }
            None
        }),
        50 => anchored(scan, out, "final answer", |t, p| {
            after_is(t, p, false).find_map(|q| expr_or_number_at(t, q))
        }),
        100 | 200 => anchored(scan, out, "answer", |t, p| {
            let p = if prio == 100 {
                if !t[p..].starts_with(':') {
                    return None;
                }
                p + 1
            } else {
                p
            };
            let not_followed_by_eq = |end: usize| !t[end..].trim_start().starts_with('=');
            // `.{0,100}=\s*` (greedy: the last `=` within reach) …
            let reach = offsets(t, p, 100, false);
            for &q in reach.iter().rev() {
                if q > p && t[..q].ends_with('=') {
                    let s = q - 1;
                    let after = t.len() - t[q..].trim_start().len();
                    for start in [after, s] {
                        if let Some((end, kind)) = expr_or_number_at(t, start) {
                            if not_followed_by_eq(end) {
                                return Some((end, kind));
                            }
                        }
                    }
                }
            }
            // … or `.{0,50}?` (lazy).
            for q in offsets(t, p, 50, false) {
                if let Some((end, kind)) = expr_or_number_at(t, q) {
                    if not_followed_by_eq(end) {
                        return Some((end, kind));
                    }
                }
            }
            None
        }),
        300 if cfg.try_without_anchor => {
            for expr in [true, false] {
                let b = t.as_bytes();
                let mut pos = 0;
                while pos < t.len() {
                    // The anchor is the start of the text, a space or `=`.
                    let c = b[pos];
                    let may_anchor = pos == 0
                        || c == b'='
                        || c.is_ascii_whitespace()
                        || (c >= 0x80 && t[pos..].starts_with(char::is_whitespace));
                    let found = may_anchor
                        .then(|| prefix_at(t, pos))
                        .flatten()
                        .and_then(|p| {
                            if expr {
                                expr_body(t, p).map(|e| (e, Kind::Expr(p, e)))
                            } else {
                                let q = match t[p..].chars().next() {
                                    Some(c) if CURRENCY.contains(c) => p + c.len_utf8(),
                                    _ => p,
                                };
                                number_body(t, q, false).map(|(e, _, _)| (e, Kind::Number(q)))
                            }
                        });
                    match found {
                        Some((end, kind)) => {
                            out.push(Match {
                                start: pos,
                                end,
                                kind,
                            });
                            pos = end.max(pos + 1);
                        }
                        None => pos += t[pos..].chars().next().map_or(1, char::len_utf8),
                    }
                    while !t.is_char_boundary(pos) {
                        pos += 1;
                    }
                }
            }
        }
        _ => {}
    }
}
