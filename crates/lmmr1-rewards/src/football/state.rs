//! The pitch and the game state: plain structs, easy to render and to build by hand.
//!
//! Conventions are gfootball's: x ∈ [−1, 1] along the pitch, y ∈ [−0.42, 0.42] across it
//! (`y < 0` at the top of the screen), goals at x = ±1 with posts at y = ±0.044. The left
//! team (index 0) attacks the right goal at (1, 0).

use super::actions::Direction;
use super::error::FootballError;
use super::vec2::Vec2;

/// Half the pitch length: the goal lines are at x = ±1.
pub const PITCH_HALF_LENGTH: f32 = 1.0;
/// Half the pitch width: the touchlines are at y = ±0.42.
pub const PITCH_HALF_WIDTH: f32 = 0.42;
/// Half the goal mouth: posts at y = ±0.044 (MageBench's outer shot targets).
pub const GOAL_HALF_WIDTH: f32 = 0.044;
/// Crossbar height in pitch units (2.44 m at about 52.5 m per unit).
pub const GOAL_HEIGHT: f32 = 0.046;
/// The most players a team may have.
pub const MAX_PLAYERS: usize = 11;

/// A side. The left team is the agent's and attacks the right goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Team {
    /// Index 0, attacks x = +1.
    Left,
    /// Index 1, attacks x = −1.
    Right,
}

impl Team {
    /// gfootball's team index (0 left, 1 right).
    pub fn index(self) -> usize {
        match self {
            Team::Left => 0,
            Team::Right => 1,
        }
    }

    /// The other team.
    pub fn other(self) -> Team {
        match self {
            Team::Left => Team::Right,
            Team::Right => Team::Left,
        }
    }

    /// +1 for the left team, −1 for the right: the x direction the team attacks.
    pub fn attack_sign(self) -> f32 {
        match self {
            Team::Left => 1.0,
            Team::Right => -1.0,
        }
    }

    /// Centre of the goal this team attacks.
    pub fn target_goal(self) -> Vec2 {
        Vec2::new(self.attack_sign() * PITCH_HALF_LENGTH, 0.0)
    }
}

/// A player's role, with gfootball's `e_PlayerRole` codes (0 GK … 9 CF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Goalkeeper (0).
    Goalkeeper,
    /// Centre back (1).
    CentreBack,
    /// Left back (2).
    LeftBack,
    /// Right back (3).
    RightBack,
    /// Defensive midfielder (4).
    DefenceMidfield,
    /// Central midfielder (5).
    CentralMidfield,
    /// Left midfielder (6).
    LeftMidfield,
    /// Right midfielder (7).
    RightMidfield,
    /// Attacking midfielder (8).
    AttackMidfield,
    /// Centre forward (9).
    CentralForward,
}

impl Role {
    /// gfootball's role code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// One player.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Player {
    /// Position.
    pub pos: Vec2,
    /// Movement in the last step (gfootball's `*_team_direction`).
    pub vel: Vec2,
    /// Unit vector the player faces: passes and dribbling follow it.
    pub facing: Vec2,
    /// Role; goalkeepers are driven by the keeper policy.
    pub role: Role,
    /// Formation slot the built-in policies pull the player towards.
    pub home: Vec2,
    /// Steps before this player may touch the ball again (after kicking it or losing it).
    pub touch_cooldown: u8,
}

impl Player {
    /// A standing player of `team` at `pos`, facing the goal it attacks.
    pub fn new(team: Team, role: Role, pos: Vec2) -> Self {
        Self {
            pos,
            vel: Vec2::ZERO,
            facing: Vec2::new(team.attack_sign(), 0.0),
            role,
            home: pos,
            touch_cooldown: 0,
        }
    }
}

/// A team's players in a fixed-size array (no allocation while playing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Squad {
    players: [Player; MAX_PLAYERS],
    len: usize,
}

impl Squad {
    /// A team with no players.
    pub fn new() -> Self {
        Self {
            players: [Player::new(Team::Left, Role::CentralMidfield, Vec2::ZERO); MAX_PLAYERS],
            len: 0,
        }
    }

    /// Adds a player; errors beyond [`MAX_PLAYERS`].
    pub fn push(&mut self, player: Player) -> Result<usize, FootballError> {
        if self.len >= MAX_PLAYERS {
            return Err(FootballError::TooManyPlayers { max: MAX_PLAYERS });
        }
        self.players[self.len] = player;
        self.len += 1;
        Ok(self.len - 1)
    }

    /// The players.
    pub fn players(&self) -> &[Player] {
        &self.players[..self.len]
    }

    /// The players, mutably.
    pub fn players_mut(&mut self) -> &mut [Player] {
        &mut self.players[..self.len]
    }

    /// Number of players.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the team has no players.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for Squad {
    fn default() -> Self {
        Self::new()
    }
}

/// The ball: ground position, height and velocities per step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Ball {
    /// Position on the pitch.
    pub pos: Vec2,
    /// Height above the grass (pitch units).
    pub z: f32,
    /// Ground velocity per step.
    pub vel: Vec2,
    /// Vertical velocity per step.
    pub vz: f32,
}

