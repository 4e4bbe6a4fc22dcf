//! LaTeX normalization before parsing, following `latex2sympy2_extended.normalize_latex`
//! (the normalizer Math-Verify runs on every extracted answer): boxed-content extraction,
//! basic command clean-up, unit stripping, small formatting fixes and malformed-operator fixes.

use super::malformed::fix_malformed_operators;
use super::units::strip_units;

/// Which normalization groups run (Math-Verify's `NormalizationConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormConfig {
    /// `\left`/`\right`, `\mathrm`→`\text`, `\dfrac`→`\frac`, `and`/`or`→`,`, `$` removal, …
    pub basic_latex: bool,
    /// Strip a trailing `\text{…}` and trailing unit words.
    pub units: bool,
    /// Fix `\frac12`, `\sqrt3`, `^(..)`, `a/b` of integers.
    pub malformed_operators: bool,
    /// Leading `.` → `0.`, and `0.5` → `\frac{1}{2}`.
    pub nits: bool,
    /// Which `\boxed{}` contents to keep.
    pub boxed: Boxed,
}

/// How `\boxed{}` contents are extracted before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boxed {
    /// All boxes, joined by commas.
    All,
    /// The last box, plus earlier ones close to it and separated by `,`/`and`/`or`/`;`.
    Last,
    /// Leave boxes alone.
    None,
}

impl Default for NormConfig {
    /// Math-Verify's default for LaTeX extraction.
    fn default() -> Self {
        Self {
            basic_latex: true,
            units: true,
            malformed_operators: true,
            nits: true,
            boxed: Boxed::All,
        }
    }
}

/// Whether `hay` contains `needle`. Answers are short, so a direct scan beats building a
/// substring searcher for every check (this runs a dozen times per answer).
pub(crate) fn has(hay: &str, needle: &str) -> bool {
    find_from(hay, needle, 0).is_some()
}

/// The first occurrence of `needle` in `hay` at or after `from` (a byte offset).
pub(crate) fn find_from(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let (&first, rest) = n.split_first()?;
    let mut i = from;
    while i + n.len() <= h.len() {
        let j = i + h[i..=h.len() - n.len()].iter().position(|&c| c == first)?;
        if &h[j + 1..j + n.len()] == rest {
            return Some(j);
        }
        i = j + 1;
    }
    None
}

/// The last occurrence of `needle` starting before `end`.
fn rfind_before(hay: &str, needle: &str, end: usize) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    (0..=end.min(h.len()).checked_sub(n.len())?)
        .rev()
        .find(|&i| &h[i..i + n.len()] == n)
}

/// Normalizes an extracted LaTeX answer.
pub fn normalize(text: &str, cfg: &NormConfig) -> String {
    let mut t = match cfg.boxed {
        Boxed::All => extract_boxed(text, false),
        Boxed::Last => extract_boxed(text, true),
        Boxed::None => text.to_string(),
    };
    // A plain number (the most common answer) is left alone by every pass but the nits.
    let plain_number = {
        let d = t.strip_prefix('-').unwrap_or(&t);
        !d.is_empty()
            && d.bytes().all(|c| c.is_ascii_digit() || c == b'.')
            && d.bytes().filter(|&c| c == b'.').count() <= 1
            && !d.ends_with('.')
    };
    if plain_number {
        if cfg.nits {
            if t.starts_with('.') {
                t.insert(0, '0');
            }
            if t == "0.5" {
                t = "\\frac{1}{2}".to_string();
            }
        }
        return t;
    }
    if cfg.basic_latex {
        t = basic_latex(&t);
    }
    if cfg.units {
        t = strip_units(&t);
    }
    if cfg.nits {
        if t.starts_with('.') {
            t.insert(0, '0');
        }
        if t == "0.5" {
            t = "\\frac{1}{2}".to_string();
        }
    }
    if cfg.malformed_operators {
        t = fix_malformed_operators(&t);
    }
    t
}

/// A `\boxed` or `\fbox` command found by [`boxed_before`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BoxedCommand {
    /// Byte where the command starts.
    pub(crate) start: usize,
    /// Its argument: the first byte after the command and any whitespace (the `{` of a braced
    /// argument; the searched range's end when nothing follows).
    pub(crate) arg: usize,
    /// The `}` that closes a braced argument (`None` when the argument is not braced or not
    /// closed before the searched range's end).
    pub(crate) close: Option<usize>,
}

