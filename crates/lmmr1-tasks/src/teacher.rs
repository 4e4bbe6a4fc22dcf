//! The teachers of the warm start: the demonstration of a generated problem and the noisy
//! teacher's slip (a final answer that is systematically off).

use crate::choices::{letter, shift_leading, Choices};

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
