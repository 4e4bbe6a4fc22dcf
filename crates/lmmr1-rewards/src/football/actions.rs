//! The action set: gfootball's `v2` actions, named as MageBench names them, and parsing of
//! MageBench's text answers (`# action\naction_top_right`).
//!
//! Actions are mapped by **name**. MageBench's code table follows gfootball's `v2` ordering
//! (idle 0 … builtin_ai 19), which differs from the `full` set it configures (there 13 is
//! `keeper_rush`); see `shared/docs/rewards-anchors.md` §5.1.

use super::error::FootballError;
use super::vec2::Vec2;

/// One of the eight run directions. "Top" is `y < 0`, as on gfootball's screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// −x.
    Left,
    /// −x, −y.
    TopLeft,
    /// −y.
    Top,
    /// +x, −y.
    TopRight,
    /// +x.
    Right,
    /// +x, +y.
    BottomRight,
    /// +y.
    Bottom,
    /// −x, +y.
    BottomLeft,
}

impl Direction {
    /// All directions in gfootball's order (sticky-action slots 0–7).
    pub const ALL: [Direction; 8] = [
        Direction::Left,
        Direction::TopLeft,
        Direction::Top,
        Direction::TopRight,
        Direction::Right,
        Direction::BottomRight,
        Direction::Bottom,
        Direction::BottomLeft,
    ];

    /// The unit vector of this direction.
    pub fn vector(self) -> Vec2 {
        const D: f32 = std::f32::consts::FRAC_1_SQRT_2;
        match self {
            Direction::Left => Vec2::new(-1.0, 0.0),
            Direction::TopLeft => Vec2::new(-D, -D),
            Direction::Top => Vec2::new(0.0, -1.0),
            Direction::TopRight => Vec2::new(D, -D),
            Direction::Right => Vec2::new(1.0, 0.0),
            Direction::BottomRight => Vec2::new(D, D),
            Direction::Bottom => Vec2::new(0.0, 1.0),
            Direction::BottomLeft => Vec2::new(-D, D),
        }
    }

    /// Index in gfootball's `sticky_actions` vector (0–7).
    pub fn sticky_index(self) -> usize {
        self as usize
    }

    /// The move action for this direction.
    pub fn action(self) -> Action {
        match self {
            Direction::Left => Action::Left,
            Direction::TopLeft => Action::TopLeft,
            Direction::Top => Action::Top,
            Direction::TopRight => Action::TopRight,
            Direction::Right => Action::Right,
            Direction::BottomRight => Action::BottomRight,
            Direction::Bottom => Action::Bottom,
            Direction::BottomLeft => Action::BottomLeft,
        }
    }
}

/// A controller action: gfootball's `v2` set minus `sliding` (defending is not modelled).
///
/// The first 16 of [`Action::MAGEBENCH`] are what MageBench lets a model name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Do nothing new (sticky actions stay on).
    Idle,
    /// Run left.
    Left,
    /// Run up-left.
    TopLeft,
    /// Run up.
    Top,
    /// Run up-right.
    TopRight,
    /// Run right.
    Right,
    /// Run down-right.
    BottomRight,
    /// Run down.
    Bottom,
    /// Run down-left.
    BottomLeft,
    /// A fast ground pass, preferring far teammates in the facing direction.
    LongPass,
    /// A lofted pass over the opponents.
    HighPass,
    /// A soft ground pass to a near teammate in the facing direction.
    ShortPass,
    /// A shot at the right goal.
    Shot,
    /// Start sprinting (sticky).
    Sprint,
    /// Stop running (clears the sticky direction).
    ReleaseDirection,
    /// Stop sprinting.
    ReleaseSprint,
    /// Start dribbling (sticky): slower, harder to tackle.
    Dribble,
    /// Stop dribbling.
    ReleaseDribble,
    /// Let the built-in AI play the controlled player this step.
    BuiltinAi,
}

