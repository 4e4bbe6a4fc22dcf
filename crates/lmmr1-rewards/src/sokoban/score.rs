//! Plan scores: LMM-R1's Sokoban reward ([`LmmR1Sokoban`]) and MageBench's level score
//! ([`magebench_score`]).

use super::env::{Action, Direction, Env};
use super::level::Level;
use crate::{Reward, Score};

/// Actions LMM-R1 executes at most (`acts[:50]`).
pub const LMM_R1_MAX_ACTIONS: usize = 50;
/// `max_steps` of LMM-R1's `DirectLoadSokobanEnv`.
pub const LMM_R1_MAX_STEPS: usize = 120;

/// Everything LMM-R1's Sokoban verifier computes for one response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LmmR1Breakdown {
    /// `task_reward + 0.5·format + action_bonus + thinking_bonus`; 0 when the format fails.
    pub total: f64,
    /// Whether the format check passed (1.0 in the verifier's `format_reward`).
    pub format_ok: bool,
    /// `best_reward`: the largest cumulative env reward over prefixes of the first 50 actions,
    /// at least 0.
    pub task_reward: f64,
    /// Action-length shaping, with the repetition penalty applied.
    pub action_bonus: f64,
    /// Thinking-length shaping.
    pub thinking_bonus: f64,
    /// Number of comma-separated answer items (`actions_number`).
    pub num_actions: usize,
    /// Number of space-separated `<think>` tokens longer than one character (`thinking_words`).
    pub thinking_words: usize,
}

/// LMM-R1's Sokoban reward (`openrlhf/models/remote_rm/sokoban_verifier.py`;
/// `../shared/docs/method.md` §3.2), as a [`Reward`] whose task is the [`Level`].
///
/// 1. The response loses the end-of-turn tokens `<|im_end|>`, `<｜end▁of▁sentence｜>` and
///    `<|endoftext|>` and is stripped.
/// 2. **Format**: `<think>`, `</think>`, `<answer>`, `</answer>` each occur exactly once, and
///    every comma-separated item of the answer, stripped and lower-cased, is `left`, `right`,
///    `up` or `down`. Otherwise the total is 0 and nothing else is computed.
/// 3. **Task reward**: the first 50 actions run as gym push actions (up 1, down 2, left 3,
///    right 4) in an env with `max_steps` 120; `best = max(0, max prefix sum)`, stopping after a
///    `done` step or a step reward above 3.
/// 4. **Action shaping** for `n` items: `0.05·n` below 20, else `1 − 0.2·((n − 20)/30)²`; if a
///    k-gram (k ≤ 5) of answer words repeats back to back more than 7 times, it becomes
///    `min(0, shaping − 0.2)`.
/// 5. **Thinking shaping**: `0.001·min(w, 200)` for `w` tokens longer than one character in the
///    stripped `<think>` text split on single spaces.
/// 6. **Total** = `best + 0.5 + action shaping + thinking shaping`.
///
/// Python semantics are kept where they show: `str.strip`'s whitespace set, `split(" ")` (so a
/// newline does not separate thinking tokens), lengths in code points, `float64` sums in the
/// same order. The verifier reads the level from gym's `room_state`, which cannot hold a target
/// under the player; build the task with [`Level::from_gym_state`] to reproduce that.
/// (Generated levels never start with the player or a box on a target, where the verifier's
/// `DirectLoadSokobanEnv` would also misbehave.)
///
/// ```
/// use lmmr1_rewards::sokoban::{Level, LmmR1Sokoban};
/// use lmmr1_rewards::Reward;
///
/// let level = Level::from_xsb("######\n#@$ .#\n######")?;
/// let score = LmmR1Sokoban.score("<think>push it</think><answer>Right, Right</answer>", &level);
/// // best 10.8 (−0.1 then +10.9), format 0.5, 2 actions 0.1, 2 thinking words 0.002
/// assert!((score.total - 11.402).abs() < 1e-12);
/// assert_eq!(LmmR1Sokoban.score("<answer>Right</answer>", &level).total, 0.0);
/// # Ok::<(), lmmr1_rewards::sokoban::LevelError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LmmR1Sokoban;

impl LmmR1Sokoban {
    /// The verifier's full result for one response.
    pub fn breakdown(&self, response: &str, level: &Level) -> LmmR1Breakdown {
        lmm_r1_breakdown(response, level)
    }
}

