//! gfootball's `scoring` and `scoring,checkpoints` rewards (`CheckpointRewardWrapper`,
//! `shared/docs/rewards-anchors.md` §5.2).
//!
//! `scoring` is +1 when the left team scores and −1 when it concedes. The checkpoint wrapper
//! adds 10 checkpoints of +0.1: checkpoint k (k = 0…9) is collected, once per episode, when
//! the **controlled** player owns the ball within `0.99 − 0.8/9·k` of the goal centre (1, 0).
//! A goal (+1) pays every checkpoint not yet collected, so a goal is worth 2 in all.

use super::state::State;

/// Number of checkpoints.
pub const NUM_CHECKPOINTS: u32 = 10;
/// Value of one checkpoint.
pub const CHECKPOINT_REWARD: f64 = 0.1;

/// gfootball's `scoring` reward between two scores `[left, right]`.
pub fn scoring_reward(before: [u32; 2], after: [u32; 2]) -> f64 {
    f64::from(after[0].saturating_sub(before[0])) - f64::from(after[1].saturating_sub(before[1]))
}

/// The checkpoint wrapper's per-episode state.
///
/// ```
/// use lmmr1_rewards::football::{Scenario, checkpoints::CheckpointReward};
/// let mut st = Scenario::empty_goal_close().initial_state(0);
/// let mut c = CheckpointReward::new();
/// // The carrier is 0.222 from the goal: thresholds 0.99 … 0.2789 are passed (9 of 10).
/// assert!((c.step(&st, 0.0) - 0.9).abs() < 1e-9);
/// // A goal pays the last one on top of the +1.
/// st.owner = None;
/// assert!((c.step(&st, 1.0) - 1.1).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckpointReward {
    collected: u32,
}

impl CheckpointReward {
    /// No checkpoint collected.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the episode.
    pub fn reset(&mut self) {
        self.collected = 0;
    }

    /// Checkpoints collected so far.
    pub fn collected(&self) -> u32 {
        self.collected
    }

    /// The `scoring,checkpoints` reward for `state`, given this step's `scoring` reward.
    pub fn step(&mut self, state: &State, scoring: f64) -> f64 {
        let mut reward = scoring;
        if scoring == 1.0 {
            reward += CHECKPOINT_REWARD * f64::from(NUM_CHECKPOINTS - self.collected);
            self.collected = NUM_CHECKPOINTS;
            return reward;
        }
        if state.ball_owned_team() != 0 || state.ball_owned_player() != state.active as i32 {
            return reward;
        }
        let (x, y) = (f64::from(state.ball.pos.x), f64::from(state.ball.pos.y));
        let d = ((x - 1.0).powi(2) + y.powi(2)).sqrt();
        while self.collected < NUM_CHECKPOINTS {
            let threshold = 0.99 - 0.8 / f64::from(NUM_CHECKPOINTS - 1) * f64::from(self.collected);
            if d > threshold {
                break;
            }
            reward += CHECKPOINT_REWARD;
            self.collected += 1;
        }
        reward
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::{Player, PlayerId, Role, Team};
    use super::super::vec2::Vec2;
    use super::*;

    fn carrier_at(x: f32, y: f32) -> State {
        let mut st = State::new(400);
        st.left
            .push(Player::new(
                Team::Left,
                Role::CentralForward,
                Vec2::new(x, y),
            ))
            .unwrap();
        st.left
            .push(Player::new(Team::Left, Role::CentralForward, Vec2::ZERO))
            .unwrap();
        st.ball.pos = Vec2::new(x, y);
        st.owner = Some(PlayerId {
            team: Team::Left,
            index: 0,
        });
        st
    }

    #[test]
    fn checkpoints_are_collected_once_by_distance() {
        let mut c = CheckpointReward::new();
        // d = 1.0 > 0.99: nothing.
        assert_eq!(c.step(&carrier_at(0.0, 0.0), 0.0), 0.0);
        // d = 0.5: thresholds 0.99, 0.9011, 0.8122, 0.7233, 0.6344, 0.5456 → 6 checkpoints.
        assert!((c.step(&carrier_at(0.5, 0.0), 0.0) - 0.6).abs() < 1e-12);
        assert_eq!(c.collected(), 6);
        // Going back pays nothing; coming again pays nothing more.
        assert_eq!(c.step(&carrier_at(0.2, 0.0), 0.0), 0.0);
        assert_eq!(c.step(&carrier_at(0.5, 0.0), 0.0), 0.0);
        // The remaining 4 come with a goal.
        assert!((c.step(&carrier_at(0.5, 0.0), 1.0) - 1.4).abs() < 1e-12);
        assert_eq!(c.collected(), NUM_CHECKPOINTS);
    }

    #[test]
    fn only_the_controlled_carrier_collects() {
        let mut st = carrier_at(0.5, 0.0);
        st.active = 1;
        let mut c = CheckpointReward::new();
        assert_eq!(c.step(&st, 0.0), 0.0);
        st.owner = None;
        st.active = 0;
        assert_eq!(c.step(&st, 0.0), 0.0);
        // Conceding is −1 and no checkpoint is paid for it.
        assert_eq!(c.step(&st, -1.0), -1.0);
    }

    #[test]
    fn scoring_is_plus_one_minus_one() {
        assert_eq!(scoring_reward([0, 0], [1, 0]), 1.0);
        assert_eq!(scoring_reward([0, 0], [0, 1]), -1.0);
        assert_eq!(scoring_reward([1, 1], [1, 1]), 0.0);
    }
}
