//! MageBench's "adapting render": one model action becomes one *turn* of several steps
//! (`FootballEnv.take_action` in `microsoft/MageBench` `env/football_env.py`).
//!
//! * The very first action of a game is one plain step, and is not remembered.
//! * A move repeating the previous move runs automatically for up to 10 steps; it stops early
//!   when, projecting the mover 0–5 steps ahead, an opponent comes within 0.01, or when the
//!   mover 3 steps ahead would be off the pitch.
//! * A pass or shot while a player owns the ball alternates (kick, last move direction) until
//!   the ball leaves that player, then plays `builtin_ai` until someone owns it again.
//! * Anything else is one plain step.

use super::actions::{Action, Direction};
use super::env::{Env, EpisodeEnd};
use super::error::FootballError;
use super::reward::RewardTerms;
use super::state::{State, PITCH_HALF_LENGTH, PITCH_HALF_WIDTH};
use super::vec2::Vec2;

/// Most steps of an automatic move (`MAX_AUTO_STEPS`).
pub const MAX_AUTO_STEPS: u32 = 10;
/// An automatic move stops when an opponent is projected this close (`MOVE_MIN_DISTANCE`).
pub const MOVE_MIN_DISTANCE: f32 = 0.01;

/// What one turn did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Turn {
    /// Environment steps played.
    pub steps: u32,
    /// MageBench reward summed over those steps.
    pub reward: f64,
    /// Reward terms summed over those steps.
    pub terms: RewardTerms,
    /// Whether the episode ended.
    pub done: bool,
    /// Why, when `done`.
    pub end: Option<EpisodeEnd>,
}

/// Auto-acting state between turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnPlayer {
    started: bool,
    prev_act: Option<Action>,
    prev_direction: Direction,
}

impl Default for TurnPlayer {
    fn default() -> Self {
        Self::new()
    }
}

impl TurnPlayer {
    /// A player for a fresh episode (use a new one after every `Env::reset`).
    pub fn new() -> Self {
        Self {
            started: false,
            prev_act: None,
            prev_direction: Direction::Right,
        }
    }

    /// Plays one turn of `action` in `env`.
    ///
    /// ```
    /// use lmmr1_rewards::football::{Action, Env, Scenario, turns::TurnPlayer};
    /// let mut env = Env::new(Scenario::empty_goal());
    /// let mut turns = TurnPlayer::new();
    /// assert_eq!(turns.play(&mut env, Action::Right).unwrap().steps, 1);
    /// assert_eq!(turns.play(&mut env, Action::Right).unwrap().steps, 1);
    /// // The same move as the remembered one runs on automatically for up to 10 steps.
    /// assert_eq!(turns.play(&mut env, Action::Right).unwrap().steps, 10);
    /// ```
    pub fn play(&mut self, env: &mut Env, action: Action) -> Result<Turn, FootballError> {
        let mut turn = Turn::default();
        if !self.started {
            // MageBench creates its auto-acting memory only after the first action.
            self.started = true;
            step(env, action, &mut turn)?;
            return Ok(turn);
        }
        if let Some(d) = action.direction() {
            self.prev_direction = d;
            if self.prev_act != Some(action) {
                self.prev_act = Some(action);
                step(env, action, &mut turn)?;
                return Ok(turn);
            }
            for i in 0..MAX_AUTO_STEPS {
                step(env, action, &mut turn)?;
                if turn.done || i + 1 >= MAX_AUTO_STEPS || !keep_moving(env.state()) {
                    break;
                }
            }
            return Ok(turn);
        }
        let kicker = env.state().owner;
        let is_kick = action.is_pass() || action == Action::Shot;
        self.prev_act = Some(action);
        let Some(kicker) = kicker.filter(|_| is_kick) else {
            step(env, action, &mut turn)?;
            return Ok(turn);
        };
        // Kick, direction, kick, … while the kicker has the ball; builtin AI while it is
        // loose. The clock bounds the loop.
        while !turn.done {
            let owner = env.state().owner;
            if owner.map(|o| o.index) == Some(kicker.index) {
                step(env, action, &mut turn)?;
                if turn.done {
                    break;
                }
                step(env, self.prev_direction.action(), &mut turn)?;
            } else if owner.is_none() {
                step(env, Action::BuiltinAi, &mut turn)?;
            } else {
                break;
            }
        }
        Ok(turn)
    }
}

fn step(env: &mut Env, action: Action, turn: &mut Turn) -> Result<(), FootballError> {
    let s = env.step(action)?;
    turn.steps += 1;
    turn.reward += s.reward;
    turn.terms.accumulate(&s.info.terms);
    turn.done = s.done;
    turn.end = s.info.end;
    Ok(())
}

/// MageBench's `check_move_or_not`: keep moving unless the mover (the left ball carrier, or
/// the ball) 3 steps ahead is off the pitch or an opponent comes within
/// [`MOVE_MIN_DISTANCE`] in the next 0–5 steps of straight-line projection.
pub fn keep_moving(state: &State) -> bool {
    let (pos, dir) = match state.owner {
        Some(o) => match state.left.players().get(o.index) {
            Some(p) => (p.pos, p.vel),
            None => (state.ball.pos, state.ball.vel),
        },
        None => (state.ball.pos, state.ball.vel),
    };
    let ahead = pos + dir * 3.0;
    if ahead.x.abs() >= PITCH_HALF_LENGTH || ahead.y.abs() >= PITCH_HALF_WIDTH {
        return false;
    }
    for i in 0..6 {
        let k = i as f32;
        let me: Vec2 = pos + dir * k;
        for o in state.right.players() {
            if me.distance(o.pos + o.vel * k) < MOVE_MIN_DISTANCE {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::scenarios::Scenario;
    use super::*;

    #[test]
    fn automatic_moves_stop_at_the_lines() {
        let mut env = Env::new(Scenario::empty_goal());
        let mut t = TurnPlayer::new();
        t.play(&mut env, Action::Bottom).unwrap();
        t.play(&mut env, Action::Bottom).unwrap();
        let mut total = 2;
        for _ in 0..10 {
            let turn = t.play(&mut env, Action::Bottom).unwrap();
            total += turn.steps;
            assert!(!turn.done, "stopped before leaving the pitch");
            if turn.steps < MAX_AUTO_STEPS {
                break;
            }
        }
        // 0.42 at about 0.011 per step: the projection stops it within a few steps of the line.
        let y = env.state().ball.pos.y;
        assert!(y > 0.35 && y < 0.42, "y = {y} after {total} steps");
    }

    #[test]
    fn a_pass_turn_runs_until_the_ball_is_received() {
        let mut env = Env::new(Scenario::three_vs_one_with_keeper());
        env.reset(4);
        let mut t = TurnPlayer::new();
        t.play(&mut env, Action::TopRight).unwrap();
        let turn = t.play(&mut env, Action::ShortPass).unwrap();
        assert!(turn.steps > 3, "{turn:?}");
        assert!(!turn.done, "{turn:?}");
        assert_eq!(env.state().ball_owned_player(), 2);
        assert!(turn.terms.pass > 0.0);
    }

    #[test]
    fn other_actions_are_single_steps() {
        let mut env = Env::new(Scenario::three_vs_one_with_keeper());
        let mut t = TurnPlayer::new();
        t.play(&mut env, Action::Right).unwrap();
        assert_eq!(t.play(&mut env, Action::Sprint).unwrap().steps, 1);
        assert_eq!(t.play(&mut env, Action::TopRight).unwrap().steps, 1);
    }
}
