//! Geometry answer checking (Geometry3K, GeoQA, LMM-R1's MGT-Geo), on top of [`crate::math`].
//!
//! Public scorers fail on the notations geometry answers use (`shared/docs/rewards-anchors.md`
//! §4): they reject `120°`, `4√3` and `2√{3}cm`, and a bare choice letter `B`. This module
//! rewrites both answers to one LaTeX form ([`normalize_geo_answer`]), hands the comparison to
//! the Math-Verify-compatible checker, and adds what geometry needs:
//!
//! * **Choice letters.** With `choices`, a prediction may name the letter (`B`, `(B)`, `B.`,
//!   `\boxed{B}`, `B: 70`) or state the value. A letter is judged by the letter alone: a wrong
//!   letter is wrong even when its choice's value equals the gold's.
//! * **Decimal golds** ("round to the nearest tenth"): a gold written with `d` decimals accepts
//!   any prediction whose value lies within half a unit of the last place,
//!   `|pred − gold| ≤ ½·10^−d` (a tie counts as rounding to the gold). `374.12` and `12\pi`
//!   (37.699…) both answer `374.1` and `37.7`; `374.2` and `374` do not answer `374.1`.
//! * **Exact golds** (integers, fractions, radicals, π): a decimal prediction counts only when it
//!   equals the gold exactly (`0.5` for `\frac{1}{2}`, `120.0` for `120`); approximations such as
//!   `29.73` for `2\sqrt{221}` or `37.7` for `12\pi` are wrong, as in every public scorer.
//!   (Math-Verify itself would accept a 6-decimal approximation; here it does not.)
//!
//! [`GeoReward`] is LMM-R1's reward layout: 0.5 for the exact
//! `<think>…</think><answer>…</answer>` format ([`crate::format::r1`]) plus 1.0 for a correct
//! answer, with the components `format` and `accuracy` of [`crate::lmm_r1::MathReward`].
//!
//! ```
//! use lmmr1_rewards::geometry::{geo_equivalent, normalize_geo_answer};
//!
//! assert_eq!(normalize_geo_answer("2 \\sqrt { 221 }"), "2\\sqrt{221}");
//! assert_eq!(normalize_geo_answer("2√{3}cm"), "2\\sqrt{3}");
//! assert!(geo_equivalent("\\boxed{120^\\circ}", "120"));
//! assert!(geo_equivalent("4√3", "4 \\sqrt { 3 }"));
//! assert!(!geo_equivalent("29.73", "2 \\sqrt { 221 }"));
//! ```

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Signed;

use crate::format;
use crate::lmm_r1::{self, MathScore};
use crate::math::{self, CompareConfig, Expr, Number};
use crate::math::{boxed_before, matching_bracket, tail};
use crate::{Reward, Score};

mod normalize;
pub use normalize::normalize_geo_answer;
use normalize::*;

/// A geometry problem's gold: the answer as stored, and the choices when it is multiple choice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GeoTask {
    /// The gold answer: a value (`2 \sqrt { 221 }`, `120`, `40°`) or, with `choices`, a
    /// choice letter (`B`).
    pub answer: String,
    /// The choice values in letter order (`A`, `B`, …); empty for free-form answers.
    pub choices: Vec<String>,
}

impl GeoTask {
    /// A free-form task.
    pub fn new(answer: impl Into<String>) -> Self {
        Self {
            answer: answer.into(),
            choices: Vec::new(),
        }
    }

    /// A multiple-choice task; `answer` is the gold letter or the gold value.
    pub fn with_choices<S: Into<String>>(
        answer: impl Into<String>,
        choices: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            answer: answer.into(),
            choices: choices.into_iter().map(Into::into).collect(),
        }
    }
}

/// Decimals to which a decimal prediction must match an exact gold (effectively exactly: no
/// decimal written by a model agrees with an irrational value to 30 places).
const EXACT_GOLD_DECIMALS: u32 = 30;

/// Longest gold decimal part honoured by the tolerance rule.
const MAX_GOLD_DECIMALS: usize = 18;

