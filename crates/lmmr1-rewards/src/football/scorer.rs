//! Scoring text: a response names a sequence of actions, played in a scenario from a seed;
//! the score is MageBench's accumulated reward. Also goal rates over many episodes.
//!
//! MageBench plays online (one action per model turn, the model seeing each new frame). A
//! single response can't do that, so here a response is an *open-loop plan*: its actions are
//! played in order, as MageBench turns ([`TurnPlayer`]) or as single steps, until the
//! episode ends or the actions run out.

use std::borrow::Cow;

use super::actions::{parse_actions, Action};
use super::env::{Env, EpisodeEnd};
use super::scenarios::Scenario;
use super::state::{State, Team};
use super::turns::TurnPlayer;
use crate::{Reward, Score};

/// What a football response is scored against.
#[derive(Debug, Clone, PartialEq)]
pub struct FootballTask {
    /// The scenario to play.
    pub scenario: Scenario,
    /// The seed of the episode.
    pub seed: u64,
}

/// How a response's actions are played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Playback {
    /// Each action is a MageBench turn (automatic moves and passes).
    #[default]
    Turns,
    /// Each action is one 0.1 s step.
    Steps,
}

/// The football reward as a [`Reward`]: MageBench's accumulated dense reward of the
/// response's action plan.
///
/// The actions are every `action_*` id in the response's last `<answer>…</answer>` (the whole
/// response when there is none). A response with an unknown id or no id scores 0 with
/// `valid = 0`.
///
/// Components: `valid`, `goal` (1 if the left team scored), `progress`, `passed`, `goal_bonus`,
/// `lost`, `pass`, `shot` (MageBench's terms summed), `steps`, `actions` (actions played).
///
/// ```
/// use lmmr1_rewards::football::{scorer::{FootballReward, FootballTask}, Scenario};
/// use lmmr1_rewards::Reward;
/// let task = FootballTask { scenario: Scenario::empty_goal_close(), seed: 0 };
/// let r = FootballReward::default();
/// // Turns: 1 step, 1 step, then up to 10 steps per repeated move (fewer near the line).
/// let answer = format!("<answer>{}</answer>", "action_right ".repeat(10));
/// let s = r.score(&answer, &task);
/// assert_eq!(s.component("goal"), Some(1.0));
/// assert!(s.total > 40.0);
/// assert_eq!(r.score("<answer>action_fly</answer>", &task).component("valid"), Some(0.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FootballReward {
    /// How the actions are played.
    pub playback: Playback,
}

/// The text inside the last `<answer>…</answer>`, or all of it.
fn answer_part(response: &str) -> &str {
    if let Some(start) = response.rfind("<answer>") {
        let rest = &response[start + "<answer>".len()..];
        return rest.find("</answer>").map_or(rest, |end| &rest[..end]);
    }
    response
}

impl Reward for FootballReward {
    type Task = FootballTask;

    fn name(&self) -> &str {
        "magebench_football"
    }

    fn score(&self, response: &str, task: &FootballTask) -> Score {
        let actions = match parse_actions(answer_part(response)) {
            Ok(a) if !a.is_empty() => a,
            _ => return Score::new(0.0).with("valid", 0.0),
        };
        let mut env = Env::new(task.scenario.clone());
        env.reset(task.seed);
        let mut turns = TurnPlayer::new();
        let mut played = 0u32;
        for &a in &actions {
            let done = match self.playback {
                Playback::Turns => turns.play(&mut env, a).map(|t| t.done),
                Playback::Steps => env.step(a).map(|s| s.done),
            };
            played += 1;
            if !matches!(done, Ok(false)) {
                break;
            }
        }
        let t = env.accumulated_terms();
        let st = env.state();
        Score::new(env.accumulated())
            .with("valid", 1.0)
            .with("goal", f64::from(u8::from(st.score[0] > 0)))
            .with("progress", t.progress)
            .with("passed", t.passed)
            .with("goal_bonus", t.goal)
            .with("lost", t.lost)
            .with("pass", t.pass)
            .with("shot", t.shot)
            .with("steps", f64::from(st.duration - st.steps_left))
            .with(Cow::Borrowed("actions"), f64::from(played))
    }
}

