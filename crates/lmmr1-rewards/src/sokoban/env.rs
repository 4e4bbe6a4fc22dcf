//! [`Env`]: gym-sokoban's step rules and rewards, exactly.
//!
//! Rules (gym-sokoban 0.0.6, `SokobanEnv.step`; `../shared/docs/rewards-anchors.md` §3.2–3.3):
//!
//! * Action 0 does nothing. Actions 1–4 *push* up/down/left/right: when the adjacent cell holds
//!   a box and the cell beyond is free floor or target, player and box move; otherwise the push
//!   acts as a move. Actions 5–8 *move*: the player enters a free floor or target cell, and never
//!   pushes. There are no chain pushes and no pulls.
//! * Reward, computed in `f64` in this order: start from −0.1; with
//!   `cur = boxes − uncovered targets` (a target under the player counts as uncovered), add +1 if
//!   `cur` rose since the previous step and −1 if it fell (the counter starts at 0 on reset, as
//!   in gym); add +10 on every step on which all targets are covered.
//! * `done = all boxes on targets || steps == max_steps` (`==`, so `done` falls back to false
//!   after `max_steps`; stepping on after `done` is allowed, as in gym).
//!
//! Cells outside the board act as walls. gym-sokoban itself indexes numpy arrays there
//! (wrapping at −1, raising past the far edge), which only matters for levels whose player can
//! reach the border; gym's own levels and real collections are enclosed by walls.

use super::level::{Level, Tile};

/// One of the four directions, with gym-sokoban's order (up, down, left, right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Row − 1.
    Up,
    /// Row + 1.
    Down,
    /// Column − 1.
    Left,
    /// Column + 1.
    Right,
}

impl Direction {
    /// All four, in gym-sokoban's order.
    pub const ALL: [Direction; 4] = [
        Direction::Up,
        Direction::Down,
        Direction::Left,
        Direction::Right,
    ];

    /// `(row, column)` delta.
    pub fn delta(self) -> (isize, isize) {
        match self {
            Direction::Up => (-1, 0),
            Direction::Down => (1, 0),
            Direction::Left => (0, -1),
            Direction::Right => (0, 1),
        }
    }

    /// The opposite direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::Up => Direction::Down,
            Direction::Down => Direction::Up,
            Direction::Left => Direction::Right,
            Direction::Right => Direction::Left,
        }
    }

    /// Position in [`Direction::ALL`] (0–3).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A gym-sokoban action (`Discrete(9)`).
///
/// ```
/// use lmmr1_rewards::sokoban::{Action, Direction};
///
/// assert_eq!(Action::from_gym_index(0), Some(Action::NoOp));
/// assert_eq!(Action::from_gym_index(3), Some(Action::Push(Direction::Left)));
/// assert_eq!(Action::from_gym_index(8), Some(Action::Move(Direction::Right)));
/// assert_eq!(Action::from_gym_index(9), None);
/// assert_eq!(Action::Move(Direction::Up).gym_index(), 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Gym id 0: nothing happens (the step still counts and costs −0.1).
    NoOp,
    /// Gym ids 1–4: push a box if possible, else move.
    Push(Direction),
    /// Gym ids 5–8: move without pushing.
    Move(Direction),
}

impl Action {
    /// The action with gym-sokoban id `i`: 0 no-op, 1–4 push up/down/left/right, 5–8 move
    /// up/down/left/right; `None` for 9 and above.
    pub fn from_gym_index(i: u8) -> Option<Action> {
        match i {
            0 => Some(Action::NoOp),
            1..=4 => Some(Action::Push(Direction::ALL[usize::from(i - 1)])),
            5..=8 => Some(Action::Move(Direction::ALL[usize::from(i - 5)])),
            _ => None,
        }
    }

    /// The gym-sokoban id (0–8).
    pub fn gym_index(self) -> u8 {
        match self {
            Action::NoOp => 0,
            Action::Push(d) => 1 + d as u8,
            Action::Move(d) => 5 + d as u8,
        }
    }
}

/// What one [`Env::step`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The step reward as `f32` (gym's `float64` value, rounded).
    pub reward: f32,
    /// The step reward exactly as gym computes it (`float64`).
    pub reward_f64: f64,
    /// `all_boxes_on_target || steps == max_steps`.
    pub done: bool,
    /// Whether the player changed cell (gym's `info["action.moved_player"]`).
    pub moved_player: bool,
    /// Whether a box was pushed (gym's `info["action.moved_box"]`).
    pub moved_box: bool,
    /// Whether every target is covered by a box after the step.
    pub all_boxes_on_target: bool,
    /// Whether this step was number `max_steps`.
    pub max_steps_used: bool,
}

/// Step penalty, box-on-target reward, box-off-target penalty and win bonus (gym's defaults,
/// which LMM-R1 keeps).
const PENALTY_FOR_STEP: f64 = -0.1;
const REWARD_BOX_ON_TARGET: f64 = 1.0;
const PENALTY_BOX_OFF_TARGET: f64 = -1.0;
const REWARD_FINISHED: f64 = 10.0;

