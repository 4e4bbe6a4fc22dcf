//! Built-in AI: what every player the agent does not control wants to do this step.
//!
//! * Goalkeepers guard their goal on the ball–goal line and come out for a close carrier or a
//!   slow loose ball.
//! * Right outfield players: the two nearest the ball press it; the others hold a zone
//!   between their formation slot and the ball, goal-side of it.
//! * Left outfield players support: they push up ahead of the ball, keep their width, move
//!   off the carrier's line, run onto passes meant for them and chase a loose ball when
//!   nearest.
//! * [`builtin_carrier`] plays the controlled player for `action_builtin_ai`.
//!
//! Each function returns a wanted velocity and reads the state only.

use super::physics::{seek, CARRY_FACTOR, RUN_SPEED, SPRINT_SPEED};
use super::state::{KickKind, PlayerId, Role, State, Team, MAX_PLAYERS, PITCH_HALF_LENGTH};
use super::vec2::Vec2;

/// Outfield speed of a team: the right team runs slower at low difficulty.
pub fn team_speed(state: &State, team: Team) -> f32 {
    match team {
        Team::Left => RUN_SPEED,
        Team::Right => RUN_SPEED * (0.75 + 0.25 * state.right_difficulty.clamp(0.0, 1.0)),
    }
}

/// The wanted velocity of every player but the controlled one (whose slot is zero), left
/// team first. No allocation: a fixed array.
pub fn team_wants(state: &State) -> [[Vec2; MAX_PLAYERS]; 2] {
    let mut wants = [[Vec2::ZERO; MAX_PLAYERS]; 2];
    let pressers = nearest_two(state, Team::Right, state.ball.pos);
    let chaser = if state.owner.is_none() {
        nearest_two(state, Team::Left, state.ball.pos)[0]
    } else {
        None
    };
    for (i, p) in state.left.players().iter().enumerate() {
        if i == state.active {
            continue;
        }
        wants[0][i] = if p.role == Role::Goalkeeper {
            keeper_want(state, Team::Left, i)
        } else {
            support_want(state, i, chaser == Some(i))
        };
    }
    for (i, p) in state.right.players().iter().enumerate() {
        wants[1][i] = if p.role == Role::Goalkeeper {
            keeper_want(state, Team::Right, i)
        } else if pressers.contains(&Some(i)) {
            press_want(state, i)
        } else {
            zone_want(state, i)
        };
    }
    wants
}

/// Indices of the (up to) two outfield players of `team` nearest to `at`.
fn nearest_two(state: &State, team: Team, at: Vec2) -> [Option<usize>; 2] {
    let mut best: [(f32, Option<usize>); 2] = [(f32::INFINITY, None); 2];
    for (i, p) in state.squad(team).players().iter().enumerate() {
        if p.role == Role::Goalkeeper {
            continue;
        }
        let d = p.pos.distance(at);
        if d < best[0].0 {
            best[1] = best[0];
            best[0] = (d, Some(i));
        } else if d < best[1].0 {
            best[1] = (d, Some(i));
        }
    }
    [best[0].1, best[1].1]
}

/// A goalkeeper: on the line from the goal centre to the ball, 0.02–0.1 out; rushes a
/// carrier within 0.15 of the goal and a slow loose ball within 0.16.
pub fn keeper_want(state: &State, team: Team, index: usize) -> Vec2 {
    let Some(me) = state.squad(team).players().get(index) else {
        return Vec2::ZERO;
    };
    let goal = Vec2::new(-team.attack_sign() * PITCH_HALF_LENGTH, 0.0);
    let ball = state.ball.pos;
    let to_ball = ball - goal;
    let dist = to_ball.length();
    let opponent_has_it = state.owner.is_some_and(|o| o.team != team);
    let loose_and_slow = state.owner.is_none() && state.ball.vel.length() < 0.015;
    let speed = RUN_SPEED;
    if (opponent_has_it && dist < 0.15) || (loose_and_slow && dist < 0.16) {
        return seek(me.pos, ball, speed);
    }
    let mut spot = goal + to_ball.normalized() * (0.3 * dist).clamp(0.02, 0.1);
    spot.y = spot.y.clamp(-0.05, 0.05);
    seek(me.pos, spot, speed)
}

/// A right presser: straight at the ball, a little faster than the zone players.
pub fn press_want(state: &State, index: usize) -> Vec2 {
    let Some(me) = state.right.players().get(index) else {
        return Vec2::ZERO;
    };
    let target = state.ball.pos + state.ball.vel * 2.0;
    seek(me.pos, target, team_speed(state, Team::Right) * 1.2)
}

/// A right zone player: halfway between its slot and the ball, and goal-side of the ball.
pub fn zone_want(state: &State, index: usize) -> Vec2 {
    let Some(me) = state.right.players().get(index) else {
        return Vec2::ZERO;
    };
    let ball = state.ball.pos;
    let x = (0.5 * me.home.x + 0.5 * ball.x)
        .max(ball.x + 0.08)
        .min(0.95);
    let y = 0.7 * me.home.y + 0.3 * ball.y;
    seek(me.pos, Vec2::new(x, y), team_speed(state, Team::Right))
}

