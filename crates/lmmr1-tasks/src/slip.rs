//! The noisy teacher's slip and multiple-choice helpers shared by the visual task generators.

use crate::rng::SplitMix64;

/// A noisy teacher's version of a demonstration: the integer final answer written ten too high
/// (`<answer>$68$</answer>` → `<answer>$78$</answer>`); non-integer answers are left alone.
/// The same rule as `lmmr1_trainer::warm_start::with_answer_slip`.
///
/// ```
/// use lmmr1_tasks::slip_answer;
/// assert_eq!(slip_answer("<think>2+2=4</think><answer>$4$</answer>", "4"),
///            "<think>2+2=4</think><answer>$14$</answer>");
/// ```
pub fn slip_answer(demo: &str, answer: &str) -> String {
    match answer.parse::<i64>() {
        Ok(a) => demo.replace(
            &format!("<answer>${answer}$</answer>"),
            &format!("<answer>${}$</answer>", a + 10),
        ),
        Err(_) => demo.to_string(),
    }
}

/// `answer` with its leading number changed by `delta`: an integer `n` → `n+delta`,
/// `k\pi` → `(k+delta)\pi`, `c\sqrt{n}` → `(c+delta)\sqrt{n}`, `\frac{p}{q}` →
/// `\frac{p+delta}{q}` (reduced). `None` for other forms or when the number would drop
/// below 1 (for non-integers).
///
/// ```
/// use lmmr1_tasks::slip::shift_leading;
/// assert_eq!(shift_leading("6\\pi", 10).as_deref(), Some("16\\pi"));
/// assert_eq!(shift_leading("\\sqrt{13}", 10).as_deref(), Some("11\\sqrt{13}"));
/// assert_eq!(shift_leading("\\frac{133}{2}", 10).as_deref(), Some("\\frac{143}{2}"));
/// ```
pub fn shift_leading(answer: &str, delta: i64) -> Option<String> {
    if let Ok(n) = answer.parse::<i64>() {
        return Some((n + delta).to_string());
    }
    let coefficient = |s: &str| -> Option<i64> {
        if s.is_empty() {
            Some(1)
        } else {
            s.parse::<i64>().ok()
        }
    };
    let positive = |k: i64| (k >= 1).then_some(k);
    if let Some(k) = answer.strip_suffix("\\pi") {
        let k = positive(coefficient(k)? + delta)?;
        return Some(if k == 1 {
            "\\pi".into()
        } else {
            format!("{k}\\pi")
        });
    }
    if let Some(i) = answer.find("\\sqrt{") {
        let c = positive(coefficient(&answer[..i])? + delta)?;
        let rest = &answer[i..];
        return Some(if c == 1 {
            rest.to_string()
        } else {
            format!("{c}{rest}")
        });
    }
    let inner = answer.strip_prefix("\\frac{")?.strip_suffix('}')?;
    let (p, q) = inner.split_once("}{")?;
    let (p, q) = (
        positive(p.parse::<i64>().ok()? + delta)?,
        q.parse::<i64>().ok()?,
    );
    Some(latex_fraction(p, q))
}

/// The slip of [`shift_leading`] by +10 applied to the final answer of `demo` (integers as in
/// [`slip_answer`]; also `k\pi`, `c\sqrt{n}` and fractions); unchanged for other answers.
pub fn slip_leading(demo: &str, answer: &str) -> String {
    match shift_leading(answer, 10) {
        Some(s) => demo.replace(
            &format!("<answer>${answer}$</answer>"),
            &format!("<answer>${s}$</answer>"),
        ),
        None => demo.to_string(),
    }
}

/// Greatest common divisor (non-negative).
pub(crate) fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

/// `p/q` in LaTeX, reduced; an integer when the denominator is 1.
pub(crate) fn latex_fraction(p: i64, q: i64) -> String {
    let g = gcd(p, q).max(1);
    let (p, q) = (p / g, q / g);
    if q == 1 {
        p.to_string()
    } else {
        format!("\\frac{{{p}}}{{{q}}}")
    }
}

/// The letter of choice `i` (0 → `A`).
pub fn letter(i: usize) -> char {
    (b'A' + (i % 26) as u8) as char
}

/// A four-way multiple choice around `answer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    /// The options in letter order.
    pub options: Vec<String>,
    /// Index of the right option.
    pub correct: usize,
    /// Index of the option a slipped teacher picks: the answer's leading number +10.
    pub slipped: usize,
}

impl Choices {
    /// Four options: the answer, its +10 slip and two other shifts of its leading number
    /// (from −10, +20, −5, +5, +15, −2, +2, in a random order), shuffled. `None` when the answer's
    /// form cannot be shifted.
    pub fn around(answer: &str, rng: &mut SplitMix64) -> Option<Self> {
        let slip = shift_leading(answer, 10)?;
        let mut deltas = [-10, 20, -5, 5, 15, -2, 2];
        rng.shuffle(&mut deltas);
        let mut options = vec![answer.to_string(), slip];
        for d in deltas {
            if options.len() == 4 {
                break;
            }
            if let Some(o) = shift_leading(answer, d) {
                let non_negative = o.parse::<i64>().map_or(true, |v| v >= 0);
                if non_negative && !options.contains(&o) {
                    options.push(o);
                }
            }
        }
        if options.len() < 4 {
            return None;
        }
        let mut order = [0usize, 1, 2, 3];
        rng.shuffle(&mut order);
        let shuffled: Vec<String> = order.iter().map(|&i| options[i].clone()).collect();
        let correct = order.iter().position(|&i| i == 0)?;
        let slipped = order.iter().position(|&i| i == 1)?;
        Some(Self {
            options: shuffled,
            correct,
            slipped,
        })
    }

    /// The options as Geometry3K / GeoQA list them: `A. 30 B. 40 C. 50 D. 60`.
    pub fn listing(&self) -> String {
        self.options
            .iter()
            .enumerate()
            .map(|(i, o)| format!("{}. {o}", letter(i)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The demonstration and slipped responses for steps `solution` and a final `answer` (the
/// answer `$…$`-wrapped, LMM-R1's reward needs it): with `choices`, the answer is the right
/// letter and the slip the letter of the +10 option; without, the slip is [`slip_leading`].
pub fn responses(solution: &str, answer: &str, choices: Option<&Choices>) -> (String, String) {
    let respond = |a: &str| format!("<think>{solution}</think><answer>${a}$</answer>");
    match choices {
        Some(c) => (
            respond(&letter(c.correct).to_string()),
            respond(&letter(c.slipped).to_string()),
        ),
        None => {
            let demo = respond(answer);
            let slipped = slip_leading(&demo, answer);
            (demo, slipped)
        }
    }
}
