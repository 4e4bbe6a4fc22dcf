//! Answer extraction: finding the final answer in free text.
//!
//! Candidates come from patterns in priority groups (lower first), as in Math-Verify:
//!
//! | priority | LaTeX                                   | plain expression / number          |
//! |----------|-----------------------------------------|------------------------------------|
//! | 0        | `final answer is $X$. I hope`           | `final answer is X. I hope`        |
//! | 50       | `final answer … is $X$`, `\boxed{X}`    | `final answer … is X`              |
//! | 100      | `answer: … $X$`                          | `answer: … X` (after the last `=`) |
//! | 200      | `answer … $X$`                           | `answer … X`                       |
//! | 300      | any `$X$`, `\[X\]`, `\(X\)`, `\frac{a}{b}` | any anchored number or expression |
//!
//! Within the first group that has matches, matches are tried rightmost-end first; the first
//! that parses wins. A LaTeX match is up to six environments joined by `,`/`and`/`or`, which
//! become one set. The boxed priority and the anchor-free patterns are configurable.

use super::expr::Expr;
use super::latex;
use super::normalize::{normalize, Boxed, NormConfig};
use super::python;

mod plain;
use plain::{expr_matches, number_body};

/// How LaTeX answers are found and normalized (Math-Verify's `LatexExtractionConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatexConfig {
    /// Also match LaTeX environments with no anchor phrase before them.
    pub try_without_anchor: bool,
    /// Priority of `\boxed{}` matches (0 = before everything, 50 = default); `None` disables.
    pub boxed_priority: Option<u32>,
    /// Normalization applied to each match.
    pub norm: NormConfig,
}

impl Default for LatexConfig {
    fn default() -> Self {
        Self {
            try_without_anchor: true,
            boxed_priority: Some(50),
            norm: NormConfig::default(),
        }
    }
}

/// How plain numbers and expressions are found (Math-Verify's `ExprExtractionConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExprConfig {
    /// Also match numbers and expressions with no anchor phrase before them.
    pub try_without_anchor: bool,
}

impl Default for ExprConfig {
    fn default() -> Self {
        Self {
            try_without_anchor: true,
        }
    }
}

/// What to do when the best match does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtractionMode {
    /// Give up after the first match of the first priority group that matches.
    FirstMatch,
    /// Try the next match, then the next group, until one parses.
    #[default]
    AnyMatch,
}

/// The extraction settings (Math-Verify's `parse` arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractConfig {
    /// LaTeX extraction, if enabled.
    pub latex: Option<LatexConfig>,
    /// Plain-expression extraction, if enabled.
    pub expr: Option<ExprConfig>,
    /// Fallback behaviour.
    pub mode: ExtractionMode,
}

impl Default for ExtractConfig {
    /// Math-Verify's `parse` defaults: LaTeX and plain expressions, any match.
    fn default() -> Self {
        Self {
            latex: Some(LatexConfig::default()),
            expr: Some(ExprConfig::default()),
            mode: ExtractionMode::AnyMatch,
        }
    }
}

/// The result of extraction: the first parsed value and the first matched text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extracted {
    /// The parsed answer, if any match parsed.
    pub value: Option<Expr>,
    /// The (normalized) text of the first match tried, parsed or not.
    pub raw: Option<String>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Part {
    start: usize,
    end: usize,
    /// Came from the plain `\boxed{…}` pattern (normalized with `boxed = last`).
    boxed_group: bool,
    percent: bool,
}

/// Up to six joined environments, stored inline (matches are found by the dozen and most
/// are never interpreted, so they should not allocate).
#[derive(Debug, Clone, Copy, Default)]
struct Parts {
    items: [Part; 6],
    len: usize,
}

