//! Multiple choice as Geometry3K / GeoQA pose it: four lettered options around the answer.

use crate::generator::latex_fraction;
use crate::rng::SplitMix64;

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

/// `answer` with its leading number changed by `delta`: an integer `n` → `n+delta`,
/// `k\pi` → `(k+delta)\pi`, `c\sqrt{n}` → `(c+delta)\sqrt{n}`, `\frac{p}{q}` →
/// `\frac{p+delta}{q}` (reduced). `None` for other forms or when the number would drop
/// below 1 (for non-integers).
///
/// ```
/// use lmmr1_tasks::choices::shift_leading;
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