/// A Sokoban episode with gym-sokoban's rules (see the module docs).
///
/// ```
/// use lmmr1_rewards::sokoban::{Action, Direction, Env, Level};
///
/// let level = Level::from_xsb("######\n#@$ .#\n######")?;
/// let mut env = Env::new(level, 120);
/// let push = Action::Push(Direction::Right);
/// assert_eq!((env.step(push).reward, env.step(push).reward), (-0.1, 10.9));
/// assert!(env.is_solved());
/// # Ok::<(), lmmr1_rewards::sokoban::LevelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Env {
    level: Level,
    /// Board width including a one-cell wall border on every side.
    width: usize,
    /// Padded static layer: walls, floor, targets.
    tiles: Vec<Tile>,
    /// Padded box occupancy.
    boxes: Vec<bool>,
    /// Padded index of the player.
    player: usize,
    num_boxes: i64,
    num_targets: i64,
    /// Boxes currently on targets.
    covered: i64,
    /// gym's `boxes_on_target` counter: `cur` of the previous step, 0 after reset.
    last_cur: i64,
    steps: usize,
    max_steps: usize,
}

impl Env {
    /// Starts an episode on `level` that ends (`done`) at step `max_steps` at the latest.
    pub fn new(level: Level, max_steps: usize) -> Env {
        let (rows, cols) = (level.rows(), level.cols());
        let width = cols + 2;
        let mut env = Env {
            width,
            tiles: vec![Tile::Wall; (rows + 2) * width],
            boxes: vec![false; (rows + 2) * width],
            player: 0,
            num_boxes: level.num_boxes() as i64,
            num_targets: level.tiles().iter().filter(|&&t| t == Tile::Target).count() as i64,
            covered: 0,
            last_cur: 0,
            steps: 0,
            max_steps,
            level,
        };
        env.reset();
        env
    }

    /// Puts the level back in its initial state and the step counter to 0.
    pub fn reset(&mut self) {
        let cols = self.level.cols();
        self.covered = 0;
        for (i, (&tile, &has_box)) in self
            .level
            .tiles()
            .iter()
            .zip(self.level.boxes())
            .enumerate()
        {
            let p = self.padded(i / cols, i % cols);
            self.tiles[p] = tile;
            self.boxes[p] = has_box;
            self.covered += i64::from(has_box && tile == Tile::Target);
        }
        let (r, c) = self.level.player();
        self.player = self.padded(r, c);
        self.last_cur = 0;
        self.steps = 0;
    }

    fn padded(&self, row: usize, column: usize) -> usize {
        (row + 1) * self.width + column + 1
    }

    fn offset(&self, d: Direction) -> usize {
        match d {
            Direction::Up => self.width.wrapping_neg(),
            Direction::Down => self.width,
            Direction::Left => usize::MAX,
            Direction::Right => 1,
        }
    }

    fn is_free(&self, p: usize) -> bool {
        self.tiles[p] != Tile::Wall && !self.boxes[p]
    }

    /// Takes one action and returns its reward and flags (gym-sokoban's `step`).
    pub fn step(&mut self, action: Action) -> Step {
        self.steps += 1;
        let (moved_player, moved_box) = match action {
            Action::NoOp => (false, false),
            Action::Push(d) => self.push(d),
            Action::Move(d) => (self.walk(d), false),
        };
        let cur = self.num_boxes - (self.num_targets - self.covered);
        let mut reward = PENALTY_FOR_STEP;
        if cur > self.last_cur {
            reward += REWARD_BOX_ON_TARGET;
        } else if cur < self.last_cur {
            reward += PENALTY_BOX_OFF_TARGET;
        }
        let all_boxes_on_target = self.covered == self.num_targets;
        if all_boxes_on_target {
            reward += REWARD_FINISHED;
        }
        self.last_cur = cur;
        let max_steps_used = self.steps == self.max_steps;
        Step {
            reward: reward as f32,
            reward_f64: reward,
            done: all_boxes_on_target || max_steps_used,
            moved_player,
            moved_box,
            all_boxes_on_target,
            max_steps_used,
        }
    }

    fn walk(&mut self, d: Direction) -> bool {
        let next = self.player.wrapping_add(self.offset(d));
        if self.is_free(next) {
            self.player = next;
            return true;
        }
        false
    }

    fn push(&mut self, d: Direction) -> (bool, bool) {
        let off = self.offset(d);
        let next = self.player.wrapping_add(off);
        if self.boxes[next] {
            let beyond = next.wrapping_add(off);
            // The padding keeps `beyond` in bounds: `next` holds a box, so it is inside the board.
            if self.is_free(beyond) {
                self.boxes[next] = false;
                self.boxes[beyond] = true;
                self.covered += i64::from(self.tiles[beyond] == Tile::Target)
                    - i64::from(self.tiles[next] == Tile::Target);
                self.player = next;
                return (true, true);
            }
            return (false, false);
        }
        (self.walk(d), false)
    }

    /// Steps taken since the last reset.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The episode length limit given to [`Env::new`].
    pub fn max_steps(&self) -> usize {
        self.max_steps
    }

    /// The player's `(row, column)`.
    pub fn player(&self) -> (usize, usize) {
        (self.player / self.width - 1, self.player % self.width - 1)
    }

