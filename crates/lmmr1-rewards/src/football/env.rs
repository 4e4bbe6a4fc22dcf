//! The environment: `reset(seed)` and `step(action)`, with MageBench's reward and gfootball's
//! `scoring,checkpoints` reward computed along.

use super::actions::Action;
use super::checkpoints::{scoring_reward, CheckpointReward};
use super::error::FootballError;
use super::physics::{
    advance_ball, carry_ball, move_player, CARRY_FACTOR, DRIBBLE_SPEED, RUN_SPEED, SPRINT_SPEED,
};
use super::policies::{builtin_carrier, team_wants};
use super::reward::{MageBenchReward, RewardTerms};
use super::rules::{check_stoppage, release_kick, resolve_free_ball, resolve_tackles, Stoppage};
use super::scenarios::Scenario;
use super::state::{KickKind, PendingKick, PlayerId, RawObservation, State, Team};
use super::vec2::Vec2;
use crate::rng::SplitMix64;

/// Why an episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpisodeEnd {
    /// A goal for this team.
    Goal(Team),
    /// The ball went over a touchline or goal line.
    OutOfPlay,
    /// The other team won the ball.
    PossessionChange,
    /// The game duration ran out.
    TimeUp,
}

/// What a step reports besides the reward.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepInfo {
    /// MageBench's reward terms this step (×20; they sum to the reward).
    pub terms: RewardTerms,
    /// gfootball's `scoring` reward this step (+1 / −1 / 0).
    pub scoring: f64,
    /// gfootball's `scoring,checkpoints` reward this step.
    pub checkpoints: f64,
    /// MageBench's reward accumulated over the episode (its score).
    pub accumulated: f64,
    /// Why the episode ended, when `done`.
    pub end: Option<EpisodeEnd>,
}

/// The result of one step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Step {
    /// MageBench's dense reward for this step (×20).
    pub reward: f64,
    /// Whether the episode is over.
    pub done: bool,
    /// Reward terms, alternative rewards and the end reason.
    pub info: StepInfo,
}

/// A football game in one scenario, deterministic for a seed.
///
/// ```
/// use lmmr1_rewards::football::{Action, Env, EpisodeEnd, Scenario, Team};
/// let mut env = Env::new(Scenario::empty_goal_close());
/// env.reset(0);
/// let mut last = None;
/// for _ in 0..100 {
///     let step = env.step(Action::Right).unwrap();
///     if step.done {
///         last = Some(step);
///         break;
///     }
/// }
/// let last = last.unwrap();
/// assert_eq!(last.info.end, Some(EpisodeEnd::Goal(Team::Left)));
/// assert!(last.info.accumulated > 40.0); // progress + the goal bonus (2 × 20)
/// ```
#[derive(Debug, Clone)]
pub struct Env {
    scenario: Scenario,
    state: State,
    rng: SplitMix64,
    magebench: MageBenchReward,
    checkpoints: CheckpointReward,
    accumulated: f64,
    totals: RewardTerms,
    end: Option<EpisodeEnd>,
}

impl Env {
    /// An environment for `scenario`, reset with seed 0.
    pub fn new(scenario: Scenario) -> Self {
        let state = scenario.initial_state(0);
        let mut env = Self {
            scenario,
            state,
            rng: SplitMix64::new(0),
            magebench: MageBenchReward::new(),
            checkpoints: CheckpointReward::new(),
            accumulated: 0.0,
            totals: RewardTerms::default(),
            end: None,
        };
        env.reset(0);
        env
    }

    /// Starts a new episode; everything random in it follows from `seed`.
    pub fn reset(&mut self, seed: u64) -> &State {
        self.state = self.scenario.initial_state(seed);
        self.rng = SplitMix64::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xF00D);
        self.magebench.reset();
        self.checkpoints.reset();
        self.accumulated = 0.0;
        self.totals = RewardTerms::default();
        self.end = None;
        &self.state
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The scenario being played.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// gfootball's raw observation of the current state.
    pub fn observation(&self) -> RawObservation {
        self.state.raw_observation()
    }

    /// Whether the episode is over.
    pub fn is_done(&self) -> bool {
        self.end.is_some()
    }

    /// Why the episode ended, once it has.
    pub fn end(&self) -> Option<EpisodeEnd> {
        self.end
    }

    /// MageBench's accumulated reward so far.
    pub fn accumulated(&self) -> f64 {
        self.accumulated
    }

    /// MageBench's reward terms summed over the episode so far.
    pub fn accumulated_terms(&self) -> RewardTerms {
        self.totals
    }

