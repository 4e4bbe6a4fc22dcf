//! `latex2sympy2_extended`'s malformed-operator repairs (`malformed_operators=True`):
//! `^(..)` → `^{..}`, `sqrt(x)` → `\sqrt{x}`, `\frac12` → `\frac{1}{2}`, `a/b` → `\frac{a}{b}`.

use super::normalize::has;

pub(super) fn fix_malformed_operators(text: &str) -> String {
    // Each pass runs only when its trigger is present (they allocate).
    let mut t = text.to_string();
    if t.contains('^') {
        t = fix_caret_parens(&t);
    }
    if has(&t, "sqrt") {
        t = fix_sqrt_parens(&t);
    }
    if has(&t, "\\frac") || has(&t, "\\sqrt") {
        t = fix_frac_digits(&t);
    }
    if has(&t, " sqrt") {
        t = t.replace(" sqrt", "\\sqrt");
    }
    t = fix_sqrt(&t);
    if has(&t, "\\frac") {
        t = fix_fracs(&t);
    }
    if t.contains('/') {
        t = fix_a_slash_b(&t);
    }
    t
}

/// `^(..)` → `^{..}` (innermost-lazy like the regex: up to the first `)`).
fn fix_caret_parens(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(i) = rest.find('^') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let after_ws = after.strip_prefix(' ').unwrap_or(after);
        if let Some(body) = after_ws.strip_prefix('(') {
            if let Some(close) = body.find(')') {
                out.push_str("^{");
                out.push_str(&body[..close]);
                out.push('}');
                rest = &body[close + 1..];
                continue;
            }
        }
        out.push('^');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `sqrt(..)` → `\sqrt{..}`.
fn fix_sqrt_parens(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(i) = rest.find("sqrt") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        let after_ws = after.strip_prefix(' ').unwrap_or(after);
        if let Some(body) = after_ws.strip_prefix('(') {
            if let Some(close) = body.find(')') {
                out.push_str("\\sqrt{");
                out.push_str(&body[..close]);
                out.push('}');
                rest = &body[close + 1..];
                continue;
            }
        }
        out.push_str("sqrt");
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `\frac12` → `\frac{1}{2}`, `\frac1{2}` → `\frac{1}{2}`, `\frac{1}2` → `\frac{1}{2}`,
/// `\sqrt3` → `\sqrt{3}`.
fn fix_frac_digits(t: &str) -> String {
    let mut out = String::with_capacity(t.len() + 8);
    let mut i = 0;
    while i < t.len() {
        let rest = &t[i..];
        if let Some(r) = rest.strip_prefix("\\frac") {
            let r = r.strip_prefix(' ').unwrap_or(r);
            let rb = r.as_bytes();
            if rb.first().is_some_and(u8::is_ascii_digit) {
                let a = &r[..1];
                let r2 = r[1..].strip_prefix(' ').unwrap_or(&r[1..]);
                let nd = r2.bytes().take_while(u8::is_ascii_digit).count();
                if nd > 0 {
                    out.push_str(&format!("\\frac{{{a}}}{{{}}}", &r2[..nd]));
                    i = t.len() - r2[nd..].len();
                    continue;
                }
                if let Some(body) = r2.strip_prefix('{') {
                    if let Some(close) = body.find('}') {
                        out.push_str(&format!("\\frac{{{a}}}{{{}}}", &body[..close]));
                        i = t.len() - body[close + 1..].len();
                        continue;
                    }
                }
            } else if let Some(body) = r.strip_prefix('{') {
                if let Some(close) = body.find('}') {
                    let after = &body[close + 1..];
                    let after = after.strip_prefix(' ').unwrap_or(after);
                    if after.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                        out.push_str(&format!("\\frac{{{}}}{{{}}}", &body[..close], &after[..1]));
                        i = t.len() - after[1..].len();
                        continue;
                    }
                }
            }
        }
        if let Some(r) = rest.strip_prefix("\\sqrt") {
            let r = r.strip_prefix(' ').unwrap_or(r);
            if r.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                out.push_str(&format!("\\sqrt{{{}}}", &r[..1]));
                i = t.len() - r[1..].len();
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `\sqrt x` → `\sqrt{x}` (hendrycks' `_fix_sqrt`).
fn fix_sqrt(t: &str) -> String {
    if !has(t, "\\sqrt") {
        return t.to_string();
    }
    let mut parts = t.split("\\sqrt");
    let mut out = parts.next().unwrap_or("").to_string();
    for p in parts {
        let p = p.trim_start();
        match p.chars().next() {
            Some(c) if c != '{' && c != '[' => {
                out.push_str("\\sqrt{");
                out.push(c);
                out.push('}');
                out.push_str(&p[c.len_utf8()..]);
            }
            _ => {
                out.push_str("\\sqrt");
                out.push_str(p);
            }
        }
    }
    out
}

/// `\frac ab` → `\frac{a}{b}` (hendrycks' `_fix_fracs`).
fn fix_fracs(t: &str) -> String {
    let mut parts = t.split("\\frac");
    let mut out = parts.next().unwrap_or("").to_string();
    for p in parts {
        let p = p.trim_start();
        out.push_str("\\frac");
        let mut cs = p.chars();
        match (cs.next(), cs.next()) {
            (Some('{'), _) => out.push_str(p),
            (Some(a), Some(b)) => {
                let post = &p[a.len_utf8() + b.len_utf8()..];
                if b != '{' {
                    out.push_str(&format!("{{{a}}}{{{b}}}{post}"));
                } else {
                    out.push_str(&format!("{{{a}}}{b}{post}"));
                }
            }
            _ => return t.to_string(),
        }
    }
    out
}

/// `3/4` → `\frac{3}{4}` when the whole string is two integers.
fn fix_a_slash_b(t: &str) -> String {
    let parts: Vec<&str> = t.split('/').collect();
    if parts.len() != 2 {
        return t.to_string();
    }
    let (a, b) = (parts[0], parts[1]);
    let canonical = |s: &str| {
        let d = s.strip_prefix('-').unwrap_or(s);
        !d.is_empty()
            && d.len() < 30
            && d.bytes().all(|c| c.is_ascii_digit())
            && (d == "0" || !d.starts_with('0'))
            && s != "-0"
    };
    if canonical(a) && canonical(b) {
        format!("\\frac{{{a}}}{{{b}}}")
    } else {
        t.to_string()
    }
}