    /// Whether every box stands on a target.
    pub fn is_solved(&self) -> bool {
        self.covered == self.num_targets
    }

    /// The level the episode started from.
    pub fn initial_level(&self) -> &Level {
        &self.level
    }

    /// The current board as a [`Level`] (e.g. to print it with [`Level::to_xsb`]).
    pub fn state(&self) -> Level {
        let (rows, cols) = (self.level.rows(), self.level.cols());
        let boxes = (0..rows * cols)
            .map(|i| self.boxes[self.padded(i / cols, i % cols)])
            .collect();
        self.level.with_pieces(boxes, self.player())
    }
}

/// Whether `moves`, played as gym push actions from the start of `level`, leave every box on a
/// target.
///
/// ```
/// use lmmr1_rewards::sokoban::{is_solution, parse_lurd, Level};
///
/// let level = Level::from_xsb("######\n#@$ .#\n######")?;
/// assert!(is_solution(&level, &parse_lurd("2r").unwrap()));
/// assert!(!is_solution(&level, &parse_lurd("r").unwrap()));
/// # Ok::<(), lmmr1_rewards::sokoban::LevelError>(())
/// ```
pub fn is_solution(level: &Level, moves: &[Direction]) -> bool {
    let mut env = Env::new(level.clone(), usize::MAX);
    for &d in moves {
        env.step(Action::Push(d));
    }
    env.is_solved()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(xsb: &str) -> Env {
        Env::new(Level::from_xsb(xsb).unwrap(), 120)
    }

    #[test]
    fn gym_indices_round_trip() {
        for i in 0..9u8 {
            assert_eq!(Action::from_gym_index(i).unwrap().gym_index(), i);
        }
        assert!((9..=255).all(|i| Action::from_gym_index(i).is_none()));
    }

    #[test]
    fn push_acts_as_move_and_move_never_pushes() {
        let mut e = env("#######\n#@ $ .#\n#######");
        let s = e.step(Action::Push(Direction::Right));
        assert!(s.moved_player && !s.moved_box && s.reward == -0.1);
        let s = e.step(Action::Move(Direction::Right));
        assert!(
            !s.moved_player && !s.moved_box,
            "a move into a box does nothing"
        );
        let s = e.step(Action::Push(Direction::Right));
        assert!(s.moved_player && s.moved_box);
        assert_eq!(e.state().to_xsb(), "#######\n#  @$.#\n#######");
        let s = e.step(Action::Push(Direction::Right));
        assert_eq!(
            (s.reward_f64, s.done, s.all_boxes_on_target),
            (-0.1 + 1.0 + 10.0, true, true)
        );
        assert_eq!(s.reward, 10.9);
    }

    #[test]
    fn no_chain_push_and_wall_blocks() {
        let mut e = env("#######\n#@$$..#\n#######");
        let s = e.step(Action::Push(Direction::Right));
        assert!(!s.moved_player && !s.moved_box);
        let s = e.step(Action::Push(Direction::Up));
        assert!(!s.moved_player);
        assert_eq!(e.steps(), 2);
        assert_eq!(e.player(), (1, 1));
    }

    #[test]
    fn box_off_target_costs_one_and_the_counter_starts_at_zero() {
        // One box already on a target: gym's counter starts at 0, so the first step sees a rise.
        let mut e = env("#######\n#@*  .$#\n########");
        assert_eq!(e.step(Action::NoOp).reward_f64, -0.1 + 1.0);
        assert_eq!(
            e.step(Action::Push(Direction::Right)).reward_f64,
            -0.1 + -1.0
        );
        assert_eq!(e.step(Action::NoOp).reward_f64, -0.1);
    }

    #[test]
    fn win_bonus_repeats_and_done_follows_max_steps_equality() {
        let mut e = Env::new(Level::from_xsb("#####\n#@$.#\n#####").unwrap(), 3);
        assert_eq!(
            e.step(Action::Push(Direction::Right)).reward_f64,
            -0.1 + 1.0 + 10.0
        );
        let s = e.step(Action::NoOp);
        assert_eq!((s.reward_f64, s.done), (-0.1 + 10.0, true));

        let mut e = Env::new(Level::from_xsb("#####\n#@ $.#\n######").unwrap(), 2);
        assert!(!e.step(Action::NoOp).done);
        let s = e.step(Action::NoOp);
        assert!(s.done && s.max_steps_used && !s.all_boxes_on_target);
        assert!(
            !e.step(Action::NoOp).done,
            "gym compares steps == max_steps"
        );
        e.reset();
        assert_eq!((e.steps(), e.player()), (0, (1, 1)));
    }

    #[test]
    fn open_board_edges_act_as_walls() {
        let mut e = env("@$.");
        assert!(!e.step(Action::Move(Direction::Up)).moved_player);
        assert!(!e.step(Action::Move(Direction::Left)).moved_player);
        assert!(e.step(Action::Push(Direction::Right)).moved_box);
        assert!(!e.step(Action::Push(Direction::Right)).moved_player);
        assert!(e.is_solved());
    }
}
