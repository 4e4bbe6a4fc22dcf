//! LMM-R1's prompts, byte for byte, typos included (`shared/docs/method.md` §4).
//!
//! The wording was checked against the TideDra/lmm-r1 snapshot: [`R1_MATH`] is `SYSTEM_PROMPT`
//! of `examples/data/convert_text_to_img.py`, [`R1_MATH_BOXED`] the system turn of
//! `examples/data/test_message.jsonl`, and the Sokoban pair the example rows of
//! `examples/scripts/lmm_r1/train_sokoban.sh` (after JSON decoding).

/// The "r1" system prompt of math and multimodal training (method.md §4.1). Note "thinks" /
/// "provides", the missing space in "$...$.The" and no trailing newline.
pub const R1_MATH: &str = concat!(
    "You are a helpful assistant good at solving math problems with step-by-step reasoning. ",
    "You should first thinks about the reasoning process in the mind and then provides the user ",
    "with the answer. Your answer must be in latex format and wrapped in $...$.",
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> ",
    "tags, respectively, i.e., <think> Since $1+1=2$, so the answer is $2$. </think><answer> $2$ ",
    "</answer>, which means your output should start with <think> and end with </answer>."
);

/// The `\boxed{}` variant of `examples/data/test_message.jsonl` (method.md §4.1; "you solves",
/// "thinks", "provides"; ends with a newline).
pub const R1_MATH_BOXED: &str = concat!(
    "Solve the question. The user asks a question, and you solves it. You first thinks about ",
    "the reasoning process in the mind and then provides the user with the answer. The answer ",
    "is in latex format and wrapped in $...$. The final answer must be wrapped using the ",
    "\\boxed{} command. The reasoning process and answer are enclosed within <think> </think> ",
    "and <answer> </answer> tags, respectively, i.e., <think> Since $1+1=2$, so the answer is ",
    "$2$. </think><answer> The answer is $\\boxed{2}$ </answer>, which means assistant's output ",
    "should start with <think> and end with </answer>.\n"
);

/// The Sokoban system turn (method.md §4.2): a space, then a real newline, before "Generate".
pub const SOKOBAN_SYSTEM: &str = concat!(
    "You're going to play a game of Sokoban, where the goal is to manipulate the green character ",
    "to push the yellow box into the target area (an area with a red dot in the center). \n",
    "Generate all actions from the initial frame to the end at once."
);

/// The Sokoban user text, which follows the image of the initial frame (method.md §4.2).
pub const SOKOBAN_USER: &str = concat!(
    "You should first thinks about the reasoning process in the mind and then provides the user ",
    "with the answer, the answer is a long sequence of Left, Right, Up, Down, separated by ','. ",
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> ",
    "tags, respectively, e.g., <think> To ... </think><answer> Left, Right, ... </answer>, which ",
    "means your output should start with <think> and end with </answer>."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r1_math_keeps_the_typos_and_spacing() {
        assert!(R1_MATH.contains("You should first thinks about"));
        assert!(R1_MATH.contains("then provides the user"));
        assert!(R1_MATH.contains("wrapped in $...$.The reasoning"));
        assert!(R1_MATH.contains("</think><answer> $2$ </answer>"));
        assert!(R1_MATH.ends_with("end with </answer>."));
        assert!(!R1_MATH.contains("  "), "no double spaces");
    }

    /// FNV-1a 64 of the bytes.
    fn fnv1a(s: &str) -> u64 {
        s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    #[test]
    fn every_prompt_is_byte_identical_to_the_lmm_r1_snapshot() {
        // Lengths and FNV-1a hashes computed in Python from TideDra/lmm-r1 at f917f18 (the
        // strings extracted from the files named in the module docs, after JSON decoding).
        let expected = [
            ("R1_MATH", R1_MATH, 521, 0xa741_578d_0151_1a5b),
            ("R1_MATH_BOXED", R1_MATH_BOXED, 578, 0xa0d4_64e2_b1f9_e4af),
            ("SOKOBAN_SYSTEM", SOKOBAN_SYSTEM, 240, 0x24b5_81ce_a2cd_fed2),
            ("SOKOBAN_USER", SOKOBAN_USER, 434, 0xc6ee_5720_4e9d_a5cd),
        ];
        for (name, text, len, hash) in expected {
            assert_eq!((text.len(), fnv1a(text)), (len, hash), "{name}");
        }
    }

    #[test]
    fn boxed_variant_has_a_single_backslash_and_a_trailing_newline() {
        assert!(R1_MATH_BOXED.contains(" \\boxed{} command"));
        assert!(R1_MATH_BOXED.contains("$\\boxed{2}$"));
        assert!(!R1_MATH_BOXED.contains("\\\\"));
        assert!(R1_MATH_BOXED.ends_with("</answer>.\n"));
        assert!(R1_MATH_BOXED.contains("you solves it. You first thinks"));
    }

    #[test]
    fn sokoban_prompts_match_the_released_wording() {
        assert!(SOKOBAN_SYSTEM.contains("red dot in the center). \nGenerate all actions"));
        assert!(SOKOBAN_USER.starts_with("You should first thinks"));
        assert!(SOKOBAN_USER.contains("separated by ','. The reasoning"));
        assert!(SOKOBAN_USER.contains("<think> To ... </think><answer> Left, Right, ... </answer>"));
    }
}