/// The contents of the last `\boxed{…}` or `\fbox{…}` (to the end when unclosed; the rest,
/// trimmed, for `\boxed 5`).
fn last_boxed(s: &str) -> Option<&str> {
    let cmd = boxed_before(s, s.len())?;
    Some(match cmd.close {
        Some(close) => &s[cmd.arg + 1..close],
        None if s.as_bytes().get(cmd.arg) == Some(&b'{') => &s[cmd.arg + 1..],
        None => s[cmd.arg..].trim(),
    })
}

/// The contents of the last `$…$`, `\(…\)` or `\[…\]` environment.
fn last_math_env(s: &str) -> Option<&str> {
    // The environment whose contents end last, as a byte range.
    let mut best: Option<(usize, usize)> = None;
    let mut consider = |start: usize, end: usize| {
        if best.is_none_or(|(_, e)| end > e) {
            best = Some((start, end));
        }
    };
    // Dollars: pair them up left to right (`$$` counts as one delimiter).
    let b = s.as_bytes();
    let mut open: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'$' {
            let width = if b.get(i + 1) == Some(&b'$') { 2 } else { 1 };
            match open {
                None => open = Some(i + width),
                Some(start) => {
                    if i > start {
                        consider(start, i);
                    }
                    open = None;
                }
            }
            i += width;
            continue;
        }
        i += 1;
    }
    for (l, r) in [("\\(", "\\)"), ("\\[", "\\]")] {
        if let Some(start) = s.rfind(l) {
            if let Some(len) = s[start + 2..].find(r) {
                consider(start + 2, start + 2 + len);
            }
        }
    }
    best.and_then(|(start, end)| s.get(start..end))
}

/// The answer part of a response: the contents of the last `<answer>…</answer>` (to the end
/// when unclosed), or `None` without an `<answer>` tag.
///
/// ```
/// use lmmr1_rewards::geometry::answer_span;
/// assert_eq!(answer_span("<think>x</think><answer> $40$ </answer>"), Some(" $40$ "));
/// assert_eq!(answer_span("no tags"), None);
/// ```
pub fn answer_span(response: &str) -> Option<&str> {
    let start = response.rfind("<answer>")? + "<answer>".len();
    let rest = &response[start..];
    Some(match rest.find("</answer>") {
        Some(end) => &rest[..end],
        None => rest,
    })
}

/// The answer string inside an answer part: the last `\boxed{}`, else the last math
/// environment, else the whole text.
fn answer_candidate(s: &str) -> &str {
    last_boxed(s)
        .or_else(|| last_math_env(s))
        .unwrap_or(s)
        .trim()
}

/// Strips a whole-string wrapper `\cmd{…}` or `**…**` once; `None` when there is none.
fn unwrap_once(s: &str) -> Option<&str> {
    if let Some(inner) = s.strip_prefix("**").and_then(|x| x.strip_suffix("**")) {
        return Some(inner.trim());
    }
    for cmd in [
        "\\boxed", "\\text", "\\textbf", "\\mathrm", "\\mathbf", "\\textrm",
    ] {
        if let Some(rest) = s.strip_prefix(cmd) {
            let b = rest.as_bytes();
            if b.first() == Some(&b'{') && matching(b, 0) == Some(b.len() - 1) {
                return Some(rest[1..rest.len() - 1].trim());
            }
        }
    }
    None
}

