//! The rules of the ball: kicks (receiver choice, shot aim), keeper saves, ball control and
//! interceptions, tackles, goals and the ball leaving the pitch.

use super::physics::{carry_ball, kick_velocity};
use super::state::{
    BallInFlight, GameMode, KickKind, PendingKick, PlayerId, Role, State, Team, GOAL_HALF_WIDTH,
    GOAL_HEIGHT, PITCH_HALF_LENGTH, PITCH_HALF_WIDTH,
};
use super::vec2::{segment_distance, Vec2};
use crate::rng::SplitMix64;

/// A free ball within this distance of a player (along its path this step) can be
/// controlled.
pub const CONTROL_RADIUS: f32 = 0.015;
/// A ball higher than this cannot be controlled by an outfield player.
pub const CONTROL_HEIGHT: f32 = 0.03;
/// A goalkeeper dives for balls passing within this distance.
pub const KEEPER_REACH: f32 = 0.03;
/// A goalkeeper reaches balls up to this height.
pub const KEEPER_REACH_HEIGHT: f32 = 0.06;
/// An opponent this close to the carrier's ball may win it.
pub const TACKLE_RADIUS: f32 = 0.02;
/// Steps a kicker must wait before touching the ball again.
pub const KICK_COOLDOWN: u8 = 4;
/// Per-step chance that an adjacent opponent wins the ball at difficulty 0 (plus 0.18 at
/// difficulty 1), before the carrier's sprint (×1.6) or dribble (×0.4) factor.
pub const TACKLE_BASE: f32 = 0.12;
/// Where shots are aimed across the goal mouth (y values, inside the posts at ±0.044).
pub const SHOT_TARGETS: [f32; 5] = [-0.032, -0.016, 0.0, 0.016, 0.032];

/// How play stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stoppage {
    /// A goal for this team.
    Goal(Team),
    /// The ball crossed a goal line or touchline outside the goal.
    OutOfPlay,
}

/// The teammate a pass of `kind` by `kicker` goes to: the best in the kicker's facing
/// direction. Short passes favour near teammates, long and high passes ones about 0.5 away.
/// `None` when the kicker has no teammates.
pub fn pass_receiver(state: &State, kicker: PlayerId, kind: KickKind) -> Option<usize> {
    let me = state.player(kicker)?;
    let mut best: Option<(f32, usize)> = None;
    for (j, mate) in state.squad(kicker.team).players().iter().enumerate() {
        if j == kicker.index {
            continue;
        }
        let v = mate.pos - me.pos;
        let d = v.length().max(1e-6);
        let cos = v.dot(me.facing) / d;
        let keeper_penalty = if mate.role == Role::Goalkeeper {
            0.5
        } else {
            0.0
        };
        let score = match kind {
            KickKind::ShortPass => cos - 1.2 * d,
            _ => cos - 0.3 * (d - 0.5).abs(),
        } - keeper_penalty;
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, j));
        }
    }
    best.map(|(_, j)| j)
}

/// Where a shot from `from` is aimed: of five points inside the posts, the one whose line
/// is clearest of opponents (clearance counted up to 0.06, ties going to the centre), plus
/// aiming noise that grows with distance and when sprinting.
pub fn shot_aim(state: &State, from: Vec2, rng: &mut SplitMix64) -> Vec2 {
    let goal_x = PITCH_HALF_LENGTH + 0.02;
    let mut best = (f32::NEG_INFINITY, 0.0);
    for y in SHOT_TARGETS {
        let target = Vec2::new(goal_x, y);
        let clear = state
            .right
            .players()
            .iter()
            .map(|p| segment_distance(p.pos, from, target))
            .fold(f32::INFINITY, f32::min);
        let score = clear.min(0.06) - 0.05 * y.abs();
        if score > best.0 {
            best = (score, y);
        }
    }
    let dist = from.distance(Team::Left.target_goal());
    let sigma = 0.006 + 0.02 * dist + if state.sticky.sprint { 0.01 } else { 0.0 };
    Vec2::new(goal_x, best.1 + sigma * 1.7 * rng.next_signed())
}

