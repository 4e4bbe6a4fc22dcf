//! The problem generator: answers checked by an independent evaluation of the question text,
//! every solution step checked, demonstrations scored by LMM-R1's reward.

use std::collections::{HashMap, HashSet};

use lmmr1_rewards::lmm_r1::math_reward;
use lmmr1_tasks::generator::{self, demonstration, generate, Kind, Problem};
use lmmr1_tasks::rng::SplitMix64;

/// An exact rational `n/d`, `d > 0`, in lowest terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Q(i128, i128);

impl Q {
    fn new(n: i128, d: i128) -> Q {
        assert_ne!(d, 0, "division by zero");
        let g = gcd(n, d).max(1) * d.signum();
        Q(n / g, d / g)
    }
    fn int(n: i128) -> Q {
        Q(n, 1)
    }
    fn add(self, o: Q) -> Q {
        Q::new(self.0 * o.1 + o.0 * self.1, self.1 * o.1)
    }
    fn sub(self, o: Q) -> Q {
        Q::new(self.0 * o.1 - o.0 * self.1, self.1 * o.1)
    }
    fn mul(self, o: Q) -> Q {
        Q::new(self.0 * o.0, self.1 * o.1)
    }
    fn div(self, o: Q) -> Q {
        Q::new(self.0 * o.1, self.1 * o.0)
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

/// Evaluates `+ - * /` over non-negative integers with the usual precedence, left to right.
fn eval(expr: &str) -> Q {
    let mut terms = vec![];
    let mut ops = vec![];
    let mut num = String::new();
    for ch in expr.chars().chain(std::iter::once('+')) {
        if ch.is_ascii_digit() {
            num.push(ch);
        } else {
            assert!("+-*/".contains(ch), "unexpected {ch:?} in {expr:?}");
            terms.push(Q::int(
                num.parse()
                    .unwrap_or_else(|_| panic!("bad number in {expr:?}")),
            ));
            num.clear();
            ops.push(ch);
        }
    }
    // Fold * and / first.
    let mut sums = vec![terms[0]];
    let mut signs = vec!['+'];
    for (i, &op) in ops[..ops.len() - 1].iter().enumerate() {
        let t = terms[i + 1];
        match op {
            '*' => *sums.last_mut().unwrap() = sums.last().unwrap().mul(t),
            '/' => *sums.last_mut().unwrap() = sums.last().unwrap().div(t),
            _ => {
                sums.push(t);
                signs.push(op);
            }
        }
    }
    sums.iter().zip(signs).fold(
        Q::int(0),
        |acc, (&t, s)| if s == '+' { acc.add(t) } else { acc.sub(t) },
    )
}

fn numbers(text: &str) -> Vec<i128> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

/// The answer computed from the question text alone.
fn solve_question(q: &str) -> Q {
    if let Some(expr) = q.strip_prefix("What is ").and_then(|r| r.strip_suffix('?')) {
        return eval(expr);
    }
    if let Some(eq) = q.strip_prefix("Solve ").and_then(|r| r.strip_suffix('.')) {
        let (lhs, rhs) = eq.split_once('=').unwrap();
        let (a, rest) = lhs.split_once('x').unwrap();
        let (a, c) = (Q::int(a.parse().unwrap()), Q::int(rhs.parse().unwrap()));
        let b = Q::int(rest[1..].parse().unwrap());
        // a*x ± b = c.
        return if rest.starts_with('+') {
            c.sub(b)
        } else {
            c.add(b)
        }
        .div(a);
    }
    let n = numbers(q);
    let n: Vec<Q> = n.into_iter().map(Q::int).collect();
    if q.contains("buys") && q.contains("gives away") {
        n[0].add(n[1]).sub(n[2])
    } else if q.contains("buys") && q.contains("more") {
        n[0].add(n[1])
    } else if q.contains("gives away") {
        n[0].sub(n[1])
    } else if q.contains("bags of") {
        n[0].mul(n[1])
    } else if q.contains("equally among") {
        n[0].div(n[1])
    } else {
        panic!("unknown question form: {q}")
    }
}

/// `68`, `-3` or `\frac{p}{q}`.
fn parse_answer(a: &str) -> Q {
    if let Some(rest) = a.strip_prefix("\\frac{") {
        let (p, q) = rest.strip_suffix('}').unwrap().split_once("}{").unwrap();
        let (p, q): (i128, i128) = (p.parse().unwrap(), q.parse().unwrap());
        assert_eq!(gcd(p, q), 1, "fraction answer not reduced: {a}");
        assert!(q > 1, "fraction with denominator 1: {a}");
        Q::new(p, q)
    } else {
        Q::int(a.parse().unwrap_or_else(|_| panic!("bad answer {a:?}")))
    }
}

/// Checks every `=`-chain of the solution (terms with `x` evaluated at the answer) and that
/// the last term is the answer.
fn check_solution(p: &Problem, answer: Q) {
    let mut last = None;
    for segment in p.solution.split(',') {
        let values: Vec<Q> = segment
            .split('=')
            .map(|term| match term.strip_suffix('x') {
                Some("") => answer,
                Some(k) => Q::int(k.parse().unwrap()).mul(answer),
                None => eval(term),
            })
            .collect();
        assert!(values.len() >= 2, "step without '=': {segment} in {p:?}");
        assert!(
            values.windows(2).all(|w| w[0] == w[1]),
            "false step {segment} in {p:?}"
        );
        last = values.last().copied();
    }
    assert_eq!(
        last,
        Some(answer),
        "solution does not end at the answer: {p:?}"
    );
    assert!(!p.solution.ends_with('x'), "{p:?}");
}

fn level_problems(level: u8, n: u64) -> Vec<Problem> {
    (0..n)
        .map(|seed| generate(level, &mut SplitMix64::new(seed)))
        .collect()
}

#[test]
fn every_answer_matches_an_independent_evaluation_and_every_step_is_exact() {
    for level in 1..=generator::MAX_DIFFICULTY {
        let mut kinds = HashSet::new();
        for p in level_problems(level, 1500) {
            assert_eq!(p.difficulty, level);
            let answer = parse_answer(&p.answer);
            assert_eq!(solve_question(&p.question), answer, "{p:?}");
            check_solution(&p, answer);
            assert!(answer.0 >= 0, "negative answer: {p:?}");
            kinds.insert(p.kind);
        }
        let expected: &[Kind] = match level {
            1 | 2 => &[Kind::Add, Kind::Sub],
            3 => &[Kind::Mul, Kind::AddSub],
            4 => &[Kind::Linear],
            5 => &[
                Kind::WordAdd,
                Kind::WordSub,
                Kind::WordMul,
                Kind::WordDiv,
                Kind::WordTwoStep,
            ],
            _ => &[
                Kind::FracAdd,
                Kind::FracSub,
                Kind::FracMul,
                Kind::LinearFrac,
            ],
        };
        assert_eq!(kinds, expected.iter().copied().collect(), "level {level}");
    }
}

#[test]
fn levels_are_graded() {
    for p in level_problems(1, 500) {
        assert!(numbers(&p.question).iter().all(|&n| n <= 9), "{p:?}");
    }
    for p in level_problems(2, 500) {
        let n = numbers(&p.question);
        assert!(n.iter().all(|&v| (10..=99).contains(&v)), "{p:?}");
        let (ao, bo) = (n[0] % 10, n[1] % 10);
        match p.kind {
            Kind::Add => assert!(ao + bo >= 10, "no carry: {p:?}"),
            _ => assert!(ao < bo && n[0] > n[1], "no borrow: {p:?}"),
        }
    }
    for p in level_problems(4, 500) {
        assert!(!p.answer.contains("frac"), "{p:?}");
    }
    for p in level_problems(6, 500) {
        if p.kind == Kind::LinearFrac {
            assert!(p.answer.starts_with("\\frac"), "{p:?}");
        }
    }
    let frac_share = level_problems(6, 500)
        .iter()
        .filter(|p| p.answer.contains("frac"))
        .count();
    assert!(
        frac_share > 300,
        "level 6 is mostly fractional answers: {frac_share}/500"
    );
}

#[test]
fn demonstrations_earn_the_full_reward_and_wrong_answers_earn_no_accuracy() {
    for level in 1..=generator::MAX_DIFFICULTY {
        for p in level_problems(level, 1000) {
            let demo = demonstration(&p);
            assert_eq!(
                demo,
                format!(
                    "<think>{}</think><answer>${}$</answer>",
                    p.solution, p.answer
                )
            );
            let s = math_reward(&demo, &p.answer);
            assert_eq!((s.format, s.accuracy, s.total), (0.5, 1.0, 1.5), "{demo}");

            // Off by one (numerator + 1 for fractions): right format, wrong answer.
            let q = parse_answer(&p.answer);
            let wrong = Q::new(q.0 + q.1, q.1);
            let wrong = if wrong.1 == 1 {
                wrong.0.to_string()
            } else {
                format!("\\frac{{{}}}{{{}}}", wrong.0, wrong.1)
            };
            let bad = format!("<think>{}</think><answer>${wrong}$</answer>", p.solution);
            let s = math_reward(&bad, &p.answer);
            assert_eq!(
                (s.format, s.accuracy),
                (0.5, 0.0),
                "{bad} vs gold {}",
                p.answer
            );
        }
    }
}

#[test]
fn generation_is_deterministic_in_the_seed() {
    for level in 1..=generator::MAX_DIFFICULTY {
        let a = level_problems(level, 50);
        assert_eq!(a, level_problems(level, 50));
        let distinct: HashSet<&str> = a.iter().map(|p| p.question.as_str()).collect();
        assert!(
            distinct.len() > 20,
            "level {level}: only {} distinct",
            distinct.len()
        );
    }
    let a = generator::problems(200, &generator::ALL_LEVELS, 3).unwrap();
    assert_eq!(
        a,
        generator::problems(200, &generator::ALL_LEVELS, 3).unwrap()
    );
    assert_ne!(
        a,
        generator::problems(200, &generator::ALL_LEVELS, 4).unwrap()
    );
    let d = generator::dataset(20, &generator::ALL_LEVELS, 3).unwrap();
    assert_eq!(d.samples[0].id, "gen3-0");
    assert_eq!(d.samples[5].question_text(), a[5].question);
    assert_eq!(d.samples[5].answer, a[5].answer);
    assert_eq!(
        d.samples[5].datasource.as_deref(),
        Some(format!("generated/level{}", a[5].difficulty).as_str())
    );
}

#[test]
fn the_difficulty_mix_sets_the_level_proportions() {
    let n = 6000;
    let ps = generator::problems(n, &[(1, 1.0), (4, 2.0), (6, 3.0)], 11).unwrap();
    let mut counts: HashMap<u8, usize> = HashMap::new();
    for p in &ps {
        *counts.entry(p.difficulty).or_default() += 1;
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
    for (level, p) in [(1u8, 1.0 / 6.0), (4, 2.0 / 6.0), (6, 3.0 / 6.0)] {
        let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
        let c = counts[&level] as f64;
        assert!((c - mean).abs() < 5.0 * sd, "level {level}: {c} vs {mean}");
    }
}

#[test]
fn invalid_difficulty_mixes_are_errors() {
    assert!(generator::problems(1, &[], 0).is_err());
    assert!(generator::problems(1, &[(0, 1.0)], 0).is_err());
    assert!(generator::problems(1, &[(7, 1.0)], 0).is_err());
    assert!(generator::problems(1, &[(1, -1.0)], 0).is_err());
    assert!(generator::problems(1, &[(1, 0.0), (2, 0.0)], 0).is_err());
    // Out-of-range levels passed to `generate` directly are clamped.
    assert_eq!(generate(0, &mut SplitMix64::new(1)).difficulty, 1);
    assert_eq!(generate(9, &mut SplitMix64::new(1)).difficulty, 6);
}

#[test]
fn train_and_held_out_share_no_question() {
    let (train, held) = generator::train_and_held_out(500, 100, &generator::ALL_LEVELS, 2).unwrap();
    assert_eq!((train.len(), held.len()), (500, 100));
    let held_q: HashSet<String> = held.samples.iter().map(|s| s.question_text()).collect();
    assert_eq!(held_q.len(), 100, "held-out questions are distinct");
    assert!(train
        .samples
        .iter()
        .all(|s| !held_q.contains(&s.question_text())));

    // Level 1 has 100 sums and 55 differences: 155 distinct questions at most.
    assert!(generator::train_and_held_out(0, 155, &[(1, 1.0)], 0).is_ok());
    let err = generator::train_and_held_out(0, 156, &[(1, 1.0)], 0).unwrap_err();
    assert!(
        err.to_string().contains("only 155 distinct questions"),
        "{err}"
    );
    // Every question held out: nothing is left to train on.
    let err = generator::train_and_held_out(10, 155, &[(1, 1.0)], 0).unwrap_err();
    assert!(err.to_string().contains("uses up"), "{err}");
}

#[test]
fn problems_are_short_with_a_small_vocabulary() {
    let ps = generator::problems(3000, &generator::ALL_LEVELS, 5).unwrap();
    let mut words = HashSet::new();
    for p in &ps {
        assert!(p.question.len() <= 100, "{}", p.question);
        assert!(demonstration(p).len() <= 90, "{}", demonstration(p));
        for w in p.question.split(|c: char| !c.is_ascii_alphabetic()) {
            if !w.is_empty() {
                words.insert(w.to_string());
            }
        }
    }
    assert!(words.len() <= 60, "{} words: {words:?}", words.len());
}