impl Parts {
    fn one(p: Part) -> Self {
        let mut parts = Parts::default();
        parts.push(p);
        parts
    }
    fn push(&mut self, p: Part) {
        if self.len < self.items.len() {
            self.items[self.len] = p;
            self.len += 1;
        }
    }
    fn as_slice(&self) -> &[Part] {
        &self.items[..self.len]
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Latex(Parts),
    /// A number starting at this byte (its text is built only if it is tried).
    Number(usize),
    /// A plain expression: its byte range.
    Expr(usize, usize),
}

#[derive(Debug, Clone)]
struct Match {
    start: usize,
    end: usize,
    kind: Kind,
}

/// Extracts the answer from `text`.
pub fn extract(text: &str, cfg: &ExtractConfig) -> Extracted {
    let mut groups: Vec<u32> = Vec::new();
    if let Some(l) = &cfg.latex {
        groups.extend([0, 50, 100, 200]);
        if l.try_without_anchor {
            groups.push(300);
        }
        if let Some(p) = l.boxed_priority {
            groups.push(p);
        }
    }
    if let Some(e) = &cfg.expr {
        groups.extend([0, 50, 100, 200]);
        if e.try_without_anchor {
            groups.push(300);
        }
    }
    groups.sort_unstable();
    groups.dedup();

    let scan = Scan::new(text);
    let mut out = Extracted::default();
    let mut matches = Vec::new();
    for prio in groups {
        matches.clear();
        if let Some(l) = &cfg.latex {
            latex_matches(&scan, prio, l, &mut matches);
        }
        if let Some(e) = &cfg.expr {
            expr_matches(&scan, prio, e, &mut matches);
        }
        if matches.is_empty() {
            continue;
        }
        // Rightmost end first, then leftmost start; stable for equal keys.
        matches.sort_by(|a, b| b.end.cmp(&a.end).then(a.start.cmp(&b.start)));
        for m in &matches {
            let (value, raw) = interpret(text, m, cfg.latex.as_ref());
            if out.raw.is_none() && !raw.is_empty() {
                out.raw = Some(raw);
            }
            if value.is_some() {
                out.value = value;
                return out;
            }
            if cfg.mode == ExtractionMode::FirstMatch {
                break;
            }
        }
        if cfg.mode == ExtractionMode::FirstMatch {
            return out;
        }
    }
    out
}

fn interpret(text: &str, m: &Match, latex_cfg: Option<&LatexConfig>) -> (Option<Expr>, String) {
    match &m.kind {
        Kind::Latex(parts) => {
            let Some(lc) = latex_cfg else {
                return (None, String::new());
            };
            let one = |p: &Part| {
                let mut norm = lc.norm;
                if p.boxed_group {
                    norm.boxed = Boxed::Last;
                }
                let s = normalize(&text[p.start..p.end], &norm);
                let v = parse_latex(&s).map(|e| {
                    if p.percent {
                        Expr::Percent(Box::new(e))
                    } else {
                        e
                    }
                });
                (v, s)
            };
            if let [single] = parts.as_slice() {
                return one(single);
            }
            let (values, raws): (Vec<_>, Vec<_>) = parts.as_slice().iter().map(one).unzip();
            if values.iter().all(Option::is_some) {
                let mut items = Vec::new();
                for v in values.into_iter().flatten() {
                    match v {
                        Expr::Set(inner) => items.extend(inner),
                        other => items.push(other),
                    }
                }
                return (Some(Expr::Set(items)), raws.join(" and "));
            }
            let first = values.into_iter().next().flatten();
            (first, raws.into_iter().next().unwrap_or_default())
        }
        Kind::Number(start) => {
            let Some((_, text, percent)) = number_body(text, *start, true) else {
                return (None, String::new());
            };
            let value = latex::number(&text).ok().map(|e| {
                if percent {
                    Expr::Percent(Box::new(e))
                } else {
                    e
                }
            });
            (value, text)
        }
        Kind::Expr(a, b) => {
            let s = &text[*a..*b];
            (python::parse(&s.replace('\n', " ")), s.to_string())
        }
    }
}

/// Parses normalized LaTeX; if that fails and it is a chain `a = b = c`, the last part.
pub fn parse_latex(s: &str) -> Option<Expr> {
    let complex = treat_as_complex(s);
    if let Ok(e) = latex::parse(s, complex) {
        return Some(e);
    }
    let last = last_equation_part(s);
    if last != s {
        return latex::parse(last, treat_as_complex(last)).ok();
    }
    None
}

/// For `a = b = c` without commas or semicolons, `c`.
fn last_equation_part(s: &str) -> &str {
    if s.contains(',') || s.contains(';') {
        return s;
    }
    let b = s.as_bytes();
    let splits: Vec<usize> = (0..b.len())
        .filter(|&i| b[i] == b'=' && !(i > 0 && matches!(b[i - 1], b'\\' | b'<' | b'!' | b'>')))
        .collect();
    if splits.len() >= 2 {
        return &s[splits[splits.len() - 1] + 1..];
    }
    s
}

/// Whether `i` should be the imaginary unit (Math-Verify's `should_treat_as_complex`).
fn treat_as_complex(s: &str) -> bool {
    const MARKERS: &[&str] = &[
        "\\mathbb{C}",
        "\\text{i}",
        "\\mathrm{i}",
        "\\det",
        "\\operatorname{tr}",
        "\\operatorname{rank}",
        "\\text{rank}",
        "\\arg{",
        "\\Re{",
        "\\Im{",
        "\\operatorname{Re}",
        "\\operatorname{Im}",
        "\\text{Re}",
        "\\text{Im}",
    ];
    let b = s.as_bytes();
    let word = |i: usize| {
        b.get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    };
    for (i, &c) in b.iter().enumerate() {
        if c == b'i' && !word(i + 1) && (i == 0 || !word(i - 1)) {
            // A standalone `i` (or `\i`).
            return true;
        }
        if c == b'\\' {
            let rest = &s[i..];
            if MARKERS.iter().any(|m| rest.starts_with(m))
                || (rest.starts_with("\\imath") && !word(i + 6))
            {
                return true;
            }
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// LaTeX environments.

/// One environment found at a position: content range and end of the whole match.
struct Env {
    content: (usize, usize),
    end: usize,
}

fn prev_byte(b: &[u8], i: usize) -> Option<u8> {
    i.checked_sub(1).map(|j| b[j])
}

/// The text with precomputed "next closer" tables, so that finding an environment's end is
/// O(1) and scanning a whole text for environments stays linear.
struct Scan<'a> {
    t: &'a str,
    /// Per byte `i`: the first `j >= i` holding `$$`, `\\]`, `\\)` and a newline
    /// (`u32::MAX` when none); built on first use.
    next: std::cell::OnceCell<Vec<[u32; 4]>>,
    /// Offsets of every "answer" in `lower` (all anchors contain the word).
    answers: Vec<usize>,
}

const DD: usize = 0;
const BRACKET: usize = 1;
const PAREN: usize = 2;
const NL: usize = 3;

impl<'a> Scan<'a> {
    fn new(t: &'a str) -> Self {
        let b = t.as_bytes();
        let answers = (0..b.len().saturating_sub(5))
            .filter(|&i| b[i] | 0x20 == b'a' && b[i..i + 6].eq_ignore_ascii_case(b"answer"))
            .collect();
        Self {
            t,
            next: std::cell::OnceCell::new(),
            answers,
        }
    }

    fn closers(&self) -> &[[u32; 4]] {
        self.next.get_or_init(|| {
            let b = self.t.as_bytes();
            let n = b.len();
            let mut next = vec![[u32::MAX; 4]; n + 2];
            for i in (0..n).rev() {
                let pair = |c: u8, d: u8| b[i] == c && b.get(i + 1) == Some(&d);
                let mut row = next[i + 1];
                if pair(b'$', b'$') {
                    row[DD] = i as u32;
                }
                if pair(b'\\', b']') {
                    row[BRACKET] = i as u32;
                }
                if pair(b'\\', b')') {
                    row[PAREN] = i as u32;
                }
                if b[i] == b'\n' {
                    row[NL] = i as u32;
                }
                next[i] = row;
            }
            next
        })
    }

    /// The first `kind` closer at or after `i`, if any.
    fn next(&self, kind: usize, i: usize) -> Option<usize> {
        let j = self.closers().get(i)?[kind];
        (j != u32::MAX).then_some(j as usize)
    }
}

/// Tries each environment form at `pos`, in Math-Verify's order.
fn env_at(s: &Scan, pos: usize, plain: bool) -> Option<Env> {
    let t = s.t;
    let b = t.as_bytes();
    let c = *b.get(pos)?;
    if !(c == b'$' || c == b'\\' || c == b'-' || c.is_ascii_whitespace()) {
        return None;
    }
    let rest = &t[pos..];
    let prev = prev_byte(b, pos);
    // $$ … $$ (may span lines; the content has no `$$` and at least one character).
    if rest.starts_with("$$") && prev != Some(b'\\') {
        let cs = pos + 2;
        let starts_with_pair = b.get(cs) == Some(&b'$') && b.get(cs + 1) == Some(&b'$');
        if cs < b.len() && !starts_with_pair {
            if let Some(j) = s.next(DD, cs + 1).filter(|&j| b[j - 1] != b'\\') {
                return Some(Env {
                    content: (cs, j),
                    end: j + 2,
                });
            }
        }
    }
    // \[ … \]
    if rest.starts_with("\\[") && prev != Some(b'\\') {
        let cs = pos + 2;
        if let Some(j) = s.next(BRACKET, cs).filter(|&j| j > cs && b[j - 1] != b'\\') {
            return Some(Env {
                content: (cs, j),
                end: j + 2,
            });
        }
    }
    // $ … $ (one line; not after a backslash or digit).
    if rest.starts_with('$') && !matches!(prev, Some(b'\\') | Some(b'0'..=b'9')) {
        let cs = pos + 1;
        let mut i = cs;
        while i < b.len() {
            match b[i] {
                b'\n' => break,
                b'$' => {
                    if i > cs && b[i - 1] != b'\\' {
                        return Some(Env {
                            content: (cs, i),
                            end: i + 1,
                        });
                    }
                    break;
                }
                b'\\' if b.get(i + 1) == Some(&b'$') => i += 2,
                _ => i += 1,
            }
        }
    }
    // \( … \) (one line).
    if rest.starts_with("\\(") && prev != Some(b'\\') {
        let cs = pos + 2;
        let no_newline = |j: usize| s.next(NL, cs).is_none_or(|nl| nl > j);
        if let Some(j) = s
            .next(PAREN, cs)
            .filter(|&j| j > cs && no_newline(j) && b[j - 1] != b'\\')
        {
            return Some(Env {
                content: (cs, j),
                end: j + 2,
            });
        }
    }
    // <space>[ … ]<space>
    if rest.starts_with(|c: char| c.is_whitespace()) {
        let w = rest.chars().next().map_or(1, char::len_utf8);
        if t[pos + w..].starts_with('[') {
            let cs = pos + w + 1;
            let mut i = cs;
            while i < b.len() && !matches!(b[i], b'\n' | b'[' | b']') {
                i += 1;
            }
            if i < b.len() && b[i] == b']' && i > cs {
                if let Some(c) = t[i + 1..].chars().next() {
                    if c.is_whitespace() {
                        return Some(Env {
                            content: (cs, i),
                            end: i + 1 + c.len_utf8(),
                        });
                    }
                }
            }
        }
    }
    // A bare \frac{a}{b} of two plain numbers.
    if plain {
        let (s0, r) = match rest.strip_prefix('-') {
            Some(r) => (pos, r),
            None => (pos, rest),
        };
        if let Some(r) = r.strip_prefix("\\frac{") {
            if let Some(r) = simple_number(r).and_then(|r| r.strip_prefix("}{")) {
                if let Some(r) = simple_number(r).and_then(|r| r.strip_prefix('}')) {
                    let end = t.len() - r.len();
                    return Some(Env {
                        content: (s0, end),
                        end,
                    });
                }
            }
        }
    }
    None
}

/// `-?\d+(?:[.,]\d+)?` at the start of `s`; returns the rest.
fn simple_number(s: &str) -> Option<&str> {
    let s = s.strip_prefix('-').unwrap_or(s);
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    let s = &s[n..];
    if let Some(r) = s.strip_prefix(['.', ',']) {
        let m = r.bytes().take_while(u8::is_ascii_digit).count();
        if m > 0 {
            return Some(&r[m..]);
        }
    }
    Some(s)
}

/// An optional percent suffix after an environment: `\s*(\\?%|percent|pct)`.
fn percent_after(t: &str, pos: usize) -> Option<usize> {
    let rest = &t[pos..];
    let r = rest.trim_start();
    for p in ["\\%", "%", "Percent", "percent", "Pct", "pct"] {
        if let Some(x) = r.strip_prefix(p) {
            return Some(t.len() - x.len());
        }
    }
    None
}

/// A joined run of environments starting at `pos` (`ENV (sep ENV){0,5}`), or `None`.
fn envs_at(s: &Scan, pos: usize, boxed_ctx: bool) -> Option<(usize, Parts)> {
    let t = s.t;
    let one = |p: usize| -> Option<(Part, usize)> {
        let env = env_at(s, p, !boxed_ctx)?;
        let (cs, ce) = env.content;
        if boxed_ctx && !contains_boxed(&t[cs..ce]) {
            return None;
        }
        let (end, percent) = match percent_after(t, env.end) {
            Some(e) => (e, true),
            None => (env.end, false),
        };
        Some((
            Part {
                start: cs,
                end: ce,
                boxed_group: false,
                percent,
            },
            end,
        ))
    };
    let (first, mut end) = one(pos)?;
    let mut parts = Parts::one(first);
    for _ in 0..5 {
        let Some(next) = separator_then(t, end) else {
            break;
        };
        match one(next) {
            Some((p, e)) => {
                parts.push(p);
                end = e;
            }
            None => break,
        }
    }
    Some((end, parts))
}

/// Whether `s` holds `\\boxed{` followed by at least one character before a `}`.
fn contains_boxed(s: &str) -> bool {
    let mut from = 0;
    while let Some(i) = super::normalize::find_from(s, "\\boxed{", from) {
        if s[i + 7..].find('}').is_some_and(|j| j > 0) {
            return true;
        }
        from = i + 1;
    }
    false
}

/// After `\s*(,?and|,?or|,)\s*`, the position of the next environment.
fn separator_then(t: &str, pos: usize) -> Option<usize> {
    let r = t[pos..].trim_start();
    let r = if let Some(x) = r.strip_prefix(",and").or(r.strip_prefix(",or")) {
        x
    } else if let Some(x) = r.strip_prefix("and").or(r.strip_prefix("or")) {
        x
    } else {
        r.strip_prefix(',')?
    };
    let r = r.trim_start();
    let p = t.len() - r.len();
    // The separator's trailing `\s*` is greedy, but `<space>[` needs its space back.
    if r.starts_with('[') && p > pos && t[..p].ends_with(|c: char| c.is_whitespace()) {
        let w = t[..p].chars().next_back().map_or(1, char::len_utf8);
        return Some(p - w);
    }
    Some(p)
}

/// For `final answer.{0,100}?\s+is:?`: the positions right after `is` / `is:`, nearest first.
fn after_is(t: &str, p: usize, dotall: bool) -> impl Iterator<Item = usize> + '_ {
    offsets(t, p, 100, dotall).into_iter().filter_map(move |q| {
        let r = &t[q..];
        let trimmed = r.trim_start();
        if trimmed.len() == r.len() {
            return None;
        }
        let r = trimmed.strip_prefix("is")?;
        let r = r.strip_prefix(':').unwrap_or(r);
        Some(t.len() - r.len())
    })
}

/// Byte offsets of up to `max` characters after `pos`, nearest first, as lazy `.{0,max}?`.
fn offsets(t: &str, pos: usize, max: usize, dotall: bool) -> Vec<usize> {
    let mut out = vec![pos];
    for (i, c) in t[pos..].char_indices().take(max) {
        if !dotall && c == '\n' {
            break;
        }
        out.push(pos + i + c.len_utf8());
    }
    out
}

fn latex_matches(scan: &Scan, prio: u32, cfg: &LatexConfig, out: &mut Vec<Match>) {
    if cfg.boxed_priority == Some(prio) {
        boxed_matches(scan, out);
    }
    match prio {
        0 => anchored(scan, out, "final answer is", |t, p| {
            let r = &t[p..];
            let r = r.strip_prefix(':').unwrap_or(r);
            let q = t.len() - r.trim_start().len();
            let (end, parts) = envs_at(scan, q, false)?;
            let r = &t[end..];
            let r = r.strip_prefix('.').unwrap_or(r);
            let r = match r.chars().next() {
                Some(c) if c.is_whitespace() => &r[c.len_utf8()..],
                _ => r,
            };
            r.starts_with("I hope")
                .then(|| (t.len() - r.len() + 6, Kind::Latex(parts)))
        }),
        50 => anchored(scan, out, "final answer", |t, p| {
            after_is(t, p, true).find_map(|q| {
                let s = t.len() - t[q..].trim_start().len();
                envs_at(scan, s, false).map(|(end, parts)| (end, Kind::Latex(parts)))
            })
        }),
        100 | 200 => anchored(scan, out, "answer", |t, p| {
            let p = if prio == 100 {
                p + usize::from(t[p..].starts_with(':'))
            } else {
                p
            };
            if prio == 100 && !t[..p].ends_with(':') {
                return None;
            }
            for q in offsets(t, p, 50, true) {
                if let Some((end, parts)) = envs_at(scan, q, false) {
                    return Some((end, Kind::Latex(parts)));
                }
            }
            None
        }),
        300 if cfg.try_without_anchor => env_runs(scan, false, out),
        _ => {}
    }
}

/// Every non-overlapping run of environments, left to right (Python's `finditer`).
fn env_runs(scan: &Scan, boxed_ctx: bool, out: &mut Vec<Match>) {
    let t = scan.t;
    let b = t.as_bytes();
    let mut pos = 0;
    while pos < b.len() {
        let c = b[pos];
        // Environments start at `$`, `\`, `-` (a negative `\frac`) or a space (` [ … ] `).
        let may_start = matches!(c, b'$' | b'\\' | b'-')
            || c.is_ascii_whitespace()
            || (c >= 0x80 && t[pos..].starts_with(char::is_whitespace));
        if may_start {
            if let Some((end, parts)) = envs_at(scan, pos, boxed_ctx) {
                out.push(Match {
                    start: pos,
                    end,
                    kind: Kind::Latex(parts),
                });
                pos = end.max(pos + 1);
                continue;
            }
        }
        pos += 1;
        while !t.is_char_boundary(pos) {
            pos += 1;
        }
    }
}

/// `\boxed{…}` matches: environments containing a box, and the greedy `\boxed{.+}`.
fn boxed_matches(scan: &Scan, out: &mut Vec<Match>) {
    let t = scan.t;
    let Some(first) = super::normalize::find_from(t, "\\boxed{", 0) else {
        return;
    };
    // Environments that contain a box (normalized with `boxed = all`).
    env_runs(scan, true, out);
    // `\boxed{.+}`: from the first box to the last `}` (normalized with `boxed = last`).
    if let Some(last) = t.rfind('}') {
        if last > first + 7 {
            out.push(Match {
                start: first,
                end: last + 1,
                kind: Kind::Latex(Parts::one(Part {
                    start: first,
                    end: last + 1,
                    boxed_group: true,
                    percent: false,
                })),
            });
        }
    }
}

/// Runs `body` after every non-overlapping case-insensitive occurrence of `anchor`.
fn anchored(
    scan: &Scan,
    out: &mut Vec<Match>,
    anchor: &str,
    body: impl Fn(&str, usize) -> Option<(usize, Kind)>,
) {
    let mut from = 0;
    let t = scan.t;
    let offset = anchor.find("answer").unwrap_or(0);
    for &p in &scan.answers {
        let Some(a) = p.checked_sub(offset) else {
            continue;
        };
        let b = scan.t.as_bytes();
        if a < from
            || b.len() < a + anchor.len()
            || !b[a..a + anchor.len()].eq_ignore_ascii_case(anchor.as_bytes())
        {
            continue;
        }
        match body(t, a + anchor.len()) {
            Some((end, kind)) => {
                out.push(Match {
                    start: a,
                    end,
                    kind,
                });
                from = end.max(a + 1);
            }
            None => from = a + 1,
        }
        if !t.is_char_boundary(from) {
            from = (from..t.len())
                .find(|&i| t.is_char_boundary(i))
                .unwrap_or(t.len());
        }
    }
}