/// The choice letter a string names, and what follows it: `B`, `(B)`, `B.`, `B)`, `B: 70`,
/// `(B) 70`, `\text{B}`, `Option B`, `The answer is (B).` Only capital letters count (`b` and
/// `a` are too often variables).
///
/// ```
/// use lmmr1_rewards::geometry::choice_letter;
/// assert_eq!(choice_letter("(B)"), Some(('B', "")));
/// assert_eq!(choice_letter("B: 70"), Some(('B', "70")));
/// assert_eq!(choice_letter("A = 5"), None);
/// ```
pub fn choice_letter(s: &str) -> Option<(char, &str)> {
    let mut t = s.trim().trim_matches('$').trim();
    for _ in 0..4 {
        match unwrap_once(t) {
            Some(inner) => t = inner,
            None => break,
        }
    }
    let lower = t.to_ascii_lowercase();
    for prefix in [
        "the answer is",
        "the correct answer is",
        "answer:",
        "answer is",
        "option",
        "choice",
    ] {
        if lower.starts_with(prefix) {
            t = t[prefix.len()..].trim_start_matches([' ', ':']);
            break;
        }
    }
    let mut chars = t.char_indices();
    let (paren, (at, letter)) = match chars.next()? {
        (_, '(') => (true, chars.next()?),
        first => (false, first),
    };
    if !letter.is_ascii_uppercase() {
        return None;
    }
    let rest = &t[at + 1..];
    let rest = if paren {
        rest.strip_prefix(')')?
    } else if rest.is_empty() {
        rest
    } else {
        rest.strip_prefix(['.', ':', ')'])?
    };
    Some((letter, rest.trim().trim_end_matches('.').trim()))
}

/// The words of a normalized answer, as byte ranges: runs of two or more ASCII letters outside
/// a LaTeX command (`\\sqrt` is no word; `cm` and `the` are).
fn words(s: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            let command = b[i] == b'\\';
            let start = if command { i + 1 } else { i };
            let mut end = start;
            while end < b.len() && b[end].is_ascii_alphabetic() {
                end += 1;
            }
            i = end.max(i + 1);
            if !command && end - start >= 2 {
                return Some(start..end);
            }
        }
        None
    })
}

/// Whether a normalized answer holds a word (see [`words`]; unlike `math::normalize`'s
/// whole-word search for one given word).
fn has_letter_run(s: &str) -> bool {
    words(s).next().is_some()
}

/// The text after the last word of a normalized answer (`the measure is 2\sqrt{3}` →
/// `2\sqrt{3}`).
fn after_last_word(s: &str) -> &str {
    let cut = words(s).last().map_or(0, |w| w.end);
    s[cut..].trim_start_matches([' ', ':', ',']).trim()
}

/// A parsed answer and the normalized text it came from.
struct Parsed {
    expr: Option<Expr>,
    text: String,
}

/// Parses a gold answer as stored.
fn parse_gold(gold: &str) -> Parsed {
    let text = normalize_geo_answer(gold);
    Parsed {
        expr: math::parse_latex(&text),
        text,
    }
}

/// Parses a predicted answer string (already cut out of the response).
fn parse_prediction(candidate: &str, gold_has_eq: bool) -> Parsed {
    let mut text = normalize_geo_answer(candidate);
    // `12\pi \approx 37.7`: the exact part; `m\angle ABC = 40`: the value.
    if let Some(pos) = text.find("\\approx") {
        if pos > 0 {
            text.truncate(pos);
        }
    }
    if !gold_has_eq {
        if let Some(pos) = text.rfind('=') {
            if pos + 1 < text.len() {
                text = text[pos + 1..].trim().to_string();
            }
        }
    }
    let text = normalize_geo_answer(&text);
    if !has_letter_run(&text) {
        return Parsed {
            expr: math::parse_latex(&text),
            text,
        };
    }
    // Prose: the value after the last word, else Math-Verify's extraction from the text.
    let after = normalize_geo_answer(after_last_word(&text));
    if !after.is_empty() {
        if let Some(expr) = math::parse_latex(&after) {
            return Parsed {
                expr: Some(expr),
                text: after,
            };
        }
    }
    match math::extract(&text) {
        Some(a) => Parsed {
            expr: a.expr,
            text: a.raw,
        },
        None => Parsed { expr: None, text },
    }
}

/// Whether `e` contains a number written with a decimal point.
fn has_decimal(e: &Expr) -> bool {
    let mut found = false;
    e.visit(&mut |n| {
        if let Expr::Num(Number { float: true, .. }) = n {
            found = true;
        }
    });
    found
}

