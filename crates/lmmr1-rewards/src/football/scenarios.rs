//! Scenarios: academy-style drills and small-sided games, in gfootball's coordinates.
//!
//! Every scenario follows MageBench's settings: 400 steps, the right team at difficulty 0,
//! the game stopped by a goal, the ball going out, or a change of possession. The
//! agent controls the left player holding the ball. Positions are absolute (gfootball's
//! scenario files write the right team mirrored; here x always grows towards the right goal).
//!
//! ```
//! use lmmr1_rewards::football::Scenario;
//! let s = Scenario::from_name("academy_3_vs_1_with_keeper").unwrap();
//! let st = s.initial_state(7);
//! assert_eq!((st.left.len(), st.right.len()), (4, 2));
//! assert_eq!(st.ball_owned_team(), 0);
//! ```

use super::error::FootballError;
use super::physics::carry_ball;
use super::state::{Player, PlayerId, Role, State, Team, MAX_PLAYERS};
use super::vec2::Vec2;
use crate::rng::SplitMix64;

/// MageBench's game length (`NSTEPS`).
pub const DEFAULT_DURATION: u32 = 400;

/// A starting position, re-played with a little seeded jitter on every reset.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    name: &'static str,
    template: State,
    jitter: f32,
}

type Lineup<'a> = &'a [(Role, f32, f32)];

impl Scenario {
    /// Names accepted by [`Scenario::from_name`].
    pub const NAMES: [&'static str; 9] = [
        "academy_empty_goal_close",
        "academy_empty_goal",
        "academy_run_to_score",
        "academy_run_to_score_with_keeper",
        "academy_pass_and_shoot_with_keeper",
        "academy_3_vs_1_with_keeper",
        "academy_counterattack_easy",
        "small_sided_5_vs_5",
        "11_vs_11_kickoff",
    ];

    /// The scenario called `name` (one of [`Scenario::NAMES`]).
    pub fn from_name(name: &str) -> Result<Scenario, FootballError> {
        Ok(match name {
            "academy_empty_goal_close" => Self::empty_goal_close(),
            "academy_empty_goal" => Self::empty_goal(),
            "academy_run_to_score" => Self::run_to_score(),
            "academy_run_to_score_with_keeper" => Self::run_to_score_with_keeper(),
            "academy_pass_and_shoot_with_keeper" => Self::pass_and_shoot_with_keeper(),
            "academy_3_vs_1_with_keeper" => Self::three_vs_one_with_keeper(),
            "academy_counterattack_easy" => Self::counterattack_easy(),
            "small_sided_5_vs_5" => Self::five_vs_five(),
            "11_vs_11_kickoff" => Self::eleven_vs_eleven(),
            _ => {
                return Err(FootballError::UnknownScenario(
                    name.chars().take(64).collect(),
                ))
            }
        })
    }

    /// Builds a scenario from line-ups `(role, x, y)`; left player `carrier` starts with the
    /// ball and is the controlled player. `jitter` moves every other player by up to that
    /// much per reset.
    pub fn custom(
        name: &'static str,
        left: Lineup<'_>,
        right: Lineup<'_>,
        carrier: usize,
        jitter: f32,
    ) -> Result<Scenario, FootballError> {
        if left.len() > MAX_PLAYERS || right.len() > MAX_PLAYERS {
            return Err(FootballError::TooManyPlayers { max: MAX_PLAYERS });
        }
        if carrier >= left.len() {
            return Err(FootballError::InvalidScenario(
                "the ball carrier is not a left player",
            ));
        }
        if !jitter.is_finite() || jitter < 0.0 {
            return Err(FootballError::InvalidScenario(
                "jitter must be finite and ≥ 0",
            ));
        }
        let finite = |l: Lineup<'_>| l.iter().all(|&(_, x, y)| x.is_finite() && y.is_finite());
        if !finite(left) || !finite(right) {
            return Err(FootballError::InvalidScenario("positions must be finite"));
        }
        Ok(Self::build(name, left, right, carrier, jitter))
    }

    /// Infallible construction for the built-in line-ups (all within the limits).
    fn build(
        name: &'static str,
        left: Lineup<'_>,
        right: Lineup<'_>,
        carrier: usize,
        jitter: f32,
    ) -> Scenario {
        let mut st = State::new(DEFAULT_DURATION);
        for (team, lineup) in [(Team::Left, left), (Team::Right, right)] {
            for &(role, x, y) in lineup.iter().take(MAX_PLAYERS) {
                let _ = st
                    .squad_mut(team)
                    .push(Player::new(team, role, Vec2::new(x, y)));
            }
        }
        st.active = carrier.min(st.left.len().saturating_sub(1));
        let id = PlayerId {
            team: Team::Left,
            index: st.active,
        };
        if let Some(p) = st.player(id).copied() {
            carry_ball(&mut st.ball, &p);
            st.owner = Some(id);
            st.last_owner_team = Some(Team::Left);
            st.last_touch = Some(id);
        }
        Scenario {
            name,
            template: st,
            jitter,
        }
    }

