//! Geometry answers rewritten to the LaTeX form the math checker reads: symbols, spacing,
//! degree marks and trailing units (see [`normalize_geo_answer`]).

use super::*;

/// Most trailing units removed from one answer.
pub(super) const MAX_UNIT_STRIPS: usize = 4;

/// Unit words and phrases dropped from the end of an answer (after a non-letter). Longer
/// phrases first, so `square units` goes before `units`.
pub(super) const TRAILING_UNITS: [&str; 46] = [
    "square centimeters",
    "square centimetres",
    "square millimeters",
    "square meters",
    "square metres",
    "square inches",
    "square feet",
    "square units",
    "square unit",
    "sq. units",
    "sq units",
    "centimeters",
    "centimetres",
    "centimeter",
    "centimetre",
    "millimeters",
    "millimetres",
    "kilometers",
    "kilometres",
    "meters",
    "metres",
    "meter",
    "metre",
    "inches",
    "inch",
    "feet",
    "foot",
    "yards",
    "yard",
    "units",
    "unit",
    "degrees",
    "degree",
    "deg",
    "mm",
    "cm",
    "km",
    "in",
    "ft",
    "yd",
    "m",
    "平方厘米",
    "厘米",
    "平方米",
    "米",
    "度",
];

/// Text commands whose argument is plain text (a unit or a word).
pub(super) const TEXT_COMMANDS: [&str; 6] = [
    "\\text",
    "\\mathrm",
    "\\textrm",
    "\\mbox",
    "\\textnormal",
    "\\operatorname",
];

/// Index of the byte that closes the bracket opened at `open` (`{`…`}` or `(`…`)`).
pub(super) fn matching(b: &[u8], open: usize) -> Option<usize> {
    matching_bracket(b, open, b.len())
}

/// Unicode symbols, LaTeX spacing and degree marks rewritten, degree marks dropped:
/// `°`, `^\circ`, `^{\circ}`, `\degree` → nothing; `√x`, `√{x}`, `√(x)` → `\sqrt{x}`;
/// `π` → `\pi`; `×`, `·` → `\times`, `\cdot`; `²`, `³` → `^2`, `^3`; `−` → `-`.
pub(super) fn map_symbols(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '°' | '˚' | 'º' => {}
            'π' => out.push_str("\\pi "),
            '×' => out.push_str("\\times "),
            '·' | '⋅' => out.push_str("\\cdot "),
            '−' | '–' | '—' => out.push('-'),
            '²' => out.push_str("^2"),
            '³' => out.push_str("^3"),
            '∠' => out.push_str("\\angle "),
            '≈' => out.push_str("\\approx "),
            '√' => {
                let rest = &s[i + c.len_utf8()..];
                let rb = rest.as_bytes();
                let skip = rb.iter().take_while(|b| **b == b' ').count();
                match rb.get(skip) {
                    Some(b'{') => out.push_str("\\sqrt"),
                    Some(b'(') => match matching(rb, skip) {
                        Some(close) => {
                            out.push_str("\\sqrt{");
                            out.push_str(&rest[skip + 1..close]);
                            out.push('}');
                            let end = i + c.len_utf8() + close;
                            while chars.peek().is_some_and(|&(j, _)| j <= end) {
                                chars.next();
                            }
                        }
                        None => out.push_str("\\sqrt"),
                    },
                    Some(d) if d.is_ascii_digit() || *d == b'.' => {
                        let n = rb[skip..]
                            .iter()
                            .take_while(|b| b.is_ascii_digit() || **b == b'.')
                            .count();
                        out.push_str("\\sqrt{");
                        out.push_str(&rest[skip..skip + n]);
                        out.push('}');
                        let end = i + c.len_utf8() + skip + n;
                        while chars.peek().is_some_and(|&(j, _)| j < end) {
                            chars.next();
                        }
                    }
                    _ => out.push_str("\\sqrt "),
                }
            }
            _ => out.push(c),
        }
    }
    for spacing in ["\\,", "\\;", "\\:", "\\!", "\\ ", "\\qquad", "\\quad", "~"] {
        if out.contains(spacing) {
            out = out.replace(spacing, " ");
        }
    }
    out
}

/// Removes whitespace except a single space between two alphanumeric characters
/// (`2 \sqrt { 221 }` → `2\sqrt{221}`, but `\pi r` and `120 degrees` keep theirs).
pub(super) fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending = true;
            continue;
        }
        if pending {
            let prev_alnum = out.chars().next_back().is_some_and(|p| p.is_alphanumeric());
            if prev_alnum && c.is_alphanumeric() {
                out.push(' ');
            }
            pending = false;
        }
        out.push(c);
    }
    out
}

/// Drops degree marks written in LaTeX: `^{\circ}`, `^\circ`, `\circ`, `\degree`.
pub(super) fn drop_latex_degrees(s: &str) -> String {
    let mut t = s.to_string();
    for mark in [
        "^{\\circ}",
        "^\\circ",
        "^{\\degree}",
        "^\\degree",
        "\\degree",
        "\\circ",
    ] {
        // Only as a whole command (`\circ` but not `\circle`).
        let mut from = 0;
        while let Some(pos) = t[from..].find(mark).map(|p| p + from) {
            let end = pos + mark.len();
            let whole = mark.ends_with('}')
                || !t[end..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic());
            if whole {
                t.replace_range(pos..end, "");
                from = pos;
            } else {
                from = end;
            }
        }
    }
    while t.contains("^{}") {
        t = t.replace("^{}", "");
    }
    t.replace("{}", "")
}