/// Number of digits after the decimal point of a decimal literal (`374.10` → 2).
fn decimals_of(text: &str) -> usize {
    match text.find('.') {
        Some(p) => text[p + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count()
            .min(MAX_GOLD_DECIMALS),
        None => 0,
    }
}

/// `|pred − gold| ≤ ½·10^−decimals`, exactly.
fn rounds_to(pred: &BigRational, gold: &BigRational, decimals: usize) -> bool {
    let scale = num_traits::pow(BigInt::from(10), decimals);
    let diff = (pred - gold).abs() * BigRational::from_integer(scale * 2);
    diff <= BigRational::from_integer(BigInt::from(1))
}

/// Whether a parsed prediction answers a parsed gold (both already normalized).
fn values_match(gold: &Parsed, pred: &Parsed) -> bool {
    let Some(g) = &gold.expr else {
        // A gold the parser cannot read: the normalized texts must agree.
        return !gold.text.is_empty() && gold.text == pred.text;
    };
    let Some(p) = &pred.expr else {
        return false;
    };
    if let Expr::Num(n) = g {
        if n.float {
            // Decimal gold: rounding tolerance at the gold's last place.
            return match math::real_value(p) {
                Some(v) => rounds_to(&v, &n.value, decimals_of(&gold.text)),
                None => math::equivalent(g, p, &CompareConfig::default()),
            };
        }
    }
    let cfg = if has_decimal(g) {
        CompareConfig::default()
    } else {
        CompareConfig {
            float_rounding: EXACT_GOLD_DECIMALS,
            ..CompareConfig::default()
        }
    };
    math::equivalent(g, p, &cfg) || (!gold.text.is_empty() && gold.text == pred.text)
}

/// A choice's value, without a leading letter label (`A. 70`, `(A) 70`).
fn choice_value(choice: &str) -> &str {
    match choice_letter(choice) {
        Some((_, rest)) if !rest.is_empty() => rest,
        _ => choice,
    }
}

/// The gold as a choice index (if it is multiple choice) and as a value.
fn resolve_gold<'a>(answer: &'a str, choices: &'a [String]) -> (Option<usize>, Option<Parsed>) {
    let strict_letter = choice_letter(answer).and_then(|(l, rest)| rest.is_empty().then_some(l));
    if let Some(letter) = strict_letter {
        let index = (letter as u8 - b'A') as usize;
        if choices.is_empty() {
            return (Some(index), None);
        }
        if let Some(choice) = choices.get(index) {
            return (Some(index), Some(parse_gold(choice_value(choice))));
        }
        return (Some(index), None);
    }
    let gold = parse_gold(answer);
    let index = choices
        .iter()
        .position(|c| values_match(&gold, &parse_gold(choice_value(c))));
    (index, Some(gold))
}

/// Whether the answer string `pred` (bare, boxed or `$`-wrapped, or a response with an
/// `<answer>` part) answers `gold` against `choices` (empty for free-form answers).
fn matches_answer(pred: &str, gold: &str, choices: &[String]) -> bool {
    let pred = tail(pred);
    let gold = tail(gold);
    let candidate = answer_candidate(answer_span(pred).unwrap_or(pred));
    let (gold_index, gold_value) = resolve_gold(gold, choices);
    if let Some(gold_index) = gold_index {
        if let Some((letter, _)) = choice_letter(candidate) {
            // A letter is judged as a letter, whatever value follows it.
            return (letter as u8 - b'A') as usize == gold_index;
        }
    }
    let Some(gold_value) = gold_value else {
        return false;
    };
    let gold_has_eq = gold_value.text.contains('=');
    values_match(&gold_value, &parse_prediction(candidate, gold_has_eq))
}

/// Whether the predicted answer `pred` (bare, `\boxed{}` or `$`-wrapped) states the gold answer
/// `gold` (as stored in Geometry3K / GeoQA), after [`normalize_geo_answer`] on both and with the
/// module's tolerance policy. A gold choice letter accepts the letter in any usual form.
///
/// ```
/// use lmmr1_rewards::geometry::geo_equivalent;
///
/// assert!(geo_equivalent("\\boxed{2\\sqrt{221}}", "2 \\sqrt { 221 }"));
/// assert!(geo_equivalent("120 degrees", "120"));
/// assert!(geo_equivalent("\\boxed{(B)}", "B"));
/// assert!(geo_equivalent("374.12", "374.1"));
/// assert!(!geo_equivalent("37.7", "12 \\pi"));
/// ```
pub fn geo_equivalent(pred: &str, gold: &str) -> bool {
    matches_answer(pred, gold, &[])
}

