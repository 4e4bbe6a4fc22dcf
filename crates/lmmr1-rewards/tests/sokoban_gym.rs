//! Differential tests against gym-sokoban 0.0.6 and LMM-R1's `sokoban_verifier.py`.
//!
//! The fixtures come from `tools/sokoban_traces.py` (see its header for the exact commands),
//! which ran the real gym-sokoban env and a transcription of the verifier on the same rooms.

use lmmr1_rewards::sokoban::{Action, Env, Level, LmmR1Sokoban};
use serde::Deserialize;

#[derive(Deserialize)]
struct Trace {
    id: usize,
    policy: String,
    max_steps: usize,
    num_boxes: usize,
    grid: Vec<String>,
    state: String,
    fixed: String,
    actions: String,
    rewards: Vec<f64>,
    done: String,
    moved: String,
    player: Vec<usize>,
    #[serde(rename = "final")]
    final_grid: Vec<String>,
}

#[derive(Deserialize)]
struct Scored {
    trace: usize,
    response: String,
    total: f64,
    format: f64,
    task: f64,
    action_bonus: f64,
    thinking_bonus: f64,
    num_actions: usize,
    thinking_words: usize,
}

fn traces() -> Vec<Trace> {
    include_str!("fixtures/sokoban_traces.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid trace"))
        .collect()
}

/// gym's digits, rows joined by '/', as (rows, cols, row-major cells).
fn gym_cells(s: &str) -> (usize, usize, Vec<u8>) {
    let rows: Vec<&str> = s.split('/').collect();
    let cells = rows
        .iter()
        .flat_map(|r| r.bytes().map(|b| b - b'0'))
        .collect();
    (rows.len(), rows[0].len(), cells)
}

fn level_of(t: &Trace) -> Level {
    let level = Level::from_xsb(&t.grid.join("\n")).expect("trace grid parses");
    let (rows, cols, state) = gym_cells(&t.state);
    let (_, _, fixed) = gym_cells(&t.fixed);
    assert_eq!(level, Level::from_gym(rows, cols, &fixed, &state).unwrap());
    assert_eq!(level, Level::from_gym_state(rows, cols, &state).unwrap());
    assert_eq!((level.to_gym_state(), level.to_gym_fixed()), (state, fixed));
    assert_eq!(level.num_boxes(), t.num_boxes);
    level
}

#[test]
fn replays_every_gym_trace_step_by_step() {
    let traces = traces();
    assert!(traces.len() >= 200, "{} traces", traces.len());
    let (mut steps, mut wins, mut past_done) = (0, 0, 0);
    for t in &traces {
        let level = level_of(t);
        let cols = level.cols();
        let mut env = Env::new(level, t.max_steps);
        let mut done_seen = false;
        for (i, a) in t.actions.bytes().enumerate() {
            let action = Action::from_gym_index(a - b'0').unwrap();
            let step = env.step(action);
            let ctx = format!("trace {} ({}) step {i} action {action:?}", t.id, t.policy);
            assert_eq!(
                step.reward_f64.to_bits(),
                t.rewards[i].to_bits(),
                "{ctx}: reward"
            );
            assert_eq!(step.reward, t.rewards[i] as f32, "{ctx}: f32 reward");
            assert_eq!(step.done, t.done.as_bytes()[i] == b'1', "{ctx}: done");
            let moved = t.moved.as_bytes()[i] - b'0';
            assert_eq!(step.moved_player, moved & 1 != 0, "{ctx}: moved_player");
            assert_eq!(step.moved_box, moved & 2 != 0, "{ctx}: moved_box");
            let (r, c) = env.player();
            assert_eq!(r * cols + c, t.player[i], "{ctx}: player");
            wins += usize::from(step.reward_f64 > 3.0);
            past_done += usize::from(done_seen);
            done_seen |= step.done;
            steps += 1;
        }
        assert_eq!(
            env.state().to_xsb(),
            t.final_grid.join("\n"),
            "trace {}",
            t.id
        );
    }
    assert!(
        steps > 4000 && wins > 40 && past_done > 50,
        "{steps} {wins} {past_done}"
    );
}

#[test]
fn lmm_r1_scores_match_the_python_verifier() {
    let traces = traces();
    let fixtures: Vec<Scored> = include_str!("fixtures/sokoban_lmmr1_scores.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid score record"))
        .collect();
    assert!(fixtures.len() >= 500);
    let mut formatted = 0;
    for s in &fixtures {
        let t = &traces[s.trace];
        let (rows, cols, state) = gym_cells(&t.state);
        let level = Level::from_gym_state(rows, cols, &state).unwrap();
        let b = LmmR1Sokoban.breakdown(&s.response, &level);
        let ctx = format!("trace {} response {:?}", s.trace, s.response);
        assert_eq!(b.format_ok, s.format == 1.0, "{ctx}");
        assert_eq!(
            b.total.to_bits(),
            s.total.to_bits(),
            "{ctx}: total {} vs {}",
            b.total,
            s.total
        );
        assert_eq!(b.task_reward.to_bits(), s.task.to_bits(), "{ctx}: task");
        assert_eq!(
            b.action_bonus.to_bits(),
            s.action_bonus.to_bits(),
            "{ctx}: action"
        );
        assert_eq!(
            b.thinking_bonus.to_bits(),
            s.thinking_bonus.to_bits(),
            "{ctx}: thinking"
        );
        assert_eq!(
            (b.num_actions, b.thinking_words),
            (s.num_actions, s.thinking_words),
            "{ctx}"
        );
        formatted += usize::from(b.format_ok);
    }
    assert!(formatted > 300, "{formatted}");
}