/// The last `\boxed` / `\fbox` command that ends before byte `end` of `text`, with its
/// argument's bounds (the math and geometry checkers' one box scanner).
pub(crate) fn boxed_before(text: &str, end: usize) -> Option<BoxedCommand> {
    let b = text.as_bytes();
    let (start, cmd_len) = match (
        rfind_before(text, "\\boxed", end),
        rfind_before(text, "\\fbox", end),
    ) {
        (None, None) => return None,
        (Some(x), Some(y)) if y > x => (y, 5),
        (Some(x), _) => (x, 6),
        (None, Some(y)) => (y, 5),
    };
    let mut arg = start + cmd_len;
    while arg < end && b[arg].is_ascii_whitespace() {
        arg += 1;
    }
    Some(BoxedCommand {
        start,
        arg,
        close: matching_bracket(b, arg, end).filter(|_| b.get(arg) == Some(&b'{')),
    })
}

/// The contents of `\boxed{…}` / `\fbox{…}`, scanning right to left (see [`Boxed`]).
pub fn extract_boxed(text: &str, last: bool) -> String {
    let mut results: Vec<&str> = Vec::new();
    let mut max_pos = text.len();
    let mut last_start: Option<usize> = None;
    while let Some(BoxedCommand {
        start,
        arg: next,
        close,
    }) = boxed_before(text, max_pos)
    {
        if next >= max_pos {
            break;
        }
        let Some(close) = close else {
            // `\boxed 5` or an unclosed `\boxed{5`: the rest.
            if results.is_empty() {
                results.push(&text[next..]);
            }
            break;
        };
        let content = text[next + 1..close].trim();
        if last {
            if let Some(ls) = last_start {
                let between = &text[(close + 1).min(ls)..ls];
                let prev = results.last().copied().unwrap_or("");
                let close_enough = between.chars().count() < 10
                    || (content != prev && between.chars().count() < 70 && has_separator(between));
                if !close_enough {
                    break;
                }
            }
        }
        if results.last() != Some(&content) {
            results.push(content);
        }
        last_start = Some(start);
        max_pos = start;
    }
    if results.is_empty() {
        return text.to_string();
    }
    results.reverse();
    results.join(",")
}

