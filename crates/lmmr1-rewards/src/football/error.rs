//! Errors of the football game.

/// What can go wrong when building or playing a football game.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FootballError {
    /// A text id that is not one of the actions (the id is cut to 64 characters).
    #[error("unknown football action `{0}`")]
    UnknownAction(String),
    /// A text answer that names no action.
    #[error("the answer names no football action")]
    NoAction,
    /// A scenario name that is not one of [`crate::football::Scenario::NAMES`].
    #[error("unknown football scenario `{0}`")]
    UnknownScenario(String),
    /// A team would have more than [`crate::football::MAX_PLAYERS`] players.
    #[error("a team can have at most {max} players")]
    TooManyPlayers {
        /// The limit.
        max: usize,
    },
    /// A scenario whose controlled player or ball carrier does not exist.
    #[error("invalid scenario: {0}")]
    InvalidScenario(&'static str),
    /// `step` was called after the episode ended; call `reset` first.
    #[error("the episode is over; call reset")]
    EpisodeOver,
}
