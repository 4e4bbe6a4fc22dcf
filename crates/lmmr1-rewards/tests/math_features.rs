//! Hand-written expectations for each feature of the math checker. Where Math-Verify's
//! behaviour is surprising, the case says so; these expectations were cross-checked against
//! Math-Verify 0.9.0 (see `tests/fixtures/math_verify.jsonl` for the generated corpus).

use lmmr1_rewards::math::{extract, verify};

fn yes(gold: &str, pred: &str) {
    assert!(
        verify(gold, pred),
        "expected equal: gold {gold:?} pred {pred:?}"
    );
}

fn no(gold: &str, pred: &str) {
    assert!(
        !verify(gold, pred),
        "expected unequal: gold {gold:?} pred {pred:?}"
    );
}

#[test]
fn integers_and_signs() {
    yes("$42$", "The answer is $42$.");
    yes("$42$", "so we get 42");
    yes("$-7$", "$\\boxed{-7}$");
    no("$42$", "$43$");
    no("$-7$", "$7$");
    yes(
        "$123456789012345678901234567890$",
        "$123456789012345678901234567890$",
    );
    no(
        "$123456789012345678901234567890$",
        "$123456789012345678901234567891$",
    );
}

#[test]
fn thousands_separators() {
    yes("$7425000$", "The total is 7,425,000 dollars.");
    yes("$1000$", "It costs 1 000");
    yes("$1000$", "$\\boxed{1000}$");
}

#[test]
fn decimals_round_to_six_places() {
    yes("$\\frac{1}{3}$", "$0.333333$");
    no("$\\frac{1}{3}$", "$0.33333$");
    yes("$\\frac{1}{3}$", "$0.3333333$");
    yes("$0.5$", "$\\frac{1}{2}$");
    yes("$2.50$", "$2.5$");
    no("$2.5$", "$2.6$");
}

#[test]
fn fractions() {
    yes("$\\frac{3}{4}$", "$\\dfrac{3}{4}$");
    yes("$\\frac{3}{4}$", "$\\tfrac{3}{4}$");
    yes("$\\frac{3}{4}$", "$\\frac{6}{8}$");
    yes("$\\frac{3}{4}$", "The answer is 3/4.");
    yes("$\\frac{1}{2}$", "$\\frac12$");
    yes("$\\frac{1}{2}$", "$\\frac1{2}$");
    no("$\\frac{3}{4}$", "$\\frac{4}{3}$");
}

#[test]
fn radicals() {
    yes("$2\\sqrt{3}$", "$\\sqrt{12}$");
    yes("$\\sqrt{3}$", "$\\sqrt3$");
    yes("$2$", "$\\sqrt[3]{8}$");
    yes("$\\frac{\\sqrt{2}}{2}$", "$\\frac{1}{\\sqrt{2}}$");
    no("$2\\sqrt{3}$", "$3\\sqrt{2}$");
}

#[test]
fn pi_and_e() {
    yes("$12\\pi$", "$\\boxed{12\\pi}$");
    yes("$\\frac{\\pi}{2}$", "$\\pi/2$");
    no("$12\\pi$", "$37.7$");
    no("$\\pi$", "$3.14$");
}

#[test]
fn powers() {
    yes("$1024$", "$2^{10}$");
    yes("$x^2+2x+1$", "$(x+1)^2$");
    no("$x^2+2x+1$", "$(x-1)^2$");
    yes("$2^{-1}$", "$\\frac{1}{2}$");
}

#[test]
fn degrees_and_units() {
    yes("$90$", "$90^\\circ$");
    yes("$90$", "$90^{\\circ}$");
    yes("$90$", "$\\boxed{90 \\text{ degrees}}$");
    yes("$5$", "$5 \\text{ cm}$");
    yes("$12$", "The answer is $12$ inches.");
    no("$90$", "$\\boxed{45^\\circ}$");
}

#[test]
fn text_answers_and_choice_letters() {
    yes("$\\text{Evelyn}$", "$\\boxed{\\text{Evelyn}}$");
    yes("$\\text{Evelyn}$", "$Evelyn$");
    yes("$B$", "$\\boxed{B}$");
    yes("$\\text{(C)}$", "$\\boxed{\\text{C}}$");
    no("$B$", "$\\boxed{C}$");
    yes("$\\text{odd}$", "$odd$");
}

#[test]
fn sets_tuples_intervals() {
    yes("$\\{1,2,3\\}$", "$\\{3,2,1\\}$");
    yes("$1, 2, 3$", "$\\boxed{3, 1, 2}$");
    yes("$(1,2)$", "$(1,2)$");
    no("$(1,2,3)$", "$(3,2,1)$");
    no("$[1, 3)$", "$(1, 3)$");
    yes("$[1, 3)$", "$[1, 3)$");
    yes("$(-\\infty, 2]$", "$\\boxed{(-\\infty, 2]}$");
    no("$(-\\infty, 2]$", "$(-\\infty, 2)$");
    yes("$(1,3)$", "$\\{1,3\\}$");
    no("$\\{1,2\\}$", "$\\{1,2,3\\}$");
}

#[test]
fn relations() {
    yes("$x<3$", "$3>x$");
    yes("$x<3$", "$-x>-3$");
    no("$x<3$", "$x>3$");
    no("$x<3$", "$x\\le 3$");
    yes("$2x+4y=6$", "$x+2y=3$");
    yes("$34x+45y-20z+100=0$", "$-34x-45y+20z-100=0$");
}

#[test]
fn assignments_are_unwrapped_by_the_gold() {
    yes("$5$", "$x = 5$");
    yes("$k = 1$", "$1$");
    no("$x = 1$", "$y = 1$");
    yes("$x = 5$", "$x = 5$");
}

#[test]
fn matrices() {
    yes(
        "$\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}$",
        "$\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}$",
    );
    no(
        "$\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}$",
        "$\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}$",
    );
}

#[test]
fn extraction_prefers_boxed_then_rightmost() {
    yes("$3$", "First try $\\boxed{2}$, no wait, $\\boxed{3}$.");
    yes(
        "$3$",
        "Let $x = 2$. Then the answer is $\\boxed{3}$ and $y = 7$.",
    );
    yes("$7$", "The final answer is $7$. I hope it is correct.");
    // Without a box, the rightmost LaTeX environment counts.
    yes("$9$", "We had $4$ and then $9$");
}

#[test]
fn nothing_to_extract() {
    no("$5$", "");
    no("$5$", "I do not know.");
    no("", "$5$");
    assert!(extract("no answer here").is_none());
}

#[test]
fn percent() {
    yes("$28\\%$", "$28\\%$");
    yes("$0.28$", "$28\\%$");
}
