//! Seeded arithmetic and algebra problems with exact answers and short worked solutions, graded
//! in difficulty: the default FRE-Text data, sized for a tiny policy.
//!
//! | level | kinds | example |
//! |---|---|---|
//! | 1 | one-digit `a+b`, `a-b` (`a >= b`) | `What is 7+5?` |
//! | 2 | two-digit `+` with a carry, `-` with a borrow | `What is 47+38?` |
//! | 3 | one-digit `a*b`; two steps `a+b-c` | `What is 8+5-6?` |
//! | 4 | linear equations with integer solutions | `Solve 3x+2=11.` |
//! | 5 | templated word problems (`+ - * /`, two steps) | `Tom has 7 apples and buys 5 more. …` |
//! | 6 | fractions `+ - *`; linear equations with fractional solutions | `What is 1/2+1/3?` |
//!
//! Answers are plain (`68`, `\frac{5}{6}`): LMM-R1's reward wraps the gold in `$…$`, and a
//! response answering `$68$` (as [`demonstration`] does) scores accuracy 1. Every chain
//! `lhs=…=rhs` in a solution is an exact equality (the steps are checkable).

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::rng::SplitMix64;
use crate::sample::Sample;

/// The highest difficulty level.
pub const MAX_DIFFICULTY: u8 = 6;

/// Every level with equal weight.
pub const ALL_LEVELS: [(u8, f64); 6] = [(1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0), (5, 1.0), (6, 1.0)];

/// The kind of a generated problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `a+b` (levels 1 and 2).
    Add,
    /// `a-b` (levels 1 and 2).
    Sub,
    /// `a*b` (level 3).
    Mul,
    /// `a+b-c` (level 3).
    AddSub,
    /// `ax+b=c` or `ax-b=c` with an integer solution (level 4).
    Linear,
    /// "has a and buys b more" (level 5).
    WordAdd,
    /// "has a and gives away b" (level 5).
    WordSub,
    /// "buys a bags of b" (level 5).
    WordMul,
    /// "shares c equally among b friends" (level 5).
    WordDiv,
    /// "has a, buys b more and gives away c" (level 5).
    WordTwoStep,
    /// `a/b+c/d` (level 6).
    FracAdd,
    /// `a/b-c/d`, positive (level 6).
    FracSub,
    /// `a/b*c/d` (level 6).
    FracMul,
    /// `ax+b=c` with a fractional solution (level 6).
    LinearFrac,
}

/// A generated problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The question text.
    pub question: String,
    /// The exact answer: an integer (`68`) or a reduced fraction (`\frac{5}{6}`).
    pub answer: String,
    /// Short worked steps, e.g. `47+38=47+30+8=77+8=85`.
    pub solution: String,
    /// The level, 1..=[`MAX_DIFFICULTY`].
    pub difficulty: u8,
    /// What kind of problem it is.
    pub kind: Kind,
}

impl Problem {
    /// The problem as a single-user-turn [`Sample`] with datasource `generated/level{d}`.
    pub fn to_sample(&self, id: &str) -> Sample {
        let mut s = Sample::text(id, &self.question, &self.answer);
        s.datasource = Some(format!("generated/level{}", self.difficulty));
        s
    }
}

/// The supervised target for `p` in LMM-R1's format:
/// `<think>{solution}</think><answer>${answer}$</answer>` (no whitespace between the tags; the
/// answer in `$…$`, which LMM-R1's reward needs to extract it).
///
/// ```
/// use lmmr1_tasks::{generator, rng::SplitMix64};
/// let p = generator::generate(2, &mut SplitMix64::new(1));
/// let s = lmmr1_rewards::lmm_r1::math_reward(&generator::demonstration(&p), &p.answer);
/// assert_eq!(s.total, 1.5);
/// ```
pub fn demonstration(p: &Problem) -> String {
    format!(
        "<think>{}</think><answer>${}$</answer>",
        p.solution, p.answer
    )
}

/// One problem of level `difficulty` (clamped to 1..=[`MAX_DIFFICULTY`]), drawn from `rng`.
pub fn generate(difficulty: u8, rng: &mut SplitMix64) -> Problem {
    let difficulty = difficulty.clamp(1, MAX_DIFFICULTY);
    let (kind, question, answer, solution) = match difficulty {
        1 => one_digit(rng),
        2 => two_digit(rng),
        3 => times_or_two_steps(rng),
        4 => linear(rng),
        5 => word(rng),
        _ => fractions(rng),
    };
    Problem {
        question,
        answer,
        solution,
        difficulty,
        kind,
    }
}