/// A player by team and index within the team (gfootball's `ball_owned_player` is such an
/// index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlayerId {
    /// The team.
    pub team: Team,
    /// Index in the team.
    pub index: usize,
}

/// gfootball's `game_mode` (codes 0–6). Restarts are not played: the episode ends on any
/// stoppage, and the mode tells which restart would follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameMode {
    /// Open play (0).
    Normal,
    /// After a goal (1).
    KickOff,
    /// Ball out over a goal line, last touched by the attackers (2).
    GoalKick,
    /// Free kick (3); never produced (no fouls).
    FreeKick,
    /// Ball out over a goal line, last touched by the defenders (4).
    Corner,
    /// Ball out over a touchline (5).
    ThrowIn,
    /// Penalty (6); never produced.
    Penalty,
}

impl GameMode {
    /// gfootball's code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The controller's sticky actions: gfootball's 10-slot `sticky_actions` (8 directions,
/// sprint, dribble).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StickyActions {
    /// The direction being run, if any.
    pub direction: Option<Direction>,
    /// Sprinting.
    pub sprint: bool,
    /// Dribbling.
    pub dribble: bool,
}

impl StickyActions {
    /// As gfootball's 0/1 vector: `[left, top_left, top, top_right, right, bottom_right,
    /// bottom, bottom_left, sprint, dribble]`.
    pub fn to_array(self) -> [u8; 10] {
        let mut a = [0u8; 10];
        if let Some(d) = self.direction {
            a[d.sticky_index()] = 1;
        }
        a[8] = u8::from(self.sprint);
        a[9] = u8::from(self.dribble);
        a
    }
}

/// The kind of kick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KickKind {
    /// Soft ground pass.
    ShortPass,
    /// Fast ground pass.
    LongPass,
    /// Lofted pass.
    HighPass,
    /// Shot at goal.
    Shot,
}

/// A kick in wind-up: ordered in one step, the ball leaves the foot at the start of the
/// next (gfootball's kick animations also take a few frames).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PendingKick {
    /// What kind.
    pub kind: KickKind,
    /// The kicker.
    pub kicker: PlayerId,
}

/// A kicked ball on its way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BallInFlight {
    /// What kind of kick.
    pub kind: KickKind,
    /// Who kicked it.
    pub kicker: PlayerId,
    /// The intended receiver (index in the kicker's team), for passes.
    pub receiver: Option<usize>,
    /// Where the kick was aimed.
    pub aim: Vec2,
    /// Whether a goalkeeper already tried to save this kick.
    pub keeper_tried: bool,
}

/// Everything about a game at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    /// The left team (the agent's).
    pub left: Squad,
    /// The right team.
    pub right: Squad,
    /// The ball.
    pub ball: Ball,
    /// Who holds the ball, if anyone.
    pub owner: Option<PlayerId>,
    /// The team that last held the ball.
    pub last_owner_team: Option<Team>,
    /// The player who last touched the ball.
    pub last_touch: Option<PlayerId>,
    /// Index in the left team of the player the agent controls.
    pub active: usize,
    /// The controller's sticky actions.
    pub sticky: StickyActions,
    /// Goals `[left, right]`.
    pub score: [u32; 2],
    /// Steps until the time limit.
    pub steps_left: u32,
    /// Steps per episode (the game duration).
    pub duration: u32,
    /// The current (or, once stopped, the next) game mode.
    pub game_mode: GameMode,
    /// Right team strength in [0, 1] (gfootball's `right_team_difficulty`): speed and
    /// tackling.
    pub right_difficulty: f32,
    /// A kick ordered last step, released this step.
    pub pending_kick: Option<PendingKick>,
    /// The ball's current kick, while no one holds it.
    pub flight: Option<BallInFlight>,
}

impl State {
    /// An empty pitch: no players, ball at the centre, `duration` steps to play.
    pub fn new(duration: u32) -> Self {
        Self {
            left: Squad::new(),
            right: Squad::new(),
            ball: Ball::default(),
            owner: None,
            last_owner_team: None,
            last_touch: None,
            active: 0,
            sticky: StickyActions::default(),
            score: [0, 0],
            steps_left: duration,
            duration,
            game_mode: GameMode::Normal,
            right_difficulty: 0.0,
            pending_kick: None,
            flight: None,
        }
    }

    /// A team's squad.
    pub fn squad(&self, team: Team) -> &Squad {
        match team {
            Team::Left => &self.left,
            Team::Right => &self.right,
        }
    }

    /// A team's squad, mutably.
    pub fn squad_mut(&mut self, team: Team) -> &mut Squad {
        match team {
            Team::Left => &mut self.left,
            Team::Right => &mut self.right,
        }
    }

    /// A player, if the id exists.
    pub fn player(&self, id: PlayerId) -> Option<&Player> {
        self.squad(id.team).players().get(id.index)
    }