/// [`geo_equivalent`] for a multiple-choice problem: `gold` is the gold letter or the gold
/// value, `choices` the choice values in letter order. A predicted letter is right only when it
/// is the gold letter; a predicted value is compared with the gold choice's value.
///
/// ```
/// use lmmr1_rewards::geometry::geo_choice_equivalent;
///
/// let choices = ["60".to_string(), "70".to_string(), "80".to_string(), "90".to_string()];
/// assert!(geo_choice_equivalent("B. 70", "B", &choices));
/// assert!(geo_choice_equivalent("70^\\circ", "B", &choices));
/// assert!(!geo_choice_equivalent("C", "B", &choices));
/// assert!(geo_choice_equivalent("(B)", "70", &choices));
/// ```
pub fn geo_choice_equivalent(pred: &str, gold: &str, choices: &[String]) -> bool {
    matches_answer(pred, gold, choices)
}

/// Accuracy only (1.0 or 0.0): whether `response` answers the task.
///
/// The answer is read from the last `<answer>…</answer>` part (its last `\boxed{}`, else its
/// last `$…$`, else its text). A response without an `<answer>` tag is read as LMM-R1 reads it:
/// only a `\boxed{}` or anchored LaTeX answer counts (a stray number in the reasoning does not).
pub fn geo_accuracy(response: &str, answer: &str, choices: &[String]) -> f64 {
    let response = tail(response);
    let right = if answer_span(response).is_some() {
        matches_answer(response, answer, choices)
    } else {
        let mapped = map_symbols(response);
        match math::extract_with(&mapped, &lmm_r1::prediction_config()) {
            Some(a) if !a.raw.trim().is_empty() => {
                let boxed = format!("\\boxed{{{}}}", a.raw);
                matches_answer(&boxed, answer, choices)
            }
            _ => false,
        }
    };
    if right {
        1.0
    } else {
        0.0
    }
}

/// The geometry reward for one response: 0.5 for LMM-R1's exact format plus
/// [`geo_accuracy`]. End-of-turn markers are removed and whitespace stripped first, as in
/// [`lmm_r1::math_reward`].
///
/// ```
/// use lmmr1_rewards::geometry::geo_reward;
///
/// let s = geo_reward("<think>...</think><answer>\\boxed{40°}</answer>", "40", &[]);
/// assert_eq!((s.format, s.accuracy, s.total), (0.5, 1.0, 1.5));
/// ```
pub fn geo_reward(response: &str, answer: &str, choices: &[String]) -> MathScore {
    let response = lmm_r1::clean_response(response);
    let format = if format::r1(&response) { 0.5 } else { 0.0 };
    let accuracy = geo_accuracy(&response, answer, choices);
    MathScore {
        format,
        accuracy,
        total: format + accuracy,
    }
}

/// The geometry reward as a [`Reward`] (LMM-R1's layout: components `format` and `accuracy`,
/// like [`lmm_r1::MathReward`]).
///
/// ```
/// use lmmr1_rewards::geometry::{GeoReward, GeoTask};
/// use lmmr1_rewards::Reward;
///
/// let task = GeoTask::with_choices("B", ["60", "70", "80", "90"]);
/// let score = GeoReward.score("<think>..</think><answer>\\boxed{B}</answer>", &task);
/// assert_eq!(score.total, 1.5);
/// assert_eq!(score.component("accuracy"), Some(1.0));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct GeoReward;

impl Reward for GeoReward {
    type Task = GeoTask;

    fn name(&self) -> &str {
        "lmm_r1_geo"
    }

    fn score(&self, response: &str, task: &GeoTask) -> Score {
        let s = geo_reward(response, &task.answer, &task.choices);
        Score::new(s.total)
            .with("format", s.format)
            .with("accuracy", s.accuracy)
    }
}