/// Releases a kick ordered last step, if its kicker still has the ball.
pub fn release_kick(state: &mut State, kick: PendingKick, rng: &mut SplitMix64) {
    if state.owner != Some(kick.kicker) {
        return;
    }
    let Some(me) = state.player(kick.kicker).copied() else {
        return;
    };
    let from = state.ball.pos;
    let (receiver, aim) = match kick.kind {
        KickKind::Shot => (None, shot_aim(state, from, rng)),
        kind => match pass_receiver(state, kick.kicker, kind) {
            Some(j) => {
                let mate = state.squad(kick.kicker.team).players()[j];
                // Lead the receiver by its velocity over the ball's rough travel time.
                let lead = (mate.pos.distance(from) / 0.03).min(15.0);
                (Some(j), mate.pos + mate.vel * lead)
            }
            None => (None, from + me.facing * 0.3),
        },
    };
    let (vel, vz) = kick_velocity(kick.kind, from, aim);
    state.ball.vel = vel;
    state.ball.vz = vz;
    state.owner = None;
    state.last_touch = Some(kick.kicker);
    state.flight = Some(BallInFlight {
        kind: kick.kind,
        kicker: kick.kicker,
        receiver,
        aim,
        keeper_tried: false,
    });
    if let Some(p) = state.player_mut(kick.kicker) {
        p.touch_cooldown = KICK_COOLDOWN;
    }
}

/// Gives the ball to `id`. Returns whether this is a possession change (the other team held
/// it last).
pub fn take_ball(state: &mut State, id: PlayerId) -> bool {
    let changed = state.last_owner_team.is_some_and(|t| t != id.team);
    state.owner = Some(id);
    state.last_owner_team = Some(id.team);
    state.last_touch = Some(id);
    state.flight = None;
    state.pending_kick = None;
    if id.team == Team::Left {
        state.active = id.index;
    }
    if let Some(p) = state.player(id).copied() {
        carry_ball(&mut state.ball, &p);
    }
    changed
}

/// A free ball that moved from `prev` this step: first the defending goalkeeper may save a
/// kick (chance falls with ball speed and with how far it must dive), then the first player
/// along the path within [`CONTROL_RADIUS`] may control it (always the intended receiver;
/// teammates of the kicker 90%; opponents less the faster the ball). Returns whether the
/// possession changed.
pub fn resolve_free_ball(state: &mut State, prev: Vec2, rng: &mut SplitMix64) -> bool {
    let now = state.ball.pos;
    let speed = (now - prev).length();
    let kicking_team = state.flight.map(|f| f.kicker.team);

    // Keeper save.
    if let Some(f) = state.flight {
        if !f.keeper_tried && state.ball.z < KEEPER_REACH_HEIGHT {
            let defenders = f.kicker.team.other();
            let keeper = state
                .squad(defenders)
                .players()
                .iter()
                .position(|p| p.role == Role::Goalkeeper && p.touch_cooldown == 0);
            if let Some(k) = keeper {
                let kp = state.squad(defenders).players()[k].pos;
                let d = segment_distance(kp, prev, now);
                if d < KEEPER_REACH {
                    if let Some(fl) = state.flight.as_mut() {
                        fl.keeper_tried = true;
                    }
                    let p = (0.95 - 6.0 * speed - 0.5 * d / KEEPER_REACH).clamp(0.05, 0.95);
                    let id = PlayerId {
                        team: defenders,
                        index: k,
                    };
                    if rng.chance(p) {
                        return take_ball(state, id);
                    }
                    if let Some(pl) = state.player_mut(id) {
                        pl.touch_cooldown = 3;
                    }
                }
            }
        }
    }

    if state.ball.z >= CONTROL_HEIGHT {
        return false;
    }
    // First player along the path.
    let path = now - prev;
    let len_sq = path.length_sq().max(1e-12);
    let mut first: Option<(f32, PlayerId)> = None;
    for team in [Team::Left, Team::Right] {
        for (i, p) in state.squad(team).players().iter().enumerate() {
            if p.touch_cooldown > 0 || segment_distance(p.pos, prev, now) >= CONTROL_RADIUS {
                continue;
            }
            let t = ((p.pos - prev).dot(path) / len_sq).clamp(0.0, 1.0);
            if first.is_none_or(|(bt, _)| t < bt) {
                first = Some((t, PlayerId { team, index: i }));
            }
        }
    }
    let Some((_, id)) = first else {
        return false;
    };
    let receiver = state
        .flight
        .and_then(|f| (f.kicker.team == id.team).then_some(f.receiver).flatten());
    let p = if receiver == Some(id.index) || kicking_team.is_none() {
        1.0
    } else if kicking_team == Some(id.team) {
        0.9
    } else {
        (1.3 - speed / 0.04).clamp(0.15, 1.0)
    };
    if rng.chance(p) {
        take_ball(state, id)
    } else {
        if let Some(pl) = state.player_mut(id) {
            pl.touch_cooldown = 2;
        }
        false
    }
}

