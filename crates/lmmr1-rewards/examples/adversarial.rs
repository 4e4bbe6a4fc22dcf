//! Worst-case latency of `math::verify` and `lmm_r1::math_reward` on adversarial inputs
//! (huge numbers and exponents, deep nesting, unterminated environments, 10 kB inputs).
//!
//! ```text
//! cargo run --release -p lmmr1-rewards --example adversarial
//! ```
//!
//! Prints each input's size and the slowest of three calls, then the maximum.

use std::time::Instant;

use lmmr1_rewards::{lmm_r1, math};

fn main() {
    let deep =
        |open: &str, close: &str, n: usize| format!("{}1{}", open.repeat(n), close.repeat(n));
    let cases: Vec<(&str, String)> = vec![
        ("tower 10^10^10", "$10^{10^{10}}$".into()),
        ("1000!!", "$1000!!$".into()),
        ("9^9^9^9", "$9^{9^{9^{9}}}$".into()),
        ("(x+1)^1e6", "$(x+1)^{1000000}$".into()),
        ("2^100000", "$2^{100000}$".into()),
        ("binom(10^100,5)", "$\\binom{10^{100}}{5}$".into()),
        ("10k digits", format!("${}$", "9".repeat(10_000))),
        ("nested frac", format!("${}$", deep("\\frac{", "}{2}", 800))),
        ("nested parens", format!("${}$", deep("(", ")", 3_000))),
        ("nested braces", format!("${}$", deep("{", "}", 3_000))),
        ("nested sqrt", format!("${}$", deep("\\sqrt{", "}", 1_500))),
        (
            "nested boxed",
            format!("${}$", deep("\\boxed{", "}", 1_200)),
        ),
        ("10k dollars", "$".repeat(10_000)),
        ("5k \\(", "\\(".repeat(5_000)),
        ("5k \\[", "\\[".repeat(5_000)),
        ("5k ' ['", " [".repeat(5_000)),
        ("3k open boxes", "\\boxed{".repeat(1_400)),
        ("'1 ' x5k", "1 ".repeat(5_000)),
        ("'1+' x5k", "1+".repeat(5_000)),
        ("'answer ' x1.5k", "answer ".repeat(1_400)),
        ("'final answer is ' x600", "final answer is ".repeat(600)),
        ("4k-element list", format!("${}$", "1,".repeat(4_000))),
        ("3k-symbol set", format!("$\\{{{}\\}}$", "x,".repeat(3_000))),
        ("10k minus", format!("${}$", "-".repeat(10_000))),
        ("2k sin", format!("${}x$", "\\sin ".repeat(2_000))),
        ("5k é", "é".repeat(5_000)),
        ("10k + tail", format!("{}$1$", "x".repeat(10_000))),
    ];
    let mut worst = 0f64;
    for (name, input) in &cases {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            std::hint::black_box(math::verify(input, input));
            std::hint::black_box(math::verify("$1$", input));
            std::hint::black_box(lmm_r1::math_reward(input, "1"));
            best = best.min(t.elapsed().as_secs_f64() / 3.0);
        }
        worst = worst.max(best);
        println!(
            "{name:>24}  {:>6} B  {:>9.3} ms per call",
            input.len(),
            best * 1e3
        );
    }
    println!("max {:.3} ms per call", worst * 1e3);
}