/// Index of the bracket that closes the `{` or `(` at `open`, searching below `max` (`None` when
/// `open` holds neither or the bracket is not closed).
pub(crate) fn matching_bracket(b: &[u8], open: usize, max: usize) -> Option<usize> {
    let (o, c) = match b.get(open)? {
        b'{' => (b'{', b'}'),
        b'(' => (b'(', b')'),
        _ => return None,
    };
    let mut depth = 0usize;
    for (i, &x) in b.iter().enumerate().take(max).skip(open) {
        if x == o {
            depth += 1;
        } else if x == c {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

fn has_separator(s: &str) -> bool {
    s.contains(',') || s.contains(';') || has_word(s, "and") || has_word(s, "or")
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn has_word(s: &str, w: &str) -> bool {
    s.match_indices(w).any(|(i, _)| {
        let before = s[..i].chars().next_back();
        let after = s[i + w.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

const LEFT_DELIMS: &[&str] = &[
    "\\{",
    "{",
    "\\|",
    "|",
    "[",
    "(",
    "\\rbracl",
    "\\lgroup",
    "\\lbrace",
    "\\lbrack",
    "\\vert",
    "\\lvert",
    "\\lceil",
    "\\lfloor",
    "\\langle",
    "\\llcorner",
    "\\ulcorner",
];
const RIGHT_DELIMS: &[&str] = &[
    "\\}",
    "}",
    "\\|",
    "|",
    "]",
    ")",
    "\\rbrack",
    "\\rgroup",
    "\\rbrace",
    "\\vert",
    "\\rvert",
    "\\rceil",
    "\\rfloor",
    "\\rangle",
    "\\lrcorner",
    "\\urcorner",
];

/// Removes `\left`/`\right` (and `\mleft`/`\mright`) in front of a delimiter.
fn strip_left_right(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        let rest = &t[i..];
        let mut skipped = false;
        for (cmd, delims) in [
            ("\\left", LEFT_DELIMS),
            ("\\mleft", LEFT_DELIMS),
            ("\\right", RIGHT_DELIMS),
            ("\\mright", RIGHT_DELIMS),
        ] {
            if let Some(after) = rest.strip_prefix(cmd) {
                if delims.iter().any(|d| after.starts_with(d)) {
                    i += cmd.len();
                    skipped = true;
                    break;
                }
            }
        }
        if !skipped {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn prev_char(s: &str, i: usize) -> Option<char> {
    s[..i].chars().next_back()
}

fn basic_latex(text: &str) -> String {
    if !text.contains([
        '\\', '$', '"', '\'', '\n', '\t', '{', '~', ',', 'a', 'o', 'i', 'p', 's', '.',
    ]) {
        return text.to_string();
    }
    let t = if has(text, "\\mathrm{") || has(text, "\\rm") || has(text, "matrix") {
        text.replace("\\mathrm{T}", "T")
            .replace("\\mathrm{d}", "d")
            .replace("{\\rm d}", "d")
            .replace("\\left[\\begin{matrix}", "\\begin{bmatrix}")
            .replace("\\end{matrix}\\right]", "\\end{bmatrix}")
    } else {
        text.to_string()
    };
    let t = if has(&t, "left") || has(&t, "right") {
        strip_left_right(&t)
    } else {
        t
    };
    let t = remove_tokens(&t);
    let t = replace_in_latex(&t);
    let t = if t.contains(['\n', '\t']) {
        t.replace(['\n', '\t'], " ")
    } else {
        t
    };
    if has(&t, "matrix") || !has(&t, "\\\\") {
        return t;
    }
    // `\\frac` → `\frac` (a doubled backslash before a command name).
    let mut out = String::with_capacity(t.len());
    let mut chars = t.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\'
            && t[i + 1..].starts_with('\\')
            && t[i + 2..].starts_with(|ch: char| ch.is_ascii_alphabetic())
        {
            chars.next();
            out.push('\\');
            continue;
        }
        out.push(c);
    }
    out
}

/// Removes `\mathrm{th}`, `\!`, empty `\text{}`, dollar signs, quotes and `\displaystyle`.
fn remove_tokens(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        let rest = &t[i..];
        if !matches!(rest.as_bytes()[0], b'\\' | b'$' | b'"' | b'\'') {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        if let Some(r) = rest.strip_prefix("\\mathrm{th}") {
            i = t.len() - r.len();
            continue;
        }
        if let Some(r) = rest.strip_prefix("\\!") {
            i = t.len() - r.trim_start().len();
            continue;
        }
        if let Some(r) = rest.strip_prefix("\\text") {
            let r2 = r.trim_start();
            if let Some(r3) = r2.strip_prefix('{') {
                let r4 = r3.trim_start();
                if let Some(r5) = r4.strip_prefix('}') {
                    i = t.len() - r5.len();
                    continue;
                }
            }
        }
        if let Some(r) = rest.strip_prefix("\\$") {
            i = t.len() - r.len();
            continue;
        }
        if let Some(r) = rest.strip_prefix("\\displaystyle") {
            i = t.len() - r.len();
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '$' || ((c == '"' || c == '\'') && prev_char(t, i) != Some('\\')) {
            i += 1;
            continue;
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn is_ascii_letter(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphabetic())
}

/// The alternation of replacements in `normalize_latex`, applied in one left-to-right pass.
fn replace_in_latex(t: &str) -> String {
    let mut out = String::with_capacity(t.len() + 8);
    let mut i = 0;
    let ws_len = |s: &str| s.len() - s.trim_start().len();
    while i < t.len() {
        let rest = &t[i..];
        let first = rest.as_bytes()[0];
        // Only these bytes can start a replacement.
        if !(first.is_ascii_whitespace()
            || matches!(
                first,
                b'\\' | b'{' | b'~' | b',' | b'a' | b'o' | b'i' | b'p'
            ))
        {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let prev = prev_char(t, i);
        // (replacement, consumed bytes)
        let hit: Option<(&str, usize)> = (|| {
            for (pat, rep) in [
                ("\\mathrm", "\\text"),
                ("\\mathit", "\\text"),
                ("\\mathbf", "\\text"),
                ("\\textnormal", "\\text"),
                ("\\textbf", "\\text"),
                ("\\textit", "\\text"),
                ("\\textrm", "\\text"),
                ("\\dfrac", "\\frac"),
                ("\\tfrac", "\\frac"),
                ("\\cfrac", "\\frac"),
            ] {
                if rest.starts_with(pat) {
                    return Some((rep, pat.len()));
                }
            }
            let first = rest.chars().next()?;
            if first.is_whitespace() && rest[first.len_utf8()..].starts_with('.') {
                return Some((" 0.", first.len_utf8() + 1));
            }
            if rest.starts_with("{.") {
                return Some(("{0.", 2));
            }
            if rest.starts_with("~=") {
                return Some(("\\approx", 2));
            }
            // `{,}` thousands separator.
            {
                let w = ws_len(rest);
                let r = &rest[w..];
                if let Some(r) = r.strip_prefix('{') {
                    let r = r.trim_start();
                    if let Some(r) = r.strip_prefix(',') {
                        let r = r.trim_start();
                        if let Some(r) = r.strip_prefix('}') {
                            return Some((",", rest.len() - r.len()));
                        }
                    }
                }
            }
            // `, and` / `or` as separators.
            if !is_ascii_letter(prev) {
                let mut r = rest;
                if let Some(x) = r.strip_prefix(',') {
                    r = x;
                }
                r = r.trim_start();
                for w in ["and", "or"] {
                    if let Some(x) = r.strip_prefix(w) {
                        if !is_ascii_letter(x.chars().next()) {
                            return Some((",", rest.len() - x.len()));
                        }
                    }
                }
                let mut r = rest;
                if let Some(x) = r.strip_prefix(',') {
                    r = x;
                }
                r = r.trim_start();
                if let Some(x) = r.strip_prefix("\\text{") {
                    let x = x.trim_start();
                    for w in ["and", "or"] {
                        if let Some(y) = x.strip_prefix(w) {
                            if let Some(z) = y.trim_start().strip_prefix('}') {
                                return Some((",", rest.len() - z.len()));
                            }
                        }
                    }
                }
            }
            if first == '\\' && prev != Some('\\') {
                if let Some(c) = rest[1..].chars().next() {
                    if c.is_whitespace() {
                        return Some((" ", 1 + c.len_utf8()));
                    }
                }
            }
            if rest.starts_with("infinity") {
                return Some(("\\infty", 8));
            }
            if rest.starts_with(",\\ldots") {
                return Some((" ", 7));
            }
            if rest.starts_with("\\ldots") {
                return Some((" ", 6));
            }
            for (word, pct) in [("percentage", "\\%"), ("percent", "\\%"), ("pct", "\\%")] {
                let w = ws_len(rest);
                let r = &rest[w..];
                let before = if w == 0 { prev } else { Some(' ') };
                if r.starts_with(word)
                    && !before.is_some_and(is_word_char)
                    && !r[word.len()..].chars().next().is_some_and(is_word_char)
                {
                    return Some((pct, w + word.len()));
                }
            }
            for (pat, rep) in [
                ("\\text{percentage}", "%"),
                ("\\text{percent}", "%"),
                ("\\text{pct}", "%"),
            ] {
                if rest.starts_with(pat) {
                    return Some((rep, pat.len()));
                }
            }
            if rest.starts_with("inf") && prev != Some('\\') && !rest.starts_with("infinity") {
                return Some(("\\infty", 3));
            }
            if rest.starts_with(" sqrt") {
                return Some(("\\sqrt", 5));
            }
            None
        })();
        match hit {
            Some((rep, n)) if n > 0 => {
                out.push_str(rep);
                i += n;
            }
            _ => {
                let c = rest.chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalize(s, &NormConfig::default())
    }

    #[test]
    fn boxed_last_and_all() {
        assert_eq!(extract_boxed("so \\boxed{1} and \\boxed{2}", true), "1,2");
        assert_eq!(
            extract_boxed(
                "\\boxed{1} no no no no no no no no no no no no \\boxed{2}",
                true
            ),
            "2"
        );
        assert_eq!(extract_boxed("\\boxed{\\frac{1}{2}}", true), "\\frac{1}{2}");
        assert_eq!(extract_boxed("\\boxed{3} \\boxed{3}", false), "3");
        assert_eq!(extract_boxed("\\boxed 5", true), "5");
        assert_eq!(extract_boxed("no box", true), "no box");
    }

    #[test]
    fn units_and_text() {
        assert_eq!(norm("5\\text{ cm}"), "5");
        assert_eq!(norm("12 inches"), "12");
        assert_eq!(norm("90 degrees"), "90");
        assert_eq!(norm("\\text{Evelyn}"), "\\text{Evelyn}");
        assert_eq!(norm("x"), "x");
    }

    #[test]
    fn basic_commands() {
        assert_eq!(norm("\\left( 1, 2 \\right)"), "( 1, 2 )");
        assert_eq!(norm("\\dfrac{3}{4}"), "\\frac{3}{4}");
        assert_eq!(norm("1 and 2"), "1, 2");
        assert_eq!(norm("\\mathrm{odd}"), "\\text{odd}");
        assert_eq!(norm("50 percent"), "50\\%");
    }

    #[test]
    fn malformed_operators() {
        assert_eq!(norm("\\frac12"), "\\frac{1}{2}");
        assert_eq!(norm("\\frac1{2}"), "\\frac{1}{2}");
        assert_eq!(norm("\\sqrt3"), "\\sqrt{3}");
        assert_eq!(norm("3/4"), "\\frac{3}{4}");
        assert_eq!(norm("2^(x+1)"), "2^{x+1}");
        assert_eq!(norm(".5"), "\\frac{1}{2}");
        assert_eq!(norm(".25"), "0.25");
        assert_eq!(norm("0.5"), "\\frac{1}{2}");
    }
}