/// Removes one trailing unit or degree word (possibly in `\text{…}`, possibly squared) from `s`.
/// `depth` bounds the nesting (`\text{cm^2}` is depth 2).
pub(super) fn strip_one_unit(s: &str, depth: u32) -> Option<String> {
    if depth > 3 {
        return None;
    }
    let t = s.trim_end();
    // `\text{ cm}` and friends: the whole group when its content is a unit.
    if t.ends_with('}') {
        for cmd in TEXT_COMMANDS {
            let Some(pos) = t.rfind(&format!("{cmd}{{")) else {
                continue;
            };
            let open = pos + cmd.len();
            if matching(t.as_bytes(), open) == Some(t.len() - 1) {
                let inner = t[open + 1..t.len() - 1].trim();
                let inner = inner.trim_end_matches('.').trim();
                if inner.is_empty()
                    || strip_one_unit(&format!("0{inner}"), depth + 1).as_deref() == Some("0")
                {
                    return Some(t[..pos].trim_end().to_string());
                }
            }
        }
    }
    // A squared or cubed unit: `cm^2`, `cm^{2}`, `units^2`.
    for power in ["^{2}", "^{3}", "^2", "^3"] {
        if let Some(base) = t.strip_suffix(power) {
            if let Some(stripped) = strip_one_unit(base, depth + 1) {
                return Some(stripped);
            }
        }
    }
    if let Some(base) = t.strip_suffix('2').or_else(|| t.strip_suffix('3')) {
        if base.ends_with("cm") || base.ends_with("mm") {
            return strip_one_unit(base, depth + 1);
        }
    }
    let lower = t.to_lowercase();
    // `to_lowercase` may change byte lengths outside ASCII; only then compare by chars.
    if lower.len() != t.len() {
        return None;
    }
    for unit in TRAILING_UNITS {
        if !lower.ends_with(unit) || lower.len() == unit.len() {
            continue;
        }
        let start = t.len() - unit.len();
        if !t.is_char_boundary(start) {
            continue;
        }
        let before = t[..start].chars().next_back();
        let ascii_word = unit.as_bytes()[0].is_ascii_alphabetic();
        // A unit word must stand alone: `5cm`, `5 cm`, `\sqrt{3}cm`, but not `\sin` or `4\pim`.
        let boundary = match before {
            Some(c) if ascii_word => !(c.is_ascii_alphabetic() || c == '\\'),
            Some(_) => true,
            None => false,
        };
        let spaced_after_command = ascii_word
            && before == Some(' ')
            && t[..start]
                .trim_end()
                .ends_with(|c: char| c.is_ascii_alphabetic());
        if boundary || spaced_after_command {
            let rest = t[..start].trim_end();
            if !rest.is_empty() {
                return Some(rest.to_string());
            }
        }
    }
    None
}

/// Rewrites a geometry answer to the LaTeX form the math checker reads.
///
/// * `$` signs and the `\(`…`\)` / `\[`…`\]` delimiters are removed;
/// * spaces go, except between two letters or digits (`2 \sqrt { 221 }` → `2\sqrt{221}`,
///   `\frac { 40 } { 3 }` → `\frac{40}{3}`, `12 \pi` → `12\pi`);
/// * degree marks are dropped, since answers are compared as numbers: `°`, `^\circ`,
///   `^{\circ}`, `\degree`, and a trailing `degrees` / `degree` / `deg` / `度`;
/// * `√x`, `√{x}`, `√(x)` become `\sqrt{x}`, `π` becomes `\pi`;
/// * trailing units go: `cm`, `m`, `mm`, `km`, `in`, `ft`, `units`, `square units`,
///   `cm^2`, `cm²`, `厘米`, also inside `\text{…}` / `\mathrm{…}`; and a trailing `.`.
///
/// ```
/// use lmmr1_rewards::geometry::normalize_geo_answer;
///
/// assert_eq!(normalize_geo_answer("\\frac { 40 } { 3 }"), "\\frac{40}{3}");
/// assert_eq!(normalize_geo_answer("$120^{\\circ}$"), "120");
/// assert_eq!(normalize_geo_answer("40°"), "40");
/// assert_eq!(normalize_geo_answer("29 degrees"), "29");
/// assert_eq!(normalize_geo_answer("12π"), "12\\pi");
/// assert_eq!(normalize_geo_answer("16\\text{ cm}^2"), "16");
/// assert_eq!(normalize_geo_answer("108.5 square units"), "108.5");
/// ```
pub fn normalize_geo_answer(s: &str) -> String {
    let s = tail(s).trim();
    let mut t = s.replace('$', "");
    for delim in ["\\(", "\\)", "\\[", "\\]"] {
        if t.contains(delim) {
            t = t.replace(delim, " ");
        }
    }
    let t = collapse_spaces(&map_symbols(&t));
    let mut t = drop_latex_degrees(&t);
    // A few units at most (`5 cm.`, `40^\circ \text{degrees}`); the bound keeps this linear.
    for _ in 0..MAX_UNIT_STRIPS {
        let trimmed = t.trim_end().trim_end_matches('.').trim_end();
        if trimmed.len() != t.len() {
            t = trimmed.to_string();
        }
        match strip_one_unit(&t, 0) {
            Some(shorter) if shorter.len() < t.len() => t = shorter,
            _ => break,
        }
    }
    // Degree marks written after a unit was dropped (`40^\circ\text{ }`) and leftover spaces.
    collapse_spaces(&drop_latex_degrees(&t))
}