/// A left supporter: runs onto a pass meant for it, chases a loose ball when `chase`,
/// otherwise takes a spot ahead of the ball at its formation width, off the carrier's line.
pub fn support_want(state: &State, index: usize, chase: bool) -> Vec2 {
    let Some(me) = state.left.players().get(index) else {
        return Vec2::ZERO;
    };
    let speed = team_speed(state, Team::Left);
    if let Some(f) = state.flight {
        if f.kicker.team == Team::Left && f.receiver == Some(index) {
            // Meet the ball: its aim point, then the ball itself once it is close.
            let target = if state.ball.pos.distance(me.pos) < 0.08 {
                state.ball.pos
            } else {
                f.aim
            };
            return seek(me.pos, target, SPRINT_SPEED);
        }
    }
    if chase && state.pending_kick.is_none() {
        return seek(me.pos, state.ball.pos, speed);
    }
    let ball = state.ball.pos;
    let x = if me.home.x > -0.5 {
        me.home.x.max(ball.x + 0.1).min(0.88)
    } else {
        me.home.x.max(ball.x - 0.4)
    };
    let mut y = me.home.y;
    if (y - ball.y).abs() < 0.08 {
        y = if y >= ball.y {
            ball.y + 0.15
        } else {
            ball.y - 0.15
        };
    }
    seek(me.pos, Vec2::new(x, y), speed)
}

/// The built-in AI for the controlled player: with the ball, run at the goal and shoot from
/// within 0.3 of it; without, chase a loose ball (not a pass meant for a teammate) or support.
pub fn builtin_carrier(state: &State) -> (Vec2, Option<KickKind>) {
    let i = state.active;
    let Some(me) = state.left.players().get(i) else {
        return (Vec2::ZERO, None);
    };
    let goal = Team::Left.target_goal();
    if state.owner
        == Some(PlayerId {
            team: Team::Left,
            index: i,
        })
    {
        let kick = (me.pos.distance(goal) < 0.3).then_some(KickKind::Shot);
        return (seek(me.pos, goal, RUN_SPEED * CARRY_FACTOR), kick);
    }
    // A loose ball is chased unless it is a pass to a teammate.
    let pass_to_other = state
        .flight
        .is_some_and(|f| f.kicker.team == Team::Left && f.receiver.is_some_and(|r| r != i));
    if state.owner.is_none() && !pass_to_other {
        return (seek(me.pos, state.ball.pos, RUN_SPEED), None);
    }
    (support_want(state, i, false), None)
}

#[cfg(test)]
mod tests {
    use super::super::state::Player;
    use super::*;

    fn state_with(left: &[(Role, Vec2)], right: &[(Role, Vec2)]) -> State {
        let mut s = State::new(400);
        for &(r, p) in left {
            s.left.push(Player::new(Team::Left, r, p)).unwrap();
        }
        for &(r, p) in right {
            s.right.push(Player::new(Team::Right, r, p)).unwrap();
        }
        s
    }

    #[test]
    fn two_nearest_opponents_press_and_the_rest_stay_goal_side() {
        let mut s = state_with(
            &[(Role::CentralForward, Vec2::new(0.5, 0.0))],
            &[
                (Role::Goalkeeper, Vec2::new(1.0, 0.0)),
                (Role::CentreBack, Vec2::new(0.7, 0.0)),
                (Role::CentreBack, Vec2::new(0.7, 0.2)),
                (Role::CentreBack, Vec2::new(0.9, -0.3)),
            ],
        );
        s.ball.pos = Vec2::new(0.5, 0.0);
        let w = team_wants(&s);
        // Pressers (1, 2) head at the ball, i.e. towards −x.
        assert!(w[1][1].x < 0.0 && w[1][2].x < 0.0);
        // The far one holds a zone goal-side of the ball.
        assert_eq!(nearest_two(&s, Team::Right, s.ball.pos), [Some(1), Some(2)]);
        // The keeper stays near its line.
        let k = s.right.players()[0].pos + w[1][0];
        assert!(k.x > 0.89);
    }

    #[test]
    fn keeper_rushes_a_close_carrier() {
        let mut s = state_with(
            &[(Role::CentralForward, Vec2::new(0.9, 0.05))],
            &[(Role::Goalkeeper, Vec2::new(1.0, 0.0))],
        );
        s.ball.pos = Vec2::new(0.91, 0.05);
        s.owner = Some(PlayerId {
            team: Team::Left,
            index: 0,
        });
        let w = keeper_want(&s, Team::Right, 0);
        assert!(w.x < 0.0 && w.y > 0.0);
        assert!((w.length() - RUN_SPEED).abs() < 1e-6);
    }

    #[test]
    fn supporters_push_ahead_of_the_ball_and_receivers_meet_passes() {
        let mut s = state_with(
            &[
                (Role::CentralForward, Vec2::new(0.0, 0.0)),
                (Role::LeftMidfield, Vec2::new(0.0, -0.2)),
            ],
            &[],
        );
        s.ball.pos = Vec2::new(0.0, 0.0);
        let w = support_want(&s, 1, false);
        assert!(w.x > 0.0);
        s.flight = Some(super::super::state::BallInFlight {
            kind: KickKind::ShortPass,
            kicker: PlayerId {
                team: Team::Left,
                index: 0,
            },
            receiver: Some(1),
            aim: Vec2::new(0.0, -0.3),
            keeper_tried: false,
        });
        let w = support_want(&s, 1, false);
        assert!(w.y < 0.0 && w.x.abs() < 1e-6);
        // The passer, on builtin AI, does not chase its own pass.
        s.active = 0;
        s.ball.pos = Vec2::new(0.05, -0.05);
        let (w, kick) = builtin_carrier(&s);
        assert_eq!(kick, None);
        assert!(w.x > 0.0, "supports instead of chasing: {w:?}");
        s.flight = None;
        let (w, _) = builtin_carrier(&s);
        assert!(w.y < 0.0, "chases a loose ball: {w:?}");
    }
}