/// `n` problems, each level drawn from `difficulty_mix` (`(level, weight)` pairs), all from
/// one stream seeded by `seed`.
pub fn problems(n: usize, difficulty_mix: &[(u8, f64)], seed: u64) -> Result<Vec<Problem>> {
    let weights = check_mix(difficulty_mix)?;
    let mut rng = SplitMix64::new(seed);
    Ok((0..n)
        .map(|_| {
            let level = difficulty_mix[rng.weighted(&weights)].0;
            generate(level, &mut rng)
        })
        .collect())
}

/// `n` generated problems as a [`Dataset`] (ids `gen{seed}-{i}`, source `generated`).
///
/// ```
/// let data = lmmr1_tasks::generator::dataset(100, &[(1, 3.0), (4, 1.0)], 7)?;
/// assert_eq!(data.len(), 100);
/// # Ok::<(), lmmr1_tasks::Error>(())
/// ```
pub fn dataset(n: usize, difficulty_mix: &[(u8, f64)], seed: u64) -> Result<Dataset> {
    let samples = problems(n, difficulty_mix, seed)?
        .iter()
        .enumerate()
        .map(|(i, p)| p.to_sample(&format!("gen{seed}-{i}")))
        .collect();
    Ok(Dataset::new("generated", samples))
}

/// A training set and a held-out set whose questions never occur in the training set: the
/// held-out set takes `n_held_out` distinct questions first, then the training set takes
/// `n_train` problems (repeats allowed) skipping those questions. Errors when the mix has too
/// few distinct questions for that (level 1 has 155).
pub fn train_and_held_out(
    n_train: usize,
    n_held_out: usize,
    difficulty_mix: &[(u8, f64)],
    seed: u64,
) -> Result<(Dataset, Dataset)> {
    let weights = check_mix(difficulty_mix)?;
    let mut rng = SplitMix64::new(seed);
    let draw = |rng: &mut SplitMix64| {
        let level = difficulty_mix[rng.weighted(&weights)].0;
        generate(level, rng)
    };
    let mut held = Vec::with_capacity(n_held_out);
    let mut held_questions = std::collections::HashSet::new();
    let mut attempts = 0usize;
    while held.len() < n_held_out {
        attempts += 1;
        if attempts > 1000 + 100 * n_held_out {
            return Err(Error::Invalid(format!(
                "the difficulty mix gave only {} distinct questions for a held-out set of {n_held_out}",
                held.len()
            )));
        }
        let p = draw(&mut rng);
        if held_questions.insert(p.question.clone()) {
            held.push(p.to_sample(&format!("gen{seed}-held{}", held.len())));
        }
    }
    let mut train = Vec::with_capacity(n_train);
    attempts = 0;
    while train.len() < n_train {
        attempts += 1;
        if attempts > 1000 + 100 * n_train {
            return Err(Error::Invalid(
                "the held-out set uses up nearly every question of the difficulty mix".into(),
            ));
        }
        let p = draw(&mut rng);
        if !held_questions.contains(&p.question) {
            train.push(p.to_sample(&format!("gen{seed}-{}", train.len())));
        }
    }
    Ok((
        Dataset::new("generated", train),
        Dataset::new("generated/held-out", held),
    ))
}

/// The weights of a valid mix: non-empty, levels in 1..=6, weights finite, >= 0, not all 0.
fn check_mix(mix: &[(u8, f64)]) -> Result<Vec<f64>> {
    if mix.is_empty() {
        return Err(Error::Invalid("the difficulty mix is empty".into()));
    }
    for &(level, w) in mix {
        if !(1..=MAX_DIFFICULTY).contains(&level) {
            return Err(Error::Invalid(format!(
                "difficulty level {level} is outside 1..={MAX_DIFFICULTY}"
            )));
        }
        if !w.is_finite() || w < 0.0 {
            return Err(Error::Invalid(format!(
                "difficulty weight of level {level} must be finite and >= 0, got {w}"
            )));
        }
    }
    let weights: Vec<f64> = mix.iter().map(|&(_, w)| w).collect();
    if weights.iter().sum::<f64>() <= 0.0 {
        return Err(Error::Invalid("difficulty weights are all zero".into()));
    }
    Ok(weights)
}