impl Action {
    /// Every action, in gfootball `v2` order (without `sliding`).
    pub const ALL: [Action; 19] = [
        Action::Idle,
        Action::Left,
        Action::TopLeft,
        Action::Top,
        Action::TopRight,
        Action::Right,
        Action::BottomRight,
        Action::Bottom,
        Action::BottomLeft,
        Action::LongPass,
        Action::HighPass,
        Action::ShortPass,
        Action::Shot,
        Action::Sprint,
        Action::ReleaseDirection,
        Action::ReleaseSprint,
        Action::Dribble,
        Action::ReleaseDribble,
        Action::BuiltinAi,
    ];

    /// The 16 actions of MageBench's Football prompt, in its order.
    pub const MAGEBENCH: [Action; 16] = [
        Action::Left,
        Action::TopLeft,
        Action::Top,
        Action::TopRight,
        Action::Right,
        Action::BottomRight,
        Action::Bottom,
        Action::BottomLeft,
        Action::LongPass,
        Action::HighPass,
        Action::ShortPass,
        Action::Shot,
        Action::Sprint,
        Action::ReleaseSprint,
        Action::Dribble,
        Action::ReleaseDribble,
    ];

    /// The text id, e.g. `"action_top_right"`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Idle => "action_idle",
            Action::Left => "action_left",
            Action::TopLeft => "action_top_left",
            Action::Top => "action_top",
            Action::TopRight => "action_top_right",
            Action::Right => "action_right",
            Action::BottomRight => "action_bottom_right",
            Action::Bottom => "action_bottom",
            Action::BottomLeft => "action_bottom_left",
            Action::LongPass => "action_long_pass",
            Action::HighPass => "action_high_pass",
            Action::ShortPass => "action_short_pass",
            Action::Shot => "action_shot",
            Action::Sprint => "action_sprint",
            Action::ReleaseDirection => "action_release_direction",
            Action::ReleaseSprint => "action_release_sprint",
            Action::Dribble => "action_dribble",
            Action::ReleaseDribble => "action_release_dribble",
            Action::BuiltinAi => "action_builtin_ai",
        }
    }

    /// The action with text id `name` (exact, lower case, as MageBench matches it).
    ///
    /// ```
    /// use lmmr1_rewards::football::Action;
    /// assert_eq!(Action::from_name("action_top_right"), Ok(Action::TopRight));
    /// assert!(Action::from_name("action_keeper_rush").is_err());
    /// ```
    pub fn from_name(name: &str) -> Result<Action, FootballError> {
        Action::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| FootballError::UnknownAction(truncate(name)))
    }

    /// The action MageBench's `FootballAction` makes of `name`: the named action, or
    /// `action_idle` for anything it does not know (including `action_sliding`, which is not
    /// modelled here).
    ///
    /// ```
    /// use lmmr1_rewards::football::Action;
    /// assert_eq!(Action::from_magebench_name("action_shot"), Action::Shot);
    /// assert_eq!(Action::from_magebench_name("shoot!"), Action::Idle);
    /// ```
    pub fn from_magebench_name(name: &str) -> Action {
        Action::from_name(name).unwrap_or(Action::Idle)
    }

    /// MageBench's numeric code (gfootball `v2` index: idle 0 … builtin_ai 19; 16 is the
    /// unsupported `sliding`).
    pub fn magebench_code(self) -> u8 {
        match self {
            Action::Idle => 0,
            Action::Left => 1,
            Action::TopLeft => 2,
            Action::Top => 3,
            Action::TopRight => 4,
            Action::Right => 5,
            Action::BottomRight => 6,
            Action::Bottom => 7,
            Action::BottomLeft => 8,
            Action::LongPass => 9,
            Action::HighPass => 10,
            Action::ShortPass => 11,
            Action::Shot => 12,
            Action::Sprint => 13,
            Action::ReleaseDirection => 14,
            Action::ReleaseSprint => 15,
            Action::Dribble => 17,
            Action::ReleaseDribble => 18,
            Action::BuiltinAi => 19,
        }
    }

    /// The run direction of a move action.
    pub fn direction(self) -> Option<Direction> {
        Direction::ALL.into_iter().find(|d| d.action() == self)
    }

    /// Whether this is one of the three passes.
    pub fn is_pass(self) -> bool {
        matches!(
            self,
            Action::LongPass | Action::HighPass | Action::ShortPass
        )
    }
}

