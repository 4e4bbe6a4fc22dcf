//! Response-format rules.

/// LMM-R1's format rule (`math_verifier.py`, `../shared/docs/method.md` §3.1): the response
/// is exactly `<think>…</think><answer>…</answer>`.
///
/// Equivalent to Python's
/// `re.match(r"^<think>(?:(?!</think>).)*</think><answer>(?:(?!</answer>).)*</answer>\Z", s, re.DOTALL)`
/// plus `s.count("<think>") == 1 and s.count("<answer>") == 1`:
/// the response starts with `<think>` and ends with `</answer>`; nothing, not even whitespace,
/// sits between `</think>` and `<answer>`; the think part contains no `</think>` and the answer
/// part no `</answer>`; `<think>` and `<answer>` each occur once.
///
/// The caller strips the response first (LMM-R1 strips the decoded text and removes
/// end-of-turn tokens before checking).
///
/// ```
/// use lmmr1_rewards::format::r1;
/// assert!(r1("<think>x</think><answer>$1$</answer>"));
/// assert!(!r1("<think>x</think>\n<answer>$1$</answer>"));
/// assert!(!r1("<think>x</think><answer>1</answer>\n"));
/// ```
pub fn r1(response: &str) -> bool {
    let Some(rest) = response.strip_prefix("<think>") else {
        return false;
    };
    let Some(rest) = rest.strip_suffix("</answer>") else {
        return false;
    };
    // The think part ends at the first `</think>`; the answer part must follow at once.
    let Some(close) = rest.find("</think>") else {
        return false;
    };
    let Some(answer) = rest[close + "</think>".len()..].strip_prefix("<answer>") else {
        return false;
    };
    !answer.contains("</answer>")
        && response.matches("<think>").count() == 1
        && response.matches("<answer>").count() == 1
}

#[cfg(test)]
mod tests {
    use super::r1;

    #[test]
    fn accepts_the_exact_layout() {
        assert!(r1("<think>reasoning</think><answer>$42$</answer>"));
        assert!(r1("<think></think><answer></answer>"));
        assert!(r1("<think>multi\nline\n</think><answer>\n$x$\n</answer>"));
    }

    #[test]
    fn rejects_whitespace_between_think_and_answer() {
        assert!(!r1("<think>a</think> <answer>b</answer>"));
        assert!(!r1("<think>a</think>\n<answer>b</answer>"));
    }

    #[test]
    fn rejects_text_outside_the_tags() {
        assert!(!r1(" <think>a</think><answer>b</answer>"));
        assert!(!r1("<think>a</think><answer>b</answer> "));
        assert!(!r1("so <think>a</think><answer>b</answer>"));
        assert!(!r1("<think>a</think><answer>b</answer>done"));
    }

    #[test]
    fn rejects_repeated_or_missing_tags() {
        assert!(!r1("<think><think>a</think><answer>b</answer>"));
        assert!(!r1("<think>a</think></think><answer>b</answer>"));
        assert!(!r1("<think>a</think><answer>b<answer></answer>"));
        assert!(!r1("<think>a</think><answer>b</answer></answer>"));
        assert!(!r1("<think>a</think>"));
        assert!(!r1("<answer>b</answer>"));
        assert!(!r1("<think>a<answer>b</answer>"));
        assert!(!r1(""));
    }

    #[test]
    fn answer_may_contain_a_stray_close_think() {
        // The regex only forbids `</think>` inside the think part; Python's re accepts this.
        assert!(r1("<think>a</think><answer>b</think></answer>"));
    }
}