type Parts = (Kind, String, String, String);

fn what_is(expr: &str) -> String {
    format!("What is {expr}?")
}

fn one_digit(rng: &mut SplitMix64) -> Parts {
    let (a, b) = (rng.range(0, 9), rng.range(0, 9));
    if rng.coin() {
        let e = format!("{a}+{b}");
        (
            Kind::Add,
            what_is(&e),
            (a + b).to_string(),
            format!("{e}={}", a + b),
        )
    } else {
        let (a, b) = (a.max(b), a.min(b));
        let e = format!("{a}-{b}");
        (
            Kind::Sub,
            what_is(&e),
            (a - b).to_string(),
            format!("{e}={}", a - b),
        )
    }
}

/// Tens and ones of the second operand are added (taken) one after the other.
fn two_digit(rng: &mut SplitMix64) -> Parts {
    if rng.coin() {
        // Carry: the ones digits sum to 10 or more.
        let (ao, at, bt) = (rng.range(1, 9), rng.range(1, 9), rng.range(1, 9));
        let bo = rng.range(10 - ao, 9);
        let (a, b) = (10 * at + ao, 10 * bt + bo);
        let s = format!(
            "{a}+{b}={a}+{}+{bo}={}+{bo}={}",
            10 * bt,
            a + 10 * bt,
            a + b
        );
        (
            Kind::Add,
            what_is(&format!("{a}+{b}")),
            (a + b).to_string(),
            s,
        )
    } else {
        // Borrow: a's ones digit is below b's, a > b.
        let at = rng.range(2, 9);
        let bt = rng.range(1, at - 1);
        let ao = rng.range(0, 8);
        let bo = rng.range(ao + 1, 9);
        let (a, b) = (10 * at + ao, 10 * bt + bo);
        let s = format!(
            "{a}-{b}={a}-{}-{bo}={}-{bo}={}",
            10 * bt,
            a - 10 * bt,
            a - b
        );
        (
            Kind::Sub,
            what_is(&format!("{a}-{b}")),
            (a - b).to_string(),
            s,
        )
    }
}

fn times_or_two_steps(rng: &mut SplitMix64) -> Parts {
    if rng.coin() {
        let (a, b) = (rng.range(2, 9), rng.range(2, 9));
        let e = format!("{a}*{b}");
        (
            Kind::Mul,
            what_is(&e),
            (a * b).to_string(),
            format!("{e}={}", a * b),
        )
    } else {
        let (a, b) = (rng.range(1, 9), rng.range(1, 9));
        let c = rng.range(1, (a + b).min(9));
        let (s, r) = (a + b, a + b - c);
        let sol = format!("{a}+{b}={s},{s}-{c}={r}");
        (
            Kind::AddSub,
            what_is(&format!("{a}+{b}-{c}")),
            r.to_string(),
            sol,
        )
    }
}

fn linear(rng: &mut SplitMix64) -> Parts {
    let (a, x) = (rng.range(2, 9), rng.range(1, 10));
    let ax = a * x;
    let (question, first) = if rng.coin() {
        let b = rng.range(1, 9);
        let c = ax + b;
        (format!("Solve {a}x+{b}={c}."), format!("{a}x={c}-{b}={ax}"))
    } else {
        let b = rng.range(1, (ax - 1).min(9));
        let c = ax - b;
        (format!("Solve {a}x-{b}={c}."), format!("{a}x={c}+{b}={ax}"))
    };
    let sol = format!("{first},x={ax}/{a}={x}");
    (Kind::Linear, question, x.to_string(), sol)
}

const HE: [&str; 4] = ["Tom", "Sam", "Ben", "Max"];
const SHE: [&str; 4] = ["Ann", "Mia", "Eva", "Zoe"];
const ITEMS: [&str; 8] = [
    "apples", "pens", "books", "cards", "coins", "eggs", "balls", "cups",
];

