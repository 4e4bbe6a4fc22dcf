//! A 2D top-down football game with Google Research Football's conventions, and MageBench's
//! football reward (the "Football Game" task LMM-R1 evaluates on; `shared/docs/method.md` §6).
//!
//! gfootball cannot run here, so this is an honest stand-in, not a port of its engine. It
//! keeps what an agent sees: the pitch `x ∈ [−1, 1]`, `y ∈ [−0.42, 0.42]` with goals at
//! `x = ±1`, one controlled left player attacking right, the 16 text actions MageBench lets a
//! model name ([`Action::MAGEBENCH`]), sticky sprint/dribble/direction, a raw observation with
//! gfootball's field names ([`RawObservation`]), 10 steps per second of game time, and
//! MageBench's episode rules: a game stops on a goal, the ball going out, a change of
//! possession, or after 400 steps. Everything is seeded ([`Env::reset`]).
//!
//! * [`state`]: pitch constants and the plain-struct game state;
//! * [`physics`]: player and ball kinematics; [`rules`]: kicks, saves, control, tackles, goals;
//! * [`policies`]: the built-in AI of every other player;
//! * [`actions`]: the action set and MageBench answer parsing;
//! * [`scenarios`]: academy-style drills and small-sided games;
//! * [`reward`]: MageBench's dense reward; [`checkpoints`]: gfootball's checkpoint reward;
//! * [`env`](mod@env): [`Env`] (`reset`/`step`); [`turns`]: MageBench's multi-step turns;
//! * [`scorer`]: the text-answer [`crate::Reward`] ([`FootballReward`]) and goal rates.
//!
//! ```
//! use lmmr1_rewards::football::{Action, Env, Scenario};
//! let mut env = Env::new(Scenario::from_name("academy_3_vs_1_with_keeper").unwrap());
//! env.reset(42);
//! let step = env.step(Action::from_name("action_top_right").unwrap()).unwrap();
//! assert!(!step.done);
//! let obs = env.observation();
//! assert_eq!(obs.ball_owned_team, 0);
//! assert_eq!(obs.sticky_actions[3], 1); // top_right is held
//! ```

pub mod actions;
pub mod checkpoints;
pub mod env;
mod error;
pub mod physics;
pub mod policies;
pub mod reward;
pub mod rules;
pub mod scenarios;
pub mod scorer;
pub mod state;
pub mod turns;
pub mod vec2;

pub use actions::{parse_actions, parse_answer, Action, Direction};
pub use env::{Env, EpisodeEnd, Step, StepInfo};
pub use error::FootballError;
pub use reward::{MageBenchReward, RewardTerms};
pub use scenarios::Scenario;
pub use scorer::{Evaluation, FootballReward, FootballTask, Playback};
pub use state::{
    Ball, GameMode, Player, PlayerId, RawObservation, Role, Squad, State, StickyActions, Team,
    MAX_PLAYERS,
};
pub use vec2::Vec2;
