//! MageBench's dense football reward (`FootballEnv.get_reward` in `microsoft/MageBench`,
//! `env/football_env.py`; `shared/docs/rewards-anchors.md` §5.1), computed from the state
//! after each step and scaled ×20. The episode score is the sum.
//!
//! Per step, in MageBench's order (`l1…l6` = 0.8, 1, 2, 1, 20, 100):
//! 1. **progress** `0.8·max(0, ball_x − best_ball_x)` while the left team owns the ball,
//!    then `best_ball_x` moves up;
//! 2. **passed** `(#opponents with x < ball_x − last count)/11` while the left team owns it;
//! 3. **goal** `+2` while `score[0] > 0`;
//! 4. **lost** when the right team owns the ball and no shot is pending:
//!    `−(steps_left/400 − 1)` (≥ 0), and the task is done (400 is MageBench's `NSTEPS`; here
//!    the state's game duration, 400 in every built-in scenario);
//! 5. **pass** `20·pass_clear·scale` when a pass was ordered on an earlier step and a different
//!    player now owns the ball (`scale` ×0.75 after each);
//! 6. **shot** `min(100·shot_clear·shot_distance, 2/3)` when `action_shot` is played while the
//!    left team owns the ball, once until the ball leaves the shooter.
//!
//! The first call only initialises the tracker (MageBench's first `get_reward` returns 0 and
//! takes `best_ball_x` and the passed count from the state after the first step).
//!
//! Quirks kept from MageBench: the pass term compares player indices without checking the
//! team; the shot flag resets as soon as the ball is loose, so a keeper catching a shot also
//! pays the lost-ball term. Guards added where Python would fail or produce NaN: no
//! opponents (pass_clear 0, shot_clear 1e10 — the code's initial "closest" value), an opponent
//! exactly on the ball (its pass score is 0), the ball exactly at (1, 0) (cos taken as 0).

use super::actions::Action;
use super::state::State;

/// Overall factor (`scaling`).
pub const SCALE: f64 = 20.0;
/// Weight of forward progress (`l1`).
pub const W_PROGRESS: f64 = 0.8;
/// Weight of opponents passed (`l2`).
pub const W_PASSED: f64 = 1.0;
/// Goal bonus (`l3`); the shot term is capped at a third of it.
pub const W_GOAL: f64 = 2.0;
/// Weight of the lost-ball term (`l4`).
pub const W_LOST: f64 = 1.0;
/// Weight of a successful pass (`l5`).
pub const W_PASS: f64 = 20.0;
/// Weight of a shot (`l6`).
pub const W_SHOT: f64 = 100.0;
/// MageBench's shot targets on the goal line.
pub const GOAL_POINTS: [[f64; 2]; 5] = [
    [1.0, -0.044],
    [1.0, -0.02],
    [1.0, 0.0],
    [1.0, 0.022],
    [1.0, 0.044],
];

/// Number of opponents behind the ball (`count_pass`: `ball_x > x`).
pub fn count_passed<I: IntoIterator<Item = [f64; 2]>>(ball_x: f64, opponents: I) -> usize {
    opponents.into_iter().filter(|o| ball_x > o[0]).count()
}

/// `get_pass_clear`: the minimum over opponents of `dist / (10·max(cos θ, 0) + 1)`, θ the
/// angle at the ball between the opponent and the goal centre (1, 0). Opponents ahead of the
/// ball count ten times more.
///
/// ```
/// use lmmr1_rewards::football::reward::pass_clear;
/// // One opponent 0.1 straight behind the ball: cos θ = −1, score = 0.1.
/// assert!((pass_clear([0.5, 0.0], [[0.4, 0.0]]) - 0.1).abs() < 1e-12);
/// ```
pub fn pass_clear<I: IntoIterator<Item = [f64; 2]>>(ball: [f64; 2], opponents: I) -> f64 {
    let goal = [1.0 - ball[0], -ball[1]];
    let goal_norm = goal[0].hypot(goal[1]);
    let mut best: Option<f64> = None;
    for o in opponents {
        let v = [o[0] - ball[0], o[1] - ball[1]];
        let dis = v[0].hypot(v[1]);
        let score = if dis == 0.0 {
            0.0
        } else {
            let cos = if goal_norm == 0.0 {
                0.0
            } else {
                (v[0] * goal[0] + v[1] * goal[1]) / dis / goal_norm
            };
            dis / (10.0 * cos.max(0.0) + 1.0)
        };
        best = Some(best.map_or(score, |b| b.min(score)));
    }
    best.unwrap_or(0.0)
}