/// Sums over finished episodes: MageBench score and goal rate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Evaluation {
    /// Episodes added.
    pub episodes: u32,
    /// Episodes the left team scored in.
    pub goals: u32,
    /// Sum of MageBench's accumulated rewards.
    pub reward_sum: f64,
}

impl Evaluation {
    /// Adds the episode `env` just played.
    pub fn add(&mut self, env: &Env) {
        self.episodes += 1;
        self.goals += u32::from(env.end() == Some(EpisodeEnd::Goal(Team::Left)));
        self.reward_sum += env.accumulated();
    }

    /// Fraction of episodes with a goal (0 when empty).
    pub fn goal_rate(&self) -> f64 {
        if self.episodes == 0 {
            0.0
        } else {
            f64::from(self.goals) / f64::from(self.episodes)
        }
    }

    /// Mean MageBench score (0 when empty).
    pub fn mean_reward(&self) -> f64 {
        if self.episodes == 0 {
            0.0
        } else {
            self.reward_sum / f64::from(self.episodes)
        }
    }
}

/// Plays `scenario` once per seed with a closed-loop `policy` (one step per action) and sums
/// the results.
///
/// ```
/// use lmmr1_rewards::football::{scorer::evaluate, Action, Scenario};
/// let e = evaluate(&Scenario::empty_goal_close(), 0..4, |_| Action::Right);
/// assert_eq!(e.goal_rate(), 1.0);
/// ```
pub fn evaluate(
    scenario: &Scenario,
    seeds: impl IntoIterator<Item = u64>,
    mut policy: impl FnMut(&State) -> Action,
) -> Evaluation {
    let mut eval = Evaluation::default();
    let mut env = Env::new(scenario.clone());
    for seed in seeds {
        env.reset(seed);
        while !env.is_done() {
            let a = policy(env.state());
            if env.step(a).is_err() {
                break;
            }
        }
        eval.add(&env);
    }
    eval
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(scenario: Scenario) -> FootballTask {
        FootballTask { scenario, seed: 1 }
    }

    #[test]
    fn the_score_is_the_accumulated_magebench_reward() {
        let t = task(Scenario::empty_goal_close());
        let r = FootballReward {
            playback: Playback::Steps,
        };
        let s = r.score(&"action_right ".repeat(40), &t);
        let mut env = Env::new(t.scenario.clone());
        env.reset(1);
        let mut total = 0.0;
        while !env.is_done() {
            total += env.step(Action::Right).unwrap().reward;
        }
        assert_eq!(s.total, total);
        assert_eq!(s.component("goal"), Some(1.0));
        let parts = ["progress", "passed", "goal_bonus", "lost", "pass", "shot"];
        let sum: f64 = parts.iter().map(|p| s.component(p).unwrap()).sum();
        assert!((sum - s.total).abs() < 1e-9);
        assert!(s.component("actions").unwrap() < 40.0, "stops at the goal");
    }

    #[test]
    fn only_the_answer_is_read_and_bad_answers_score_zero() {
        let t = task(Scenario::three_vs_one_with_keeper());
        let r = FootballReward::default();
        let s = r.score(
            "<think>action_left action_left</think><answer>action_right</answer>",
            &t,
        );
        assert_eq!(s.component("actions"), Some(1.0));
        assert_eq!(s.component("valid"), Some(1.0));
        for bad in ["", "<answer>shoot!</answer>", "action_moonwalk", "<answer>"] {
            let s = r.score(bad, &t);
            assert_eq!((s.total, s.component("valid")), (0.0, Some(0.0)), "{bad:?}");
        }
        assert_eq!(r.name(), "magebench_football");
    }

    #[test]
    fn goal_rate_counts_left_goals() {
        let e = evaluate(&Scenario::three_vs_one_with_keeper(), 0..6, |_| {
            Action::Idle
        });
        assert_eq!((e.episodes, e.goals, e.goal_rate()), (6, 0, 0.0));
        assert!(e.mean_reward() >= 0.0);
        assert_eq!(Evaluation::default().goal_rate(), 0.0);
    }
}