fn word(rng: &mut SplitMix64) -> Parts {
    let (name, pronoun) = if rng.coin() {
        (HE[rng.below(4) as usize], "he")
    } else {
        (SHE[rng.below(4) as usize], "she")
    };
    let items = ITEMS[rng.below(ITEMS.len() as u64) as usize];
    match rng.below(5) {
        0 => {
            let (a, b) = (rng.range(2, 20), rng.range(2, 20));
            let q = format!(
                "{name} has {a} {items} and buys {b} more. How many {items} does {pronoun} have?"
            );
            (
                Kind::WordAdd,
                q,
                (a + b).to_string(),
                format!("{a}+{b}={}", a + b),
            )
        }
        1 => {
            let a = rng.range(5, 20);
            let b = rng.range(1, a - 1);
            let q =
                format!("{name} has {a} {items} and gives away {b}. How many {items} are left?");
            (
                Kind::WordSub,
                q,
                (a - b).to_string(),
                format!("{a}-{b}={}", a - b),
            )
        }
        2 => {
            let (a, b) = (rng.range(2, 9), rng.range(2, 9));
            let q = format!("{name} buys {a} bags of {b} {items}. How many {items} is that?");
            (
                Kind::WordMul,
                q,
                (a * b).to_string(),
                format!("{a}*{b}={}", a * b),
            )
        }
        3 => {
            let (b, each) = (rng.range(2, 9), rng.range(2, 9));
            let c = b * each;
            let q = format!(
                "{name} shares {c} {items} equally among {b} friends. How many {items} does each friend get?"
            );
            (
                Kind::WordDiv,
                q,
                each.to_string(),
                format!("{c}/{b}={each}"),
            )
        }
        _ => {
            let (a, b) = (rng.range(2, 15), rng.range(2, 15));
            let c = rng.range(1, a + b - 1);
            let (s, r) = (a + b, a + b - c);
            let q = format!(
                "{name} has {a} {items}, buys {b} more and gives away {c}. How many {items} are left?"
            );
            (
                Kind::WordTwoStep,
                q,
                r.to_string(),
                format!("{a}+{b}={s},{s}-{c}={r}"),
            )
        }
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

/// A proper fraction `n/d` in lowest terms with `d` in 2..=9.
fn proper_fraction(rng: &mut SplitMix64) -> (i64, i64) {
    let d = rng.range(2, 9);
    let n = rng.range(1, d - 1);
    let g = gcd(n, d);
    (n / g, d / g)
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

/// `={p'}/{q'}` (or `={p'}`) when `p/q` is not in lowest terms, else nothing.
fn reduce_step(p: i64, q: i64) -> String {
    let g = gcd(p, q);
    match (g, q / g) {
        (1, _) => String::new(),
        (_, 1) => format!("={}", p / g),
        (_, qr) => format!("={}/{qr}", p / g),
    }
}

fn fractions(rng: &mut SplitMix64) -> Parts {
    let ((a, b), (c, d)) = (proper_fraction(rng), proper_fraction(rng));
    match rng.below(4) {
        0 | 1 => {
            // a/b ± c/d over the least common denominator; a subtraction of equal fractions
            // becomes an addition, and the larger fraction goes first.
            let subtract = rng.below(2) == 1 && a * d != c * b;
            let ((a, b), (c, d)) = if subtract && a * d < c * b {
                ((c, d), (a, b))
            } else {
                ((a, b), (c, d))
            };
            let l = b / gcd(b, d) * d;
            let (x, y) = (a * (l / b), c * (l / d));
            let (op, kind, n) = if subtract {
                ('-', Kind::FracSub, x - y)
            } else {
                ('+', Kind::FracAdd, x + y)
            };
            let e = format!("{a}/{b}{op}{c}/{d}");
            let mut sol = e.clone();
            if b != l || d != l {
                sol.push_str(&format!("={x}/{l}{op}{y}/{l}"));
            }
            sol.push_str(&format!("={n}/{l}{}", reduce_step(n, l)));
            (kind, what_is(&e), latex_fraction(n, l), sol)
        }
        2 => {
            let (n, m) = (a * c, b * d);
            let e = format!("{a}/{b}*{c}/{d}");
            let sol = format!("{e}={n}/{m}{}", reduce_step(n, m));
            (Kind::FracMul, what_is(&e), latex_fraction(n, m), sol)
        }
        _ => {
            let a = rng.range(2, 9);
            let mut n = rng.range(1, 30);
            if n % a == 0 {
                n += 1;
            }
            let b = rng.range(1, 9);
            let c = n + b;
            let q = format!("Solve {a}x+{b}={c}.");
            let sol = format!("{a}x={c}-{b}={n},x={n}/{a}{}", reduce_step(n, a));
            (Kind::LinearFrac, q, latex_fraction(n, a), sol)
        }
    }
}
