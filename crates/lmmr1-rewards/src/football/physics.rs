//! Fixed-step kinematics: players, ball flight and roll, kick speeds.
//!
//! One step is 0.1 s of game time (gfootball observes at 10 steps/s); one pitch unit is about
//! 52.5 m. All arithmetic is `f32` and nothing allocates.

use super::state::{Ball, KickKind, Player, PITCH_HALF_LENGTH, PITCH_HALF_WIDTH};
use super::vec2::Vec2;

/// Running speed per step (about 6.3 m/s).
pub const RUN_SPEED: f32 = 0.012;
/// Sprinting speed per step (about 8.9 m/s).
pub const SPRINT_SPEED: f32 = 0.017;
/// Dribbling speed per step: slower, but the ball is harder to take.
pub const DRIBBLE_SPEED: f32 = 0.008;
/// Speed factor while carrying the ball.
pub const CARRY_FACTOR: f32 = 0.92;
/// Fraction of the gap to the wanted velocity closed each step (inertia).
pub const ACCELERATION: f32 = 0.45;
/// How far outside the lines players may run.
pub const RUN_OFF_MARGIN: f32 = 0.05;

/// Distance in front of its carrier at which a held ball sits.
pub const BALL_OFFSET: f32 = 0.008;
/// Ground velocity kept per step by a rolling ball.
pub const GROUND_FRICTION: f32 = 0.955;
/// Ground velocity kept per step by a ball in the air.
pub const AIR_DRAG: f32 = 0.995;
/// Gravity, per step² (9.81 m/s² in pitch units at 10 steps/s).
pub const GRAVITY: f32 = 0.0019;
/// Vertical speed kept by a bounce.
pub const RESTITUTION: f32 = 0.45;
/// Below this vertical speed a landing ball stops bouncing.
pub const MIN_BOUNCE: f32 = 0.004;
/// Below this speed a rolling ball stops.
pub const MIN_ROLL: f32 = 0.0004;

/// Ball speed of a shot, per step (about 29 m/s).
pub const SHOT_SPEED: f32 = 0.055;
/// Speed cap of a short pass.
pub const SHORT_PASS_MAX: f32 = 0.045;
/// Speed cap of a long pass.
pub const LONG_PASS_MAX: f32 = 0.075;
/// Horizontal speed of a high pass.
pub const HIGH_PASS_SPEED: f32 = 0.032;

/// Moves `p` one step towards wanting velocity `want` (inertia, then position), keeping it
/// within [`RUN_OFF_MARGIN`] of the lines; a non-zero `want` also turns the player.
pub fn move_player(p: &mut Player, want: Vec2) {
    p.vel += (want - p.vel) * ACCELERATION;
    if p.vel.length_sq() < 1e-10 {
        p.vel = Vec2::ZERO;
    }
    p.pos += p.vel;
    let mx = PITCH_HALF_LENGTH + RUN_OFF_MARGIN;
    let my = PITCH_HALF_WIDTH + RUN_OFF_MARGIN;
    p.pos.x = p.pos.x.clamp(-mx, mx);
    p.pos.y = p.pos.y.clamp(-my, my);
    let dir = want.normalized();
    if dir != Vec2::ZERO {
        p.facing = dir;
    }
}

/// The velocity that walks from `from` towards `to` at up to `speed`, slowing down in the
/// last step so as not to overshoot.
pub fn seek(from: Vec2, to: Vec2, speed: f32) -> Vec2 {
    (to - from).clamp_length(speed)
}

/// Where a held ball sits: just in front of its carrier, on the ground.
pub fn carry_ball(ball: &mut Ball, carrier: &Player) {
    ball.pos = carrier.pos + carrier.facing * BALL_OFFSET;
    ball.vel = carrier.vel;
    ball.z = 0.0;
    ball.vz = 0.0;
}

/// Advances a free ball one step: flight with gravity and a little drag, damped bounces,
/// then rolling with friction.
pub fn advance_ball(ball: &mut Ball) {
    ball.pos += ball.vel;
    if ball.z > 0.0 || ball.vz > 0.0 {
        ball.vel = ball.vel * AIR_DRAG;
        ball.vz -= GRAVITY;
        ball.z += ball.vz;
        if ball.z <= 0.0 {
            ball.z = 0.0;
            ball.vz = if -ball.vz > MIN_BOUNCE {
                -ball.vz * RESTITUTION
            } else {
                0.0
            };
            ball.vel = ball.vel * 0.85;
        }
    } else {
        ball.vel = ball.vel * GROUND_FRICTION;
        if ball.vel.length_sq() < MIN_ROLL * MIN_ROLL {
            ball.vel = Vec2::ZERO;
        }
    }
}