/// `get_shot_clear`: for each of the 5 goal points, the closest any opponent comes to 100
/// samples of the line from the ball; the best (largest) of the 5.
///
/// ```
/// use lmmr1_rewards::football::reward::shot_clear;
/// // A keeper on the goal centre: the lines to the posts are clearest; the closest sample
/// // to the keeper is the 99th, at (0.995, ±0.99·0.044).
/// let c = shot_clear([0.5, 0.0], [[1.0, 0.0]]);
/// assert!((c - 0.005f64.hypot(0.99 * 0.044)).abs() < 1e-12);
/// ```
pub fn shot_clear<I>(ball: [f64; 2], opponents: I) -> f64
where
    I: IntoIterator<Item = [f64; 2]> + Clone,
{
    let mut best = 0.0f64;
    for target in GOAL_POINTS {
        let traj = [target[0] - ball[0], target[1] - ball[1]];
        let mut closest = 1e10f64;
        for i in 0..100 {
            let t = (i + 1) as f64 / 100.0;
            let pos = [ball[0] + t * traj[0], ball[1] + t * traj[1]];
            for o in opponents.clone() {
                let d = (pos[0] - o[0]).hypot(pos[1] - o[1]);
                if d < closest {
                    closest = d;
                }
            }
        }
        if closest > best {
            best = closest;
        }
    }
    best
}

/// `get_shot_distance`: 1 within 0.3 of the goal line, else `max(1 − (1 − ball_x), 0)`.
pub fn shot_distance(ball_x: f64) -> f64 {
    let dis = 1.0 - ball_x;
    if dis < 0.3 {
        1.0
    } else {
        (1.0 - dis).max(0.0)
    }
}

/// One step's reward split into MageBench's six terms, each already ×20. Unlike MageBench's
/// logged `detailed`, the pass term includes its decaying scale and the shot term its cap, so
/// the terms add up to [`RewardTerms::total`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RewardTerms {
    /// Forward progress of the ball.
    pub progress: f64,
    /// Change in opponents behind the ball.
    pub passed: f64,
    /// Goal bonus.
    pub goal: f64,
    /// Lost-ball term (≥ 0; larger when the ball is lost later).
    pub lost: f64,
    /// Successful pass.
    pub pass: f64,
    /// Shot.
    pub shot: f64,
}

impl RewardTerms {
    /// The step reward.
    pub fn total(&self) -> f64 {
        self.progress + self.passed + self.goal + self.lost + self.pass + self.shot
    }

    /// Adds another step's terms.
    pub fn accumulate(&mut self, o: &RewardTerms) {
        self.progress += o.progress;
        self.passed += o.passed;
        self.goal += o.goal;
        self.lost += o.lost;
        self.pass += o.pass;
        self.shot += o.shot;
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Tracker {
    pos_ball_best: f64,
    last_passed: usize,
    pass_scale: f64,
    passing_ball: bool,
    prev_ball_owned_player: i32,
    performed_shot: bool,
    task_done: bool,
}

/// MageBench's reward state machine; feed it every state after a step with the action played.
///
/// ```
/// use lmmr1_rewards::football::{Action, Scenario, reward::MageBenchReward};
/// let st = Scenario::empty_goal_close().initial_state(0);
/// let mut r = MageBenchReward::new();
/// assert_eq!(r.step(&st, Action::Right).total(), 0.0); // the first call initialises
/// let mut moved = st;
/// moved.ball.pos.x += 0.05;
/// let terms = r.step(&moved, Action::Right);
/// assert!((terms.progress - 20.0 * 0.8 * 0.05).abs() < 1e-5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MageBenchReward {
    tracker: Option<Tracker>,
}

fn opponents(state: &State) -> impl Iterator<Item = [f64; 2]> + Clone + '_ {
    state
        .right
        .players()
        .iter()
        .map(|p| [f64::from(p.pos.x), f64::from(p.pos.y)])
}

impl MageBenchReward {
    /// A fresh tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the episode.
    pub fn reset(&mut self) {
        self.tracker = None;
    }

    /// Whether MageBench would stop the task (the right team took the ball).
    pub fn task_done(&self) -> bool {
        self.tracker.is_some_and(|t| t.task_done)
    }