    /// A player, mutably, if the id exists.
    pub fn player_mut(&mut self, id: PlayerId) -> Option<&mut Player> {
        self.squad_mut(id.team).players_mut().get_mut(id.index)
    }

    /// gfootball's `ball_owned_team`: −1 none, 0 left, 1 right.
    pub fn ball_owned_team(&self) -> i32 {
        self.owner.map_or(-1, |o| o.team.index() as i32)
    }

    /// gfootball's `ball_owned_player`: the index in the owning team, or −1.
    pub fn ball_owned_player(&self) -> i32 {
        self.owner.map_or(-1, |o| o.index as i32)
    }

    /// gfootball's raw observation of this state (allocates; not needed to play).
    pub fn raw_observation(&self) -> RawObservation {
        let team = |s: &Squad| -> (Vec<[f32; 2]>, Vec<[f32; 2]>, Vec<u8>) {
            (
                s.players().iter().map(|p| p.pos.to_array()).collect(),
                s.players().iter().map(|p| p.vel.to_array()).collect(),
                s.players().iter().map(|p| p.role.code()).collect(),
            )
        };
        let (left_team, left_team_direction, left_team_roles) = team(&self.left);
        let (right_team, right_team_direction, right_team_roles) = team(&self.right);
        RawObservation {
            ball: [self.ball.pos.x, self.ball.pos.y, self.ball.z],
            ball_direction: [self.ball.vel.x, self.ball.vel.y, self.ball.vz],
            ball_owned_team: self.ball_owned_team(),
            ball_owned_player: self.ball_owned_player(),
            left_team,
            left_team_direction,
            left_team_roles,
            right_team,
            right_team_direction,
            right_team_roles,
            active: self.active as i32,
            score: self.score,
            steps_left: self.steps_left,
            game_mode: self.game_mode.code(),
            sticky_actions: self.sticky.to_array(),
        }
    }
}

/// gfootball's raw observation (the fields an agent or a reward reads), for one controlled
/// left player.
#[derive(Debug, Clone, PartialEq)]
pub struct RawObservation {
    /// Ball `[x, y, z]`.
    pub ball: [f32; 3],
    /// Ball movement per step `[dx, dy, dz]`.
    pub ball_direction: [f32; 3],
    /// −1 none, 0 left, 1 right.
    pub ball_owned_team: i32,
    /// Index within the owning team, or −1.
    pub ball_owned_player: i32,
    /// Left players' positions.
    pub left_team: Vec<[f32; 2]>,
    /// Left players' movement per step.
    pub left_team_direction: Vec<[f32; 2]>,
    /// Left players' role codes.
    pub left_team_roles: Vec<u8>,
    /// Right players' positions.
    pub right_team: Vec<[f32; 2]>,
    /// Right players' movement per step.
    pub right_team_direction: Vec<[f32; 2]>,
    /// Right players' role codes.
    pub right_team_roles: Vec<u8>,
    /// Index of the controlled left player.
    pub active: i32,
    /// Goals `[left, right]`.
    pub score: [u32; 2],
    /// Steps until the time limit.
    pub steps_left: u32,
    /// gfootball game mode code (0 normal … 6 penalty).
    pub game_mode: u8,
    /// The controller's sticky actions, see [`StickyActions::to_array`].
    pub sticky_actions: [u8; 10],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squads_are_bounded() {
        let mut s = Squad::new();
        for i in 0..MAX_PLAYERS {
            assert_eq!(
                s.push(Player::new(Team::Left, Role::CentreBack, Vec2::ZERO)),
                Ok(i)
            );
        }
        assert_eq!(
            s.push(Player::new(Team::Left, Role::CentreBack, Vec2::ZERO)),
            Err(FootballError::TooManyPlayers { max: MAX_PLAYERS })
        );
        assert_eq!(s.len(), MAX_PLAYERS);
    }

    #[test]
    fn raw_observation_uses_gfootball_conventions() {
        let mut st = State::new(400);
        st.left
            .push(Player::new(
                Team::Left,
                Role::CentralForward,
                Vec2::new(0.5, 0.1),
            ))
            .unwrap();
        st.right
            .push(Player::new(
                Team::Right,
                Role::Goalkeeper,
                Vec2::new(1.0, 0.0),
            ))
            .unwrap();
        st.owner = Some(PlayerId {
            team: Team::Left,
            index: 0,
        });
        st.sticky.direction = Some(Direction::TopRight);
        st.sticky.dribble = true;
        let o = st.raw_observation();
        assert_eq!(o.ball_owned_team, 0);
        assert_eq!(o.ball_owned_player, 0);
        assert_eq!(o.left_team, vec![[0.5, 0.1]]);
        assert_eq!(o.right_team_roles, vec![0]);
        assert_eq!(o.left_team_roles, vec![9]);
        assert_eq!(o.sticky_actions, [0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(o.steps_left, 400);
        st.owner = None;
        assert_eq!((st.ball_owned_team(), st.ball_owned_player()), (-1, -1));
    }
}