/// Launch velocity `(ground, vertical)` of a kick from `from` aimed at `to`.
///
/// Ground passes solve the rolling geometric series so the ball still moves at a small
/// arrival speed `a` on reaching `to`: with friction `f`, distance `d` needs
/// `v0 = d·(1 − f) + a` (capped per kind). A high pass flies at [`HIGH_PASS_SPEED`] and is
/// given the vertical speed that lands it at `to`. A shot goes at [`SHOT_SPEED`], slightly
/// lifted.
pub fn kick_velocity(kind: KickKind, from: Vec2, to: Vec2) -> (Vec2, f32) {
    let delta = to - from;
    let d = delta.length();
    let dir = if d > 1e-6 {
        delta * (1.0 / d)
    } else {
        Vec2::new(1.0, 0.0)
    };
    match kind {
        KickKind::ShortPass => (
            dir * (d * (1.0 - GROUND_FRICTION) + 0.010).min(SHORT_PASS_MAX),
            0.0,
        ),
        KickKind::LongPass => (
            dir * (d * (1.0 - GROUND_FRICTION) + 0.018).min(LONG_PASS_MAX),
            0.0,
        ),
        KickKind::HighPass => {
            // Flight time t steps with drag ≈ 1; vz = g·t/2 lands it after t steps.
            let t = (d / HIGH_PASS_SPEED).clamp(6.0, 40.0);
            (dir * (d / t), GRAVITY * t * 0.5)
        }
        KickKind::Shot => (dir * SHOT_SPEED, 0.006),
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::{Role, Team};
    use super::*;

    #[test]
    fn players_accelerate_to_speed_and_face_their_way() {
        let mut p = Player::new(Team::Left, Role::CentralMidfield, Vec2::ZERO);
        for _ in 0..20 {
            move_player(&mut p, Vec2::new(0.0, RUN_SPEED));
        }
        assert!((p.vel.y - RUN_SPEED).abs() < 1e-5);
        assert_eq!(p.facing, Vec2::new(0.0, 1.0));
        assert!(p.pos.y > 0.15 && p.pos.y < 20.0 * RUN_SPEED);
    }

    #[test]
    fn players_stay_near_the_pitch() {
        let mut p = Player::new(Team::Left, Role::CentralMidfield, Vec2::new(0.9, 0.0));
        for _ in 0..100 {
            move_player(&mut p, Vec2::new(SPRINT_SPEED, 0.0));
        }
        assert!((p.pos.x - (1.0 + RUN_OFF_MARGIN)).abs() < 1e-6);
    }

    #[test]
    fn a_short_pass_arrives_with_the_planned_speed() {
        let (v, vz) = kick_velocity(KickKind::ShortPass, Vec2::ZERO, Vec2::new(0.3, 0.0));
        assert_eq!(vz, 0.0);
        let mut ball = Ball {
            vel: v,
            ..Ball::default()
        };
        let mut steps = 0;
        while ball.pos.x < 0.3 && steps < 500 {
            advance_ball(&mut ball);
            steps += 1;
        }
        assert!(ball.pos.x >= 0.3, "the pass fell short at {:?}", ball.pos);
        // Arrival speed is a bit above 0.010 (discrete steps); the ball then rolls out.
        assert!(ball.vel.x > 0.008 && ball.vel.x < 0.02, "{:?}", ball.vel);
        for _ in 0..500 {
            advance_ball(&mut ball);
        }
        assert_eq!(ball.vel, Vec2::ZERO);
    }

    #[test]
    fn a_high_pass_lands_near_its_target() {
        let to = Vec2::new(0.5, 0.2);
        let (v, vz) = kick_velocity(KickKind::HighPass, Vec2::ZERO, to);
        let mut ball = Ball {
            vel: v,
            vz,
            ..Ball::default()
        };
        let mut peak: f32 = 0.0;
        advance_ball(&mut ball);
        while ball.z > 0.0 {
            peak = peak.max(ball.z);
            advance_ball(&mut ball);
        }
        assert!(peak > 0.05, "peak {peak}");
        assert!(ball.pos.distance(to) < 0.05, "landed at {:?}", ball.pos);
    }
}
