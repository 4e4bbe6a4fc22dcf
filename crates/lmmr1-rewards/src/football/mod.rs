//! A 2D top-down football game with Google Research Football's conventions (work in
//! progress: state, actions, physics, rules, built-in policies and scenarios).

pub mod actions;
mod error;
pub mod geometry;
pub mod physics;
pub mod policies;
pub mod rng;
pub mod rules;
pub mod scenarios;
pub mod state;

pub use actions::{parse_actions, parse_answer, Action, Direction};
pub use error::FootballError;
pub use geometry::Vec2;
pub use scenarios::Scenario;
pub use state::{
    Ball, GameMode, Player, PlayerId, RawObservation, Role, Squad, State, StickyActions, Team,
    MAX_PLAYERS,
};