impl Reward for LmmR1Sokoban {
    type Task = Level;

    fn name(&self) -> &str {
        "lmm_r1_sokoban"
    }

    fn score(&self, response: &str, task: &Level) -> Score {
        let b = lmm_r1_breakdown(response, task);
        Score::new(b.total)
            .with("format", if b.format_ok { 1.0 } else { 0.0 })
            .with("task", b.task_reward)
            .with("action_length", b.action_bonus)
            .with("thinking_length", b.thinking_bonus)
            .with("actions", b.num_actions as f64)
            .with("thinking_words", b.thinking_words as f64)
    }
}

const END_TOKENS: [&str; 3] = ["<|im_end|>", "<｜end▁of▁sentence｜>", "<|endoftext|>"];

fn lmm_r1_breakdown(response: &str, level: &Level) -> LmmR1Breakdown {
    let mut text = response.to_owned();
    for token in END_TOKENS {
        if text.contains(token) {
            text = text.replace(token, "");
        }
    }
    let output = py_strip(&text);
    let failed = LmmR1Breakdown {
        total: 0.0,
        format_ok: false,
        task_reward: 0.0,
        action_bonus: 0.0,
        thinking_bonus: 0.0,
        num_actions: 0,
        thinking_words: 0,
    };
    let once = |tag: &str| output.matches(tag).count() == 1;
    if !(once("</think>") && once("</answer>") && once("<think>") && once("<answer>")) {
        return failed;
    }
    let Some(actions) = parse_actions(between(output, "<answer>", "</answer>")) else {
        return failed;
    };

    let n = actions.len();
    let mut action_bonus = if n < 20 {
        n as f64 * 0.05
    } else {
        let x = (n as f64 - 20.0) / 30.0;
        20.0 * 0.05 - x * x * 0.2
    };
    if repeats_back_to_back(&actions, 7, 5) {
        action_bonus = (action_bonus - 0.2).min(0.0);
    }

    let thinking = py_strip(between(output, "<think>", "</think>"));
    let thinking_words = thinking
        .split(' ')
        .filter(|t| t.chars().nth(1).is_some())
        .count();
    let thinking_bonus = if thinking_words < 200 {
        thinking_words as f64 * 0.001
    } else {
        200.0 * 0.001
    };

    let task_reward = best_prefix_reward(
        level,
        actions
            .iter()
            .take(LMM_R1_MAX_ACTIONS)
            .map(|&d| Action::Push(d)),
        LMM_R1_MAX_STEPS,
    );
    LmmR1Breakdown {
        total: task_reward + 1.0 * 0.5 + action_bonus + thinking_bonus,
        format_ok: true,
        task_reward,
        action_bonus,
        thinking_bonus,
        num_actions: n,
        thinking_words,
    }
}

/// The largest cumulative reward over prefixes of `actions` (the empty prefix counts as 0),
/// played from the start of `level` until a step is `done` or rewards more than 3 (the win).
///
/// This is LMM-R1's `best_reward` and MageBench's "best cumulative reward".
///
/// ```
/// use lmmr1_rewards::sokoban::{best_prefix_reward, Action, Direction, Level};
///
/// let level = Level::from_xsb("######\n#@$ .#\n######")?;
/// let push = Action::Push(Direction::Right);
/// assert_eq!(best_prefix_reward(&level, [Action::NoOp; 3], 120), 0.0);
/// assert_eq!(best_prefix_reward(&level, [push, push, push], 120), -0.1 + (-0.1 + 1.0 + 10.0));
/// # Ok::<(), lmmr1_rewards::sokoban::LevelError>(())
/// ```
pub fn best_prefix_reward(
    level: &Level,
    actions: impl IntoIterator<Item = Action>,
    max_steps: usize,
) -> f64 {
    let mut env = Env::new(level.clone(), max_steps);
    let (mut sum, mut best) = (0.0f64, 0.0f64);
    for action in actions {
        let step = env.step(action);
        sum += step.reward_f64;
        if sum > best {
            best = sum;
        }
        if step.done || step.reward_f64 > 3.0 {
            break;
        }
    }
    best
}

