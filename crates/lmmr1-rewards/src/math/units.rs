//! Unit stripping of `latex2sympy2_extended.normalize_latex`: a trailing `\text{…}` group and
//! up to two trailing unit words from Math-Verify's list.

use super::normalize::find_from;

/// Trailing unit words removed after a digit, `}` or space (Math-Verify's list; note that
/// `"integer" "point"` concatenates in the Python source).
const UNITS: &[&str] = &[
    "integerpoint",
    "feet",
    "sue",
    "digit",
    "pound",
    "meal",
    "edge",
    "student",
    "children ticket",
    "multiple",
    "east",
    "degree",
    "mph",
    "kmph",
    "ft",
    "m square",
    " m east",
    "sq m",
    "deg",
    "mile",
    "q .",
    "monkey",
    "prime",
    "ratio",
    "profit of rs",
    "rd",
    "o",
    "gm",
    "p . m",
    "lb",
    "tile",
    "per",
    "dm",
    "lt",
    "gain",
    "ab",
    "way",
    "west",
    "a .",
    "b .",
    "c .",
    "d .",
    "e .",
    "f .",
    "g .",
    "h .",
    "t",
    "h",
    "no change",
    "men",
    "soldier",
    "pie",
    "bc",
    "excess",
    "st",
    "inches",
    "noon",
    "cent",
    "by",
    "gal",
    "kmh",
    "c",
    "acre",
    "rise",
    "a . m",
    "th",
    "π r 2",
    "sq",
    "mark",
    "l",
    "toy",
    "coin",
    "sq . m",
    "gallon",
    "° f",
    "profit",
    "minw",
    "yr",
    "women",
    "am",
    "pm",
    "hr",
    "cu cm",
    "square",
    "v â € ™",
    "are",
    "rupee",
    "rounds",
    "cubic",
    "cc",
    "mtr",
    "s",
    "ohm",
    "number",
    "day",
    "hour",
    "minute",
    "min",
    "second",
    "man",
    "woman",
    "sec",
    "cube",
    "mt",
    "sq inch",
    "mp",
    "∏ cm ³",
    "hectare",
    "more",
    "unit",
    "cu . m",
    "cm 2",
    "rs .",
    "rs",
    "kg",
    "g",
    "month",
    "km",
    "m",
    "cm",
    "mm",
    "apple",
    "liter",
    "loss",
    "yard",
    "pure",
    "year",
    "increase",
    "decrease",
    "d",
    "less",
    "Surface",
    "litre",
    "pi sq m",
    "s .",
    "metre",
    "meter",
    "inch",
];

fn is_unit(word: &str) -> bool {
    let stems = [Some(word), word.strip_suffix('s'), word.strip_suffix("es")];
    let sorted = sorted_units();
    stems
        .into_iter()
        .flatten()
        .any(|w| sorted.binary_search(&w).is_ok())
}

fn sorted_units() -> &'static [&'static str] {
    static SORTED: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    SORTED.get_or_init(|| {
        let mut v = UNITS.to_vec();
        v.sort_unstable();
        v.dedup();
        v
    })
}

pub(super) fn strip_units(text: &str) -> String {
    let mut t = text.to_string();
    // A trailing `\text{…}` / `\mbox{…}` (optionally `^2`) is a unit.
    // (The result is stripped whether or not a unit was found, as in Math-Verify.)
    let cut = trailing_text_unit(&t).unwrap_or(t.len());
    let candidate = t[..cut].trim().to_string();
    if !candidate.is_empty() && candidate != t {
        t = candidate;
    }
    for _ in 0..2 {
        if let Some(keep) = trailing_unit_word(&t) {
            let candidate = t[..keep].to_string();
            if !candidate.is_empty() && candidate != t {
                t = candidate;
            }
        }
    }
    t
}

/// Start of a trailing `\text{…}`/`\mbox{…}` group that runs to the end.
fn trailing_text_unit(t: &str) -> Option<usize> {
    let b = t.as_bytes();
    let n = b.len();
    let ends_ok = t.ends_with('}')
        || (n >= 3 && b[n - 3] == b'}' && b[n - 2] == b'^' && b[n - 1].is_ascii_digit());
    if !ends_ok {
        return None;
    }
    let a = find_from(t, "\\text{", 0);
    let b = find_from(t, "\\mbox{", 0);
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// Where to cut a trailing unit word: the byte after the digit, `}` or space before it
/// (Math-Verify's `(\d|\}|\s)\s*(?:unit)(?:s|es)?\s*$`, leftmost match).
fn trailing_unit_word(t: &str) -> Option<usize> {
    let end = t.trim_end().len();
    // A unit word with its plural ending is under 24 bytes: only short suffixes can match.
    let first = end.saturating_sub(24);
    for s in (first..end).filter(|&s| t.is_char_boundary(s)) {
        // Right before the unit stands a space, a digit or `}` (the regex's lead or `\s*`).
        let lead = t[..s].chars().next_back();
        if !lead.is_some_and(|c| c.is_whitespace() || c.is_ascii_digit() || c == '}') {
            continue;
        }
        let word = &t[s..end];
        // Every unit starts with a letter or a symbol such as `°` (never a digit or space).
        let first = word.chars().next().unwrap_or(' ');
        if first.is_whitespace()
            || first.is_ascii_digit()
            || "{}()[]\\^_+-*/=,.$".contains(first)
            || !is_unit(word)
        {
            continue;
        }
        // Back over the whitespace before the word, then one digit or `}` may lead.
        let before = t[..s].trim_end();
        let ws_start = before.len();
        if let Some(c) = before.chars().next_back() {
            if c.is_ascii_digit() || c == '}' {
                return Some(ws_start);
            }
        }
        if ws_start < s {
            // The first whitespace character itself is the leading `\s`.
            let c = t[ws_start..].chars().next().map_or(1, char::len_utf8);
            return Some(ws_start + c);
        }
    }
    None
}