    /// Plays one step (0.1 s) with `action` for the controlled player.
    ///
    /// Errors with [`FootballError::EpisodeOver`] once the episode has ended.
    pub fn step(&mut self, action: Action) -> Result<Step, FootballError> {
        if self.end.is_some() {
            return Err(FootballError::EpisodeOver);
        }
        let score_before = self.state.score;
        let stopped = self.advance(action);
        let st = &mut self.state;
        st.steps_left = st.steps_left.saturating_sub(1);
        let end = match stopped {
            None if st.steps_left == 0 => Some(EpisodeEnd::TimeUp),
            other => other,
        };

        let terms = self.magebench.step(&self.state, action);
        let scoring = scoring_reward(score_before, self.state.score);
        let checkpoints = self.checkpoints.step(&self.state, scoring);
        let reward = terms.total();
        self.accumulated += reward;
        self.totals.accumulate(&terms);
        self.end = end;
        Ok(Step {
            reward,
            done: end.is_some(),
            info: StepInfo {
                terms,
                scoring,
                checkpoints,
                accumulated: self.accumulated,
                end,
            },
        })
    }

    /// The game rules for one step; what stopped play, if anything (not the clock).
    fn advance(&mut self, action: Action) -> Option<EpisodeEnd> {
        let st = &mut self.state;
        let rng = &mut self.rng;

        // 1. The controller: sticky actions and kick orders.
        let mut kick = match action {
            Action::LongPass => Some(KickKind::LongPass),
            Action::HighPass => Some(KickKind::HighPass),
            Action::ShortPass => Some(KickKind::ShortPass),
            Action::Shot => Some(KickKind::Shot),
            _ => None,
        };
        match action {
            Action::Sprint => st.sticky.sprint = true,
            Action::ReleaseSprint => st.sticky.sprint = false,
            Action::Dribble => st.sticky.dribble = true,
            Action::ReleaseDribble => st.sticky.dribble = false,
            Action::ReleaseDirection => st.sticky.direction = None,
            a => {
                if let Some(d) = a.direction() {
                    st.sticky.direction = Some(d);
                }
            }
        }
        let active = st.active;
        let active_id = PlayerId {
            team: Team::Left,
            index: active,
        };
        let has_ball = st.owner == Some(active_id);
        let active_want = if action == Action::BuiltinAi {
            let (want, ai_kick) = builtin_carrier(st);
            kick = ai_kick;
            want
        } else {
            match st.sticky.direction {
                Some(d) => {
                    let mut speed = if st.sticky.dribble && has_ball {
                        DRIBBLE_SPEED
                    } else if st.sticky.sprint {
                        SPRINT_SPEED
                    } else {
                        RUN_SPEED
                    };
                    if has_ball {
                        speed *= CARRY_FACTOR;
                    }
                    d.vector() * speed
                }
                None => Vec2::ZERO,
            }
        };

        // 2. A kick ordered last step leaves the foot; a new order winds up.
        if let Some(p) = st.pending_kick.take() {
            release_kick(st, p, rng);
        }
        if let Some(kind) = kick {
            if st.owner == Some(active_id) {
                st.pending_kick = Some(PendingKick {
                    kind,
                    kicker: active_id,
                });
            }
        }

        // 3. Everyone moves.
        let wants = team_wants(st);
        for (ti, team) in [Team::Left, Team::Right].into_iter().enumerate() {
            for (i, p) in st.squad_mut(team).players_mut().iter_mut().enumerate() {
                let want = if team == Team::Left && i == active {
                    active_want
                } else {
                    wants[ti][i]
                };
                move_player(p, want);
                p.touch_cooldown = p.touch_cooldown.saturating_sub(1);
            }
        }

        // 4. The ball follows its carrier or flies/rolls.
        let prev = st.ball.pos;
        match st.owner.and_then(|o| st.player(o).copied()) {
            Some(carrier) => carry_ball(&mut st.ball, &carrier),
            None => advance_ball(&mut st.ball),
        }

        // 5. Goal or out of play; else who gets the ball.
        match check_stoppage(st, prev) {
            Some(Stoppage::Goal(t)) => return Some(EpisodeEnd::Goal(t)),
            Some(Stoppage::OutOfPlay) => return Some(EpisodeEnd::OutOfPlay),
            None => {}
        }
        let changed = if st.owner.is_none() {
            resolve_free_ball(st, prev, rng)
        } else {
            resolve_tackles(st, rng)
        };
        changed.then_some(EpisodeEnd::PossessionChange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stepping_after_the_end_is_an_error_until_reset() {
        let mut env = Env::new(Scenario::empty_goal_close());
        let mut n = 0;
        while !env.step(Action::Right).unwrap().done {
            n += 1;
            assert!(n < 400);
        }
        assert_eq!(env.step(Action::Right), Err(FootballError::EpisodeOver));
        env.reset(1);
        assert!(!env.is_done());
        assert!(env.step(Action::Right).is_ok());
    }

    #[test]
    fn time_runs_out_after_the_duration() {
        let mut env = Env::new(Scenario::empty_goal().with_duration(5));
        for i in 0..5 {
            let s = env.step(Action::Idle).unwrap();
            assert_eq!(s.done, i == 4);
        }
        assert_eq!(env.end(), Some(EpisodeEnd::TimeUp));
        assert_eq!(env.state().steps_left, 0);
    }
}