/// MageBench's Sokoban score for one level: `(best cumulative reward − optimal reward)·5 + 100`.
///
/// `optimal_reward` is the best cumulative reward an optimal plan reaches (MageBench's
/// `upper_bound.json`; [`super::optimal_reward`] computes it with the solver). Doing nothing
/// scores `100 − 5·optimal`; an optimal plan scores 100.
///
/// ```
/// use lmmr1_rewards::sokoban::magebench_score;
/// assert_eq!(magebench_score(10.8, 10.8), 100.0);
/// assert!((magebench_score(0.0, 10.8) - 46.0).abs() < 1e-12);
/// ```
pub fn magebench_score(best_cumulative_reward: f64, optimal_reward: f64) -> f64 {
    (best_cumulative_reward - optimal_reward) * 5.0 + 100.0
}

/// The text after the first `open` up to the first `close` after it (or the end): Python's
/// `s.split(open)[1].split(close)[0]` when `open` occurs once.
fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let rest = s.find(open).map_or("", |i| &s[i + open.len()..]);
    rest.find(close).map_or(rest, |j| &rest[..j])
}

/// The comma-separated items as directions, or `None` if one is not left/right/up/down.
fn parse_actions(answer: &str) -> Option<Vec<Direction>> {
    answer
        .split(',')
        .map(|item| {
            let item = py_strip(item);
            // Only ASCII letters lower-case to these words under Python's `str.lower`.
            [
                ("up", Direction::Up),
                ("down", Direction::Down),
                ("left", Direction::Left),
                ("right", Direction::Right),
            ]
            .into_iter()
            .find(|(word, _)| item.eq_ignore_ascii_case(word))
            .map(|(_, d)| d)
        })
        .collect()
}

