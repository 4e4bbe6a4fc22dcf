//! A 2D top-down football game with Google Research Football's conventions (work in
//! progress: the state, the action set and MageBench answer parsing).

pub mod actions;
mod error;
pub mod geometry;
pub mod rng;
pub mod state;

pub use actions::{parse_actions, parse_answer, Action, Direction};
pub use error::FootballError;
pub use geometry::Vec2;
pub use state::{
    Ball, GameMode, Player, PlayerId, RawObservation, Role, Squad, State, StickyActions, Team,
    MAX_PLAYERS,
};