    /// The same scenario with another right-team difficulty (clamped to [0, 1]).
    pub fn with_difficulty(mut self, difficulty: f32) -> Self {
        self.template.right_difficulty = if difficulty.is_finite() {
            difficulty.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The same scenario with another game length in steps (at least 1).
    pub fn with_duration(mut self, steps: u32) -> Self {
        self.template.duration = steps.max(1);
        self.template.steps_left = steps.max(1);
        self
    }

    /// The scenario's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The kick-off state for `seed`: the template with every player but the carrier moved
    /// by up to the jitter.
    pub fn initial_state(&self, seed: u64) -> State {
        let mut st = self.template;
        if self.jitter > 0.0 {
            let mut rng = SplitMix64::new(seed ^ 0x5CE7_A210);
            let active = st.active;
            for team in [Team::Left, Team::Right] {
                for (i, p) in st.squad_mut(team).players_mut().iter_mut().enumerate() {
                    let dx = rng.next_signed() * self.jitter;
                    let dy = rng.next_signed() * self.jitter;
                    if !(team == Team::Left && i == active) {
                        p.pos += Vec2::new(dx, dy);
                    }
                }
            }
        }
        st
    }

    /// gfootball's `academy_empty_goal_close`: the carrier at (0.77, 0), the keeper away at
    /// the far end.
    pub fn empty_goal_close() -> Self {
        Self::build(
            "academy_empty_goal_close",
            &[
                (Role::Goalkeeper, -1.0, 0.0),
                (Role::CentralForward, 0.77, 0.0),
            ],
            &[(Role::Goalkeeper, -1.0, 0.0)],
            1,
            0.0,
        )
    }

    /// `academy_empty_goal`: the carrier at the centre spot, the keeper away.
    pub fn empty_goal() -> Self {
        Self::build(
            "academy_empty_goal",
            &[
                (Role::Goalkeeper, -1.0, 0.0),
                (Role::CentralForward, 0.02, 0.0),
            ],
            &[(Role::Goalkeeper, -1.0, 0.0)],
            1,
            0.0,
        )
    }

    fn chasers() -> [(Role, f32, f32); 5] {
        [
            (Role::CentreBack, -0.12, -0.2),
            (Role::CentreBack, -0.12, -0.1),
            (Role::CentreBack, -0.12, 0.0),
            (Role::CentreBack, -0.12, 0.1),
            (Role::CentreBack, -0.12, 0.2),
        ]
    }

    /// `academy_run_to_score`: the carrier at the centre, five opponents chasing from
    /// behind, an empty goal.
    pub fn run_to_score() -> Self {
        let mut right = vec![(Role::Goalkeeper, -1.0, 0.0)];
        right.extend(Self::chasers());
        Self::build(
            "academy_run_to_score",
            &[
                (Role::Goalkeeper, -1.0, 0.0),
                (Role::CentralForward, 0.02, 0.0),
            ],
            &right,
            1,
            0.01,
        )
    }

    /// `academy_run_to_score_with_keeper`: as [`Scenario::run_to_score`] with a keeper in
    /// goal.
    pub fn run_to_score_with_keeper() -> Self {
        let mut right = vec![(Role::Goalkeeper, 1.0, 0.0)];
        right.extend(Self::chasers());
        Self::build(
            "academy_run_to_score_with_keeper",
            &[
                (Role::Goalkeeper, -1.0, 0.0),
                (Role::CentralForward, 0.02, 0.0),
            ],
            &right,
            1,
            0.01,
        )
    }

    /// `academy_pass_and_shoot_with_keeper`: the carrier on the top edge of the box with a
    /// defender at his shoulder, an unmarked teammate in the centre, a keeper.
    pub fn pass_and_shoot_with_keeper() -> Self {
        Self::build(
            "academy_pass_and_shoot_with_keeper",
            &[
                (Role::Goalkeeper, -1.0, 0.0),
                (Role::CentralForward, 0.7, -0.28),
                (Role::CentralForward, 0.7, 0.0),
            ],
            &[(Role::Goalkeeper, 1.0, 0.0), (Role::CentreBack, 0.75, -0.3)],
            1,
            0.01,
        )
    }

    /// `academy_3_vs_1_with_keeper`: three attackers on the edge of the box against one
    /// defender and a keeper.
    pub fn three_vs_one_with_keeper() -> Self {
        Self::build(
            "academy_3_vs_1_with_keeper",
            &[
                (Role::Goalkeeper, -1.0, 0.0),
                (Role::CentralMidfield, 0.62, 0.0),
                (Role::LeftMidfield, 0.7, -0.2),
                (Role::RightMidfield, 0.7, 0.2),
            ],
            &[(Role::Goalkeeper, 1.0, 0.0), (Role::CentreBack, 0.75, 0.0)],
            1,
            0.01,
        )
    }

    /// `academy_counterattack_easy`: four attackers break from midfield against one
    /// defender and a keeper, with three opponents chasing.
    pub fn counterattack_easy() -> Self {
        Self::build(
            "academy_counterattack_easy",
            &[
                (Role::Goalkeeper, -1.0, 0.0),
                (Role::CentralMidfield, 0.0, 0.0),
                (Role::LeftMidfield, 0.1, -0.25),
                (Role::RightMidfield, 0.1, 0.25),
                (Role::CentralForward, 0.15, 0.03),
            ],
            &[
                (Role::Goalkeeper, 1.0, 0.0),
                (Role::CentreBack, 0.45, 0.0),
                (Role::CentralMidfield, -0.15, -0.1),
                (Role::CentralMidfield, -0.15, 0.1),
                (Role::DefenceMidfield, -0.3, 0.0),
            ],
            1,
            0.01,
        )
    }

    /// `small_sided_5_vs_5`: five-a-side from the centre spot, ball with the left forward.
    pub fn five_vs_five() -> Self {
        Self::build(
            "small_sided_5_vs_5",
            &[
                (Role::Goalkeeper, -1.0, 0.0),
                (Role::CentreBack, -0.55, -0.12),
                (Role::CentreBack, -0.55, 0.12),
                (Role::CentralMidfield, -0.2, -0.2),
                (Role::CentralForward, 0.0, 0.0),
            ],
            &[
                (Role::Goalkeeper, 1.0, 0.0),
                (Role::CentreBack, 0.55, -0.12),
                (Role::CentreBack, 0.55, 0.12),
                (Role::CentralMidfield, 0.2, 0.2),
                (Role::CentralForward, 0.15, -0.05),
            ],
            4,
            0.01,
        )
    }

    /// `11_vs_11_kickoff`: two 4-4-2 teams, ball with the left striker on the centre spot.
    pub fn eleven_vs_eleven() -> Self {
        let left = [
            (Role::Goalkeeper, -1.0, 0.0),
            (Role::LeftBack, -0.6, -0.28),
            (Role::CentreBack, -0.65, -0.1),
            (Role::CentreBack, -0.65, 0.1),
            (Role::RightBack, -0.6, 0.28),
            (Role::LeftMidfield, -0.3, -0.28),
            (Role::CentralMidfield, -0.33, -0.08),
            (Role::CentralMidfield, -0.33, 0.08),
            (Role::RightMidfield, -0.3, 0.28),
            (Role::CentralForward, 0.0, 0.0),
            (Role::CentralForward, -0.05, 0.12),
        ];
        let mut right = left;
        for p in right.iter_mut() {
            p.1 = -p.1;
            p.2 = -p.2;
        }
        // The right strikers wait outside the centre circle.
        right[9] = (Role::CentralForward, 0.12, -0.04);
        right[10] = (Role::CentralForward, 0.12, 0.08);
        Self::build("11_vs_11_kickoff", &left, &right, 9, 0.01)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_scenario_builds_with_the_ball_at_the_controlled_player() {
        for name in Scenario::NAMES {
            let s = Scenario::from_name(name).unwrap();
            assert_eq!(s.name(), name);
            let st = s.initial_state(3);
            assert_eq!(
                st.owner.map(|o| (o.team, o.index)),
                Some((Team::Left, st.active))
            );
            let carrier = st.left.players()[st.active];
            assert!(carrier.pos.distance(st.ball.pos) < 0.01, "{name}");
            assert_eq!(st.steps_left, DEFAULT_DURATION);
            assert!(st
                .right
                .players()
                .iter()
                .any(|p| p.role == Role::Goalkeeper));
            for p in st.left.players().iter().chain(st.right.players()) {
                assert!(p.pos.x.abs() <= 1.02 && p.pos.y.abs() <= 0.42, "{name}");
            }
        }
        assert!(Scenario::from_name("academy_corner").is_err());
    }

    #[test]
    fn jitter_is_seeded() {
        let s = Scenario::three_vs_one_with_keeper();
        assert_eq!(s.initial_state(1), s.initial_state(1));
        assert_ne!(s.initial_state(1), s.initial_state(2));
        let base = Scenario::empty_goal_close();
        assert_eq!(base.initial_state(1), base.initial_state(2));
    }

    #[test]
    fn custom_scenarios_are_validated() {
        let l = [(Role::CentralForward, 0.0, 0.0)];
        assert!(Scenario::custom("x", &l, &[], 1, 0.0).is_err());
        assert!(Scenario::custom("x", &l, &[], 0, f32::NAN).is_err());
        assert!(Scenario::custom("x", &[(Role::CentreBack, f32::NAN, 0.0)], &[], 0, 0.0).is_err());
        let too_many = [(Role::CentreBack, 0.0, 0.0); 12];
        assert!(Scenario::custom("x", &too_many, &[], 0, 0.0).is_err());
        let s = Scenario::custom("x", &l, &[], 0, 0.0).unwrap();
        assert_eq!(s.initial_state(0).left.len(), 1);
    }
}