/// Keeps error messages short whatever the input.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Whether `c` can be part of an action id.
fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every action id in `text`, in order: maximal runs of `[A-Za-z0-9_]` that start with
/// `action_` (matched case-insensitively). An id that is not a known action is an error.
///
/// ```
/// use lmmr1_rewards::football::{parse_actions, Action};
/// let acts = parse_actions("`action_right`, then action_shot").unwrap();
/// assert_eq!(acts, vec![Action::Right, Action::Shot]);
/// ```
pub fn parse_actions(text: &str) -> Result<Vec<Action>, FootballError> {
    let mut out = Vec::new();
    for token in text.split(|c: char| !is_id_char(c)) {
        if token.len() >= 7 && token[..7].eq_ignore_ascii_case("action_") {
            out.push(Action::from_name(&token.to_ascii_lowercase())?);
        }
    }
    Ok(out)
}

/// The action of one MageBench turn, `# analyze\n…\n# action\n<id>`.
///
/// The id is the first action id after the last `# action` header; without a header, the
/// last action id in the text. Surrounding quotes, backticks and brackets are ignored.
///
/// ```
/// use lmmr1_rewards::football::{parse_answer, Action};
/// let answer = "# analyze\nThe goal is open; action_shot is tempting.\n# action\naction_top_right";
/// assert_eq!(parse_answer(answer), Ok(Action::TopRight));
/// ```
pub fn parse_answer(text: &str) -> Result<Action, FootballError> {
    let lower = text.to_ascii_lowercase();
    let header = lower
        .match_indices("# action")
        .map(|(i, _)| i)
        .filter(|&i| {
            // `# action` but not `# action_…` (an id written as a heading).
            !lower[i + 8..].starts_with('_')
        })
        .last();
    let acts = match header {
        Some(i) => parse_actions(&text[i + 8..])?,
        None => {
            let all = parse_actions(text)?;
            all.last().copied().into_iter().collect()
        }
    };
    acts.first().copied().ok_or(FootballError::NoAction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_codes_follow_v2() {
        for (i, a) in Action::ALL.into_iter().enumerate() {
            assert_eq!(Action::from_name(a.name()), Ok(a));
            let expected = if i >= 16 { i + 1 } else { i };
            assert_eq!(a.magebench_code() as usize, expected, "{a:?}");
        }
        assert_eq!(Action::MAGEBENCH.len(), 16);
        assert_eq!(Action::MAGEBENCH[0].name(), "action_left");
        assert_eq!(Action::MAGEBENCH[15].name(), "action_release_dribble");
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(matches!(
            Action::from_name("action_sliding"),
            Err(FootballError::UnknownAction(_))
        ));
        assert!(Action::from_name("").is_err());
        assert!(parse_actions("action_fly").is_err());
    }

    #[test]
    fn directions_have_unit_vectors_and_top_is_negative_y() {
        for d in Direction::ALL {
            assert!((d.vector().length() - 1.0).abs() < 1e-6);
            assert_eq!(d.action().direction(), Some(d));
        }
        assert!(Direction::Top.vector().y < 0.0);
        assert_eq!(Direction::TopRight.sticky_index(), 3);
    }

    #[test]
    fn parses_magebench_answers() {
        assert_eq!(parse_answer("# action\naction_shot"), Ok(Action::Shot));
        assert_eq!(
            parse_answer("# Analyze\nrun\n# Action\n'action_bottom_left'"),
            Ok(Action::BottomLeft)
        );
        assert_eq!(parse_answer("I pick ACTION_SPRINT"), Ok(Action::Sprint));
        assert_eq!(parse_answer("# action\n"), Err(FootballError::NoAction));
        assert_eq!(parse_answer(""), Err(FootballError::NoAction));
        // A huge non-ASCII input is handled without panicking.
        let junk = "é# action".repeat(1000);
        assert_eq!(parse_answer(&junk), Err(FootballError::NoAction));
    }
}
