//! Robustness: thousands of generated and adversarial inputs must neither panic nor blow up.
//! (Latency is measured by `cargo bench --bench verify` and the `verify_throughput`
//! example, not asserted here.)

use lmmr1_rewards::{lmm_r1, math};

/// SplitMix64: a tiny deterministic generator so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "$",
    "$$",
    "\\[",
    "\\]",
    "\\(",
    "\\)",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\\{",
    "\\}",
    "\\boxed{",
    "\\fbox{",
    "\\frac",
    "\\dfrac{",
    "\\sqrt",
    "\\sqrt[",
    "^",
    "_",
    "!",
    "%",
    "\\%",
    "^\\circ",
    "+",
    "-",
    "*",
    "/",
    "=",
    "<",
    ">",
    "\\le",
    "\\ge",
    "\\ne",
    ",",
    ";",
    ".",
    " ",
    "\n",
    "\t",
    "\\",
    "\\\\",
    "&",
    "|",
    "0",
    "1",
    "7",
    "42",
    "3.14",
    "1,000",
    "10^{10^{10}}",
    "1000!!",
    "9^{9^{9}}",
    "\\pi",
    "e",
    "i",
    "x",
    "y",
    "\\text{",
    "\\mathrm{",
    "cm",
    "degrees",
    "percent",
    "\\infty",
    "\\cup",
    "\\in",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "\\left(",
    "\\right)",
    "\\pm",
    "and",
    "or",
    "answer",
    "Answer:",
    "final answer is",
    "I hope",
    "\\log_",
    "\\ln",
    "\\sin",
    "\\binom",
    "é",
    "π",
    "√",
    "°",
    "∞",
    "×",
    "÷",
    "\u{0}",
    "\u{feff}",
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
];

fn random_input(rng: &mut Rng, max_pieces: usize) -> String {
    let n = rng.below(max_pieces) + 1;
    (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect()
}

#[test]
fn random_inputs_never_panic() {
    let mut rng = Rng(0x5eed);
    let mut equal = 0usize;
    for i in 0..5_000 {
        let gold = random_input(&mut rng, 12);
        let pred = if i % 3 == 0 {
            gold.clone()
        } else {
            random_input(&mut rng, 40)
        };
        let v = math::verify(&gold, &pred);
        equal += usize::from(v);
        let _ = math::extract(&pred);
        let s = lmm_r1::math_reward(&pred, &gold);
        assert!(s.total == s.format + s.accuracy);
        assert!(matches!(s.format, 0.0 | 0.5) && matches!(s.accuracy, 0.0 | 1.0));
    }
    // The corpus is not degenerate: identical pairs often verify.
    assert!(equal > 100, "only {equal} of 5000 generated pairs verified");
}

#[test]
fn identical_answers_verify() {
    let mut rng = Rng(7);
    let atoms = [
        "1",
        "2",
        "x",
        "\\pi",
        "\\sqrt{2}",
        "\\frac{3}{4}",
        "y",
        "0.5",
    ];
    let ops = ["+", "-", "\\cdot", "/"];
    for _ in 0..2_000 {
        let mut s = atoms[rng.below(atoms.len())].to_string();
        for _ in 0..rng.below(5) {
            s.push_str(ops[rng.below(ops.len())]);
            s.push_str(atoms[rng.below(atoms.len())]);
        }
        let wrapped = format!("${s}$");
        assert!(
            math::verify(&wrapped, &format!("The answer is $\\boxed{{{s}}}$.")),
            "{s} does not verify against itself"
        );
    }
}

fn adversarial() -> Vec<String> {
    let deep =
        |open: &str, close: &str, n: usize| format!("{}1{}", open.repeat(n), close.repeat(n));
    vec![
        "$10^{10^{10}}$".into(),
        "$1000!!$".into(),
        "$9^{9^{9^{9}}}$".into(),
        "$(x+1)^{1000000}$".into(),
        "$2^{100000}$".into(),
        "$\\binom{10^{100}}{5}$".into(),
        format!("${}$", "9".repeat(10_000)),
        format!("${}$", deep("\\frac{", "}{2}", 2_000)),
        format!("${}$", deep("(", ")", 5_000)),
        format!("${}$", deep("{", "}", 5_000)),
        format!("${}$", deep("\\sqrt{", "}", 3_000)),
        format!("${}$", deep("\\boxed{", "}", 3_000)),
        "$".repeat(10_000),
        "\\(".repeat(5_000),
        "\\[".repeat(5_000),
        " [".repeat(5_000),
        "\\boxed{".repeat(3_000),
        "1 ".repeat(5_000),
        "1+".repeat(5_000),
        "answer ".repeat(1_500),
        "final answer is ".repeat(600),
        format!("${}$", "1,".repeat(4_000)),
        format!("$\\{{{}\\}}$", "x,".repeat(3_000)),
        format!("${}$", "-".repeat(10_000)),
        format!("${}x$", "\\sin ".repeat(2_000)),
        "é".repeat(5_000),
        format!("{}$1$", "x".repeat(100_000)),
    ]
}

#[test]
fn adversarial_inputs_terminate() {
    for a in adversarial() {
        let _ = math::verify(&a, &a);
        let _ = math::verify("$1$", &a);
        let _ = lmm_r1::math_reward(&a, "1");
    }
}