    /// The reward terms for `state`, reached by playing `action`.
    pub fn step(&mut self, state: &State, action: Action) -> RewardTerms {
        let ball = [f64::from(state.ball.pos.x), f64::from(state.ball.pos.y)];
        let owned_team = state.ball_owned_team();
        let owned_player = state.ball_owned_player();
        let Some(t) = self.tracker.as_mut() else {
            self.tracker = Some(Tracker {
                pos_ball_best: ball[0],
                last_passed: count_passed(ball[0], opponents(state)),
                pass_scale: 1.0,
                passing_ball: false,
                prev_ball_owned_player: -1,
                performed_shot: false,
                task_done: false,
            });
            return RewardTerms::default();
        };
        let mut terms = RewardTerms::default();

        if owned_player != -1 && owned_team == 0 {
            let dt = ball[0] - t.pos_ball_best;
            terms.progress = W_PROGRESS * dt.max(0.0);
            if dt > 0.0 {
                t.pos_ball_best = ball[0];
            }
            let cur = count_passed(ball[0], opponents(state));
            terms.passed = W_PASSED * (cur as f64 - t.last_passed as f64) / 11.0;
            t.last_passed = cur;
        }

        if state.score[0] > 0 {
            terms.goal = W_GOAL;
        }

        let mut stolen = false;
        if owned_team == 1 && !t.performed_shot {
            stolen = true;
            let nsteps = f64::from(state.duration.max(1));
            let r = W_LOST * f64::from(state.steps_left) / nsteps - W_LOST;
            terms.lost = -r;
            t.task_done = true;
        }

        if t.passing_ball
            && t.prev_ball_owned_player != -1
            && owned_player != -1
            && !stolen
            && owned_player != t.prev_ball_owned_player
        {
            terms.pass = W_PASS * pass_clear(ball, opponents(state)) * t.pass_scale;
            t.pass_scale *= 0.75;
            t.passing_ball = false;
        }

        if owned_player != -1 {
            t.prev_ball_owned_player = owned_player;
        }
        if action.is_pass() {
            t.passing_ball = true;
        }

        if action == Action::Shot && owned_player != -1 && owned_team == 0 && !t.performed_shot {
            let r = W_SHOT * shot_clear(ball, opponents(state)) * shot_distance(ball[0]);
            terms.shot = r.min(W_GOAL / 3.0);
            t.performed_shot = true;
        }

        if t.prev_ball_owned_player != owned_player && t.performed_shot {
            t.performed_shot = false;
        }

        terms.progress *= SCALE;
        terms.passed *= SCALE;
        terms.goal *= SCALE;
        terms.lost *= SCALE;
        terms.pass *= SCALE;
        terms.shot *= SCALE;
        terms
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::{Player, PlayerId, Role, Team};
    use super::super::vec2::Vec2;
    use super::*;

    const EPS: f64 = 1e-9;

    /// Two left players, opponents at `right`, ball held by left player `owner` at `ball`.
    fn state(ball: (f32, f32), owner: Option<(Team, usize)>, right: &[(f32, f32)]) -> State {
        let mut st = State::new(400);
        for x in [0.0, 0.1] {
            st.left
                .push(Player::new(
                    Team::Left,
                    Role::CentralForward,
                    Vec2::new(x, 0.0),
                ))
                .unwrap();
        }
        for &(x, y) in right {
            st.right
                .push(Player::new(Team::Right, Role::CentreBack, Vec2::new(x, y)))
                .unwrap();
        }
        st.ball.pos = Vec2::new(ball.0, ball.1);
        st.owner = owner.map(|(team, index)| PlayerId { team, index });
        st
    }

    const LEFT0: Option<(Team, usize)> = Some((Team::Left, 0));
    const LEFT1: Option<(Team, usize)> = Some((Team::Left, 1));

    #[test]
    fn count_passed_is_strictly_behind() {
        let opp = [[0.25, 0.0], [0.5, 0.1], [0.75, 0.0]];
        assert_eq!(count_passed(0.5, opp), 1);
        assert_eq!(count_passed(0.8, opp), 3);
        assert_eq!(count_passed(-1.0, opp), 0);
    }

    #[test]
    fn pass_clear_weights_opponents_ahead_tenfold() {
        // Behind (cos −1): 0.1; ahead (cos 1): 0.1/11; beside (cos 0): 0.2.
        assert!((pass_clear([0.5, 0.0], [[0.4, 0.0]]) - 0.1).abs() < EPS);
        assert!((pass_clear([0.5, 0.0], [[0.6, 0.0]]) - 0.1 / 11.0).abs() < EPS);
        assert!((pass_clear([0.5, 0.0], [[0.5, 0.2]]) - 0.2).abs() < EPS);
        assert!(
            (pass_clear([0.5, 0.0], [[0.4, 0.0], [0.6, 0.0], [0.5, 0.2]]) - 0.1 / 11.0).abs() < EPS
        );
        // 45° ahead: dist √0.02, cos √½ → √0.02 / (10·√½ + 1).
        let expected = 0.02f64.sqrt() / (10.0 * 0.5f64.sqrt() + 1.0);
        assert!((pass_clear([0.5, 0.0], [[0.6, 0.1]]) - expected).abs() < EPS);
        // Guards: no opponents, an opponent on the ball, the ball on the goal centre.
        assert_eq!(pass_clear([0.5, 0.0], []), 0.0);
        assert_eq!(pass_clear([0.5, 0.0], [[0.5, 0.0], [0.9, 0.3]]), 0.0);
        assert!((pass_clear([1.0, 0.0], [[0.9, 0.0]]) - 0.1).abs() < EPS);
    }

    #[test]
    fn shot_clear_samples_the_line_and_takes_the_best_target() {
        // Keeper on the goal centre: the best target is a post; the nearest sample is the 99th.
        let c = shot_clear([0.5, 0.0], [[1.0, 0.0]]);
        assert!((c - 0.005f64.hypot(0.99 * 0.044)).abs() < 1e-12);
        // An opponent on the ball: the first sample (1%) is the nearest, best toward a post.
        let c = shot_clear([0.25, 0.0], [[0.25, 0.0]]);
        assert!((c - 0.0075f64.hypot(0.01 * 0.044)).abs() < 1e-12);
        // No opponents: MageBench's initial 1e10.
        assert_eq!(shot_clear([0.5, 0.0], []), 1e10);
    }

    #[test]
    fn shot_distance_is_one_near_goal_then_linear() {
        assert_eq!(shot_distance(0.8), 1.0);
        assert!((shot_distance(0.5) - 0.5).abs() < EPS);
        assert!((shot_distance(0.7) - 0.7).abs() < EPS);
        assert_eq!(shot_distance(-0.5), 0.0);
    }

    #[test]
    fn first_call_initialises_and_pays_nothing() {
        let mut r = MageBenchReward::new();
        let t = r.step(&state((0.5, 0.0), LEFT0, &[(0.75, 0.0)]), Action::Shot);
        assert_eq!(t, RewardTerms::default());
    }

    #[test]
    fn progress_and_opponents_passed_while_in_possession() {
        let opp = [(0.5625, 0.0), (0.875, 0.2)];
        let mut r = MageBenchReward::new();
        r.step(&state((0.5, 0.0), LEFT0, &opp), Action::Right);
        // +0.125 and one opponent passed: 20·0.8·0.125 = 2, 20·1/11.
        let t = r.step(&state((0.625, 0.0), LEFT0, &opp), Action::Right);
        assert!((t.progress - 2.0).abs() < EPS);
        assert!((t.passed - 20.0 / 11.0).abs() < EPS);
        assert!((t.total() - (2.0 + 20.0 / 11.0)).abs() < EPS);
        // Back behind the opponent: no progress, −1/11.
        let t = r.step(&state((0.5, 0.0), LEFT0, &opp), Action::Left);
        assert_eq!(t.progress, 0.0);
        assert!((t.passed + 20.0 / 11.0).abs() < EPS);
        // Forward again but short of the best x: only the passed term.
        let t = r.step(&state((0.59375, 0.0), LEFT0, &opp), Action::Right);
        assert_eq!(t.progress, 0.0);
        assert!((t.passed - 20.0 / 11.0).abs() < EPS);
        // A loose ball pays neither.
        let t = r.step(&state((0.75, 0.0), None, &opp), Action::Right);
        assert_eq!(t, RewardTerms::default());
        // Best x is still 0.625.
        let t = r.step(&state((0.75, 0.0), LEFT0, &opp), Action::Right);
        assert!((t.progress - 20.0 * 0.8 * 0.125).abs() < EPS);
    }

    #[test]
    fn goal_pays_two_times_twenty() {
        let mut r = MageBenchReward::new();
        r.step(&state((0.9, 0.0), LEFT0, &[(1.0, 0.0)]), Action::Right);
        let mut st = state((1.01, 0.0), None, &[(1.0, 0.0)]);
        st.score = [1, 0];
        assert!((r.step(&st, Action::Right).goal - 40.0).abs() < EPS);
    }

    #[test]
    fn lost_ball_pays_more_the_later_it_happens() {
        for (steps_left, expected) in [(300u32, 5.0), (400, 0.0), (0, 20.0)] {
            let mut r = MageBenchReward::new();
            r.step(&state((0.5, 0.0), LEFT0, &[(0.6, 0.0)]), Action::Idle);
            let mut st = state((0.5, 0.0), Some((Team::Right, 0)), &[(0.6, 0.0)]);
            st.steps_left = steps_left;
            let t = r.step(&st, Action::Idle);
            // −20·(steps_left/400 − 1).
            assert!((t.lost - expected).abs() < EPS, "{steps_left}");
            assert!(r.task_done());
        }
    }

    #[test]
    fn successful_passes_pay_clearance_with_a_decaying_scale() {
        // Opponents behind (0.1 away) and beside (0.2 away) the receiver: pass_clear 0.1.
        let opp = [(0.375, 0.0), (0.5, 0.2)];
        let mut r = MageBenchReward::new();
        r.step(&state((0.0, 0.0), LEFT0, &opp), Action::Idle);
        // Pass ordered while player 0 has the ball; then the ball is loose.
        assert_eq!(
            r.step(&state((0.0, 0.0), LEFT0, &opp), Action::ShortPass)
                .pass,
            0.0
        );
        assert_eq!(
            r.step(&state((0.2, 0.0), None, &opp), Action::Idle).pass,
            0.0
        );
        // Player 1 receives at (0.5, 0): pass_clear = min(0.125, 0.2) = 0.125 → 20·0.125·1·20.
        let t = r.step(&state((0.5, 0.0), LEFT1, &opp), Action::Idle);
        assert!((t.pass - 50.0).abs() < EPS, "{t:?}");
        // Back to player 0 with a long pass: scale 0.75.
        r.step(&state((0.5, 0.0), LEFT1, &opp), Action::LongPass);
        let t = r.step(&state((0.5, 0.0), LEFT0, &opp), Action::Idle);
        assert!((t.pass - 50.0 * 0.75).abs() < EPS);
        // The same player keeping the ball is no pass.
        r.step(&state((0.5, 0.0), LEFT0, &opp), Action::HighPass);
        assert_eq!(
            r.step(&state((0.5, 0.0), LEFT0, &opp), Action::Idle).pass,
            0.0
        );
    }

    #[test]
    fn shot_is_capped_and_paid_once_per_possession() {
        let keeper = [(1.0, 0.0)];
        let mut r = MageBenchReward::new();
        r.step(&state((0.75, 0.0), LEFT0, &keeper), Action::Right);
        // 100·0.0438…·1 = 4.38 > 2/3: capped, ×20.
        let t = r.step(&state((0.75, 0.0), LEFT0, &keeper), Action::Shot);
        assert!((t.shot - 20.0 * 2.0 / 3.0).abs() < EPS);
        // Still holding the ball: no second shot reward.
        let t = r.step(&state((0.75, 0.0), LEFT0, &keeper), Action::Shot);
        assert_eq!(t.shot, 0.0);
        // The ball leaves the foot; a new possession may shoot again.
        r.step(&state((0.8, 0.0), None, &keeper), Action::Idle);
        let t = r.step(&state((0.8, 0.0), LEFT0, &keeper), Action::Shot);
        assert!(t.shot > 0.0);
    }

    #[test]
    fn an_uncapped_shot_from_far() {
        // Opponent on the ball at x = 0.25: shot_clear = hypot(0.0075, 0.00044), distance 0.25.
        let opp = [(0.25, 0.0)];
        let mut r = MageBenchReward::new();
        r.step(&state((0.25, 0.0), LEFT0, &opp), Action::Idle);
        let t = r.step(&state((0.25, 0.0), LEFT0, &opp), Action::Shot);
        let expected = 20.0 * 100.0 * 0.0075f64.hypot(0.01 * 0.044) * 0.25;
        assert!((t.shot - expected).abs() < 1e-9, "{} vs {expected}", t.shot);
        // A shot without the ball pays nothing.
        let mut r = MageBenchReward::new();
        r.step(&state((0.25, 0.0), None, &opp), Action::Idle);
        assert_eq!(
            r.step(&state((0.25, 0.0), None, &opp), Action::Shot).shot,
            0.0
        );
    }

    #[test]
    fn a_keeper_catching_a_shot_still_pays_the_lost_term() {
        // MageBench resets the shot flag while the ball is loose, so the catch counts as lost.
        let keeper = [(1.0, 0.0)];
        let mut r = MageBenchReward::new();
        r.step(&state((0.75, 0.0), LEFT0, &keeper), Action::Right);
        r.step(&state((0.75, 0.0), LEFT0, &keeper), Action::Shot);
        r.step(&state((0.85, 0.0), None, &keeper), Action::Idle);
        let mut st = state((0.99, 0.0), Some((Team::Right, 0)), &keeper);
        st.steps_left = 200;
        let t = r.step(&st, Action::Idle);
        assert!((t.lost - 10.0).abs() < EPS);
    }
}