/// Opponents within [`TACKLE_RADIUS`] of a held ball try to win it. Returns whether the
/// possession changed.
pub fn resolve_tackles(state: &mut State, rng: &mut SplitMix64) -> bool {
    let Some(owner) = state.owner else {
        return false;
    };
    let mut p = TACKLE_BASE + 0.18 * state.right_difficulty.clamp(0.0, 1.0);
    if owner.team == Team::Left && owner.index == state.active {
        if state.sticky.dribble {
            p *= 0.4;
        } else if state.sticky.sprint {
            p *= 1.6;
        }
    }
    let ball = state.ball.pos;
    let tacklers = owner.team.other();
    for i in 0..state.squad(tacklers).len() {
        let t = state.squad(tacklers).players()[i];
        if t.touch_cooldown == 0 && t.pos.distance(ball) < TACKLE_RADIUS && rng.chance(p) {
            if let Some(loser) = state.player_mut(owner) {
                loser.touch_cooldown = KICK_COOLDOWN;
            }
            return take_ball(
                state,
                PlayerId {
                    team: tacklers,
                    index: i,
                },
            );
        }
    }
    false
}

/// Whether the ball, having moved from `prev`, left the pitch: a goal if it crossed a goal
/// line between the posts under the bar, otherwise out of play. Sets score and game mode.
pub fn check_stoppage(state: &mut State, prev: Vec2) -> Option<Stoppage> {
    let now = state.ball.pos;
    if now.x.abs() > PITCH_HALF_LENGTH {
        let line = PITCH_HALF_LENGTH * now.x.signum();
        let dx = now.x - prev.x;
        let t = if dx.abs() > 1e-9 {
            ((line - prev.x) / dx).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let y = prev.y + (now.y - prev.y) * t;
        // The team whose goal is at this end concedes.
        let attackers = if line > 0.0 { Team::Left } else { Team::Right };
        state.owner = None;
        if y.abs() < GOAL_HALF_WIDTH && state.ball.z < GOAL_HEIGHT {
            state.score[attackers.index()] += 1;
            state.game_mode = GameMode::KickOff;
            return Some(Stoppage::Goal(attackers));
        }
        let last = state.last_touch.map(|p| p.team);
        state.game_mode = if last == Some(attackers) {
            GameMode::GoalKick
        } else {
            GameMode::Corner
        };
        return Some(Stoppage::OutOfPlay);
    }
    if now.y.abs() > PITCH_HALF_WIDTH {
        state.owner = None;
        state.game_mode = GameMode::ThrowIn;
        return Some(Stoppage::OutOfPlay);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::state::Player;
    use super::*;

    fn left(i: usize) -> PlayerId {
        PlayerId {
            team: Team::Left,
            index: i,
        }
    }

    fn three_attackers() -> State {
        let mut s = State::new(400);
        for p in [
            Vec2::new(0.5, 0.0),
            Vec2::new(0.6, -0.2),
            Vec2::new(0.6, 0.2),
        ] {
            s.left
                .push(Player::new(Team::Left, Role::CentralForward, p))
                .unwrap();
        }
        s.right
            .push(Player::new(
                Team::Right,
                Role::Goalkeeper,
                Vec2::new(1.0, 0.0),
            ))
            .unwrap();
        s
    }

    #[test]
    fn passes_follow_the_facing_direction() {
        let mut s = three_attackers();
        s.left.players_mut()[0].facing = Vec2::new(0.0, -1.0);
        assert_eq!(pass_receiver(&s, left(0), KickKind::ShortPass), Some(1));
        s.left.players_mut()[0].facing = Vec2::new(0.0, 1.0);
        assert_eq!(pass_receiver(&s, left(0), KickKind::LongPass), Some(2));
    }

    #[test]
    fn shots_aim_away_from_the_keeper_and_at_the_centre_of_an_empty_goal() {
        let mut rng = SplitMix64::new(0);
        let mut s = three_attackers();
        // Keeper on the line at the top post: aim at the bottom half.
        s.right.players_mut()[0].pos = Vec2::new(1.0, -0.04);
        let aim = shot_aim(&s, Vec2::new(0.8, 0.0), &mut rng);
        assert!(aim.y > 0.01, "{aim:?}");
        // Keeper far away: aim near the centre (within the noise).
        s.right.players_mut()[0].pos = Vec2::new(-1.0, 0.0);
        for _ in 0..20 {
            let aim = shot_aim(&s, Vec2::new(0.8, 0.0), &mut rng);
            assert!(aim.y.abs() < 0.02, "{aim:?}");
        }
    }

    #[test]
    fn goal_between_the_posts_out_of_play_outside() {
        let mut s = three_attackers();
        s.ball.pos = Vec2::new(1.01, 0.02);
        assert_eq!(
            check_stoppage(&mut s, Vec2::new(0.98, 0.02)),
            Some(Stoppage::Goal(Team::Left))
        );
        assert_eq!(s.score, [1, 0]);
        s.ball.pos = Vec2::new(1.01, 0.1);
        s.last_touch = Some(left(0));
        assert_eq!(
            check_stoppage(&mut s, Vec2::new(0.98, 0.1)),
            Some(Stoppage::OutOfPlay)
        );
        assert_eq!(s.game_mode, GameMode::GoalKick);
        s.ball.pos = Vec2::new(0.0, 0.43);
        assert_eq!(
            check_stoppage(&mut s, Vec2::new(0.0, 0.41)),
            Some(Stoppage::OutOfPlay)
        );
        assert_eq!(s.game_mode, GameMode::ThrowIn);
        // Over the bar is not a goal.
        s.ball.pos = Vec2::new(1.01, 0.0);
        s.ball.z = 0.1;
        assert_eq!(
            check_stoppage(&mut s, Vec2::new(0.98, 0.0)),
            Some(Stoppage::OutOfPlay)
        );
        assert_eq!(s.score, [1, 0]);
    }

    #[test]
    fn the_first_player_on_the_path_controls_the_ball() {
        let mut s = three_attackers();
        s.last_owner_team = Some(Team::Left);
        // The ball rolled from (0.58, -0.2) past player 1 at (0.6, -0.2).
        s.ball.pos = Vec2::new(0.62, -0.2);
        let mut rng = SplitMix64::new(1);
        assert!(!resolve_free_ball(&mut s, Vec2::new(0.58, -0.2), &mut rng));
        assert_eq!(s.owner, Some(left(1)));
        assert_eq!(s.active, 1);
    }
}