/// Python's `str.isspace` (Rust's White_Space plus the separators U+001C–U+001F).
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// The verifier's `check_repeated_substrings(text, n, max_k)` on the answer's words, which
/// (once the format passed) are exactly the actions: for each `k ≤ max_k`, a k-gram starting
/// exactly `k` words after the previous occurrence of the same k-gram continues its run; a run
/// longer than `n` is a repetition.
fn repeats_back_to_back(words: &[Direction], n: usize, max_k: usize) -> bool {
    for k in 1..=max_k.min(words.len()) {
        // k-grams of four symbols, as base-4 numbers: (start of last occurrence + 1, run).
        let mut seen = vec![(0usize, 0usize); 1 << (2 * k)];
        for s in 0..=words.len() - k {
            let code = words[s..s + k].iter().fold(0, |acc, d| acc * 4 + d.index());
            let (last, run) = seen[code];
            let run = if last != 0 && last - 1 + k == s {
                run + 1
            } else {
                1
            };
            seen[code] = (s + 1, run);
            if run > n {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level() -> Level {
        Level::from_xsb("#######\n#@ $ .#\n#######").unwrap()
    }

    fn answer(items: &str) -> String {
        format!("<think>thinking about it</think><answer>{items}</answer>")
    }

    #[test]
    fn format_failures_score_zero() {
        let l = level();
        for bad in [
            "",
            "<think></think><answer></answer>",
            "<think>a</think><answer>Left,</answer>",
            "<think>a</think><answer>Left, Jump</answer>",
            "<think>a</think><answer>Left; Right</answer>",
            "<think>a</think><think>b</think><answer>Left</answer>",
            "<think>a</think><answer>Left</answer></answer>",
            "<think>a<answer>Left</answer>",
            "<think>a</think><answer>r\u{200b}ight</answer>",
        ] {
            let b = LmmR1Sokoban.breakdown(bad, &l);
            assert!(!b.format_ok && b.total == 0.0, "{bad:?}");
        }
    }

    #[test]
    fn python_whitespace_and_case_are_accepted() {
        let l = level();
        let b = LmmR1Sokoban.breakdown(&answer("\u{1c} LEFT\u{a0},\tright ,uP\u{3000}"), &l);
        assert!(b.format_ok);
        assert_eq!(b.num_actions, 3);
        // Layout outside the tags does not matter to this verifier.
        let b = LmmR1Sokoban.breakdown("x<answer>Left</answer><think>ab</think>y<|im_end|>", &l);
        assert!(b.format_ok && b.thinking_words == 1);
    }

    #[test]
    fn solving_scores_the_win_and_stops() {
        let l = level();
        let b = LmmR1Sokoban.breakdown(&answer("Right, Right, Right, Left, Left"), &l);
        // −0.1, −0.1 (push), then +0.9 + 10 → best = −0.2 + 10.9; the two Lefts are not run.
        assert_eq!(b.task_reward, -0.1 + -0.1 + (-0.1 + 1.0 + 10.0));
        assert_eq!(b.action_bonus, 5.0 * 0.05);
        assert_eq!(b.thinking_words, 3);
        assert_eq!(b.total, b.task_reward + 0.5 + 0.25 + 3.0 * 0.001);
    }

    #[test]
    fn action_length_shaping() {
        let l = level();
        // A sequence without back-to-back repeats, so only the length shaping applies.
        let names = ["Up", "Down", "Left", "Right"];
        let items = |n: usize| {
            let pick = |i: usize| names[(i.wrapping_mul(2_654_435_761) >> 7) % 4];
            (0..n).map(pick).collect::<Vec<_>>().join(",")
        };
        let bonus = |n| LmmR1Sokoban.breakdown(&answer(&items(n)), &l).action_bonus;
        assert_eq!(bonus(19), 19.0 * 0.05);
        assert_eq!(bonus(20), 1.0);
        assert!((bonus(50) - 0.8).abs() < 1e-12);
        assert!((bonus(80) - 0.2).abs() < 1e-12);
        assert!(bonus(100) < 0.0);
    }

    #[test]
    fn repetition_penalty_needs_more_than_seven_back_to_back() {
        let l = level();
        let seven = answer(&["Left"; 7].join(", "));
        let eight = answer(&["Left"; 8].join(", "));
        assert_eq!(LmmR1Sokoban.breakdown(&seven, &l).action_bonus, 7.0 * 0.05);
        assert_eq!(LmmR1Sokoban.breakdown(&eight, &l).action_bonus, 0.0);
        let pairs = answer(&["Up, Down"; 8].join(", "));
        assert_eq!(LmmR1Sokoban.breakdown(&pairs, &l).action_bonus, 0.0);
        let pairs = answer(&["Up, Down"; 7].join(", "));
        assert_eq!(LmmR1Sokoban.breakdown(&pairs, &l).action_bonus, 14.0 * 0.05);
        use Direction::*;
        assert!(!repeats_back_to_back(&[Left; 8], 7, 0));
        assert!(repeats_back_to_back(&[Left; 8], 7, 1));
        assert!(!repeats_back_to_back(&[Up, Left, Up, Left], 1, 1));
        assert!(repeats_back_to_back(&[Up, Left, Up, Left], 1, 2));
    }

    #[test]
    fn thinking_tokens_split_on_single_spaces() {
        let l = level();
        let b = |t: &str| {
            LmmR1Sokoban
                .breakdown(&format!("<think>{t}</think><answer>Up</answer>"), &l)
                .thinking_words
        };
        assert_eq!(b("a bb  ccc a"), 2);
        assert_eq!(b("one\ntwo three"), 2, "a newline does not split");
        assert_eq!(b("\n\n ab"), 1, "the text is stripped first");
        assert_eq!(b("é€"), 1, "lengths count code points");
        let long = "word ".repeat(300);
        assert_eq!(
            LmmR1Sokoban
                .breakdown(&format!("<think>{long}</think><answer>Up</answer>"), &l)
                .thinking_bonus,
            200.0 * 0.001
        );
    }

    #[test]
    fn only_the_first_fifty_actions_run() {
        let l = level();
        let mut items = vec!["Up"; 50];
        items.extend(["Right"; 3]);
        let b = LmmR1Sokoban.breakdown(&answer(&items.join(",")), &l);
        assert_eq!((b.task_reward, b.num_actions), (0.0, 53));
    }

    #[test]
    fn reward_trait_components() {
        let s = LmmR1Sokoban.score(&answer("Right, Right, Right"), &level());
        assert_eq!(LmmR1Sokoban.name(), "lmm_r1_sokoban");
        assert_eq!(s.component("format"), Some(1.0));
        assert_eq!(s.component("actions"), Some(3.0));
        assert_eq!(s.component("task"), Some(-0.2 + (-0.1 + 1.0 + 10.0)));
    }
}
