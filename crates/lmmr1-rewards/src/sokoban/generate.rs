//! Seeded level generation with gym-sokoban's algorithm (`room_utils.generate_room`;
//! `../shared/docs/rewards-anchors.md` §3.4).
//!
//! 1. **Topology**: a random walk from a random cell, changing direction with probability
//!    0.35, clamped to the interior, stamps one of five 3×3 floor masks per step; the border is
//!    wall.
//! 2. **Placement**: the player on a random floor cell, then one target per box on random free
//!    floor cells (fewer than `boxes + 2` floor cells rejects the room).
//! 3. **Reverse play**: boxes start on the targets and a depth-first search (ttl 300, at most
//!    300,000 distinct states) moves the player and pulls boxes, in gym's action order. A state
//!    scores `pulls × Σ Manhattan(box, its target)`, or 0 if a box or the player covers a
//!    target; the first best-scoring state becomes the level. (gym counts `box_swaps` against
//!    the root's `last_pull`, so it counts every pull on the path; so does this.)
//! 4. Up to 4 rooms are tried; if all score 0, generation starts over (gym's `reset` retries).
//!
//! States are told apart as gym does (player, boxes, and which boxes were never pulled), through
//! 128-bit Zobrist keys. Python's and numpy's RNG streams are not reproduced: the same seed gives
//! a different level than gym, from the same distribution.

use super::hash::FxHashSet;
use super::level::{Level, Tile, MAX_SIDE};
use crate::rng::SplitMix64;

/// gym-sokoban's named variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// `Sokoban-small-v0`: 7×7, 2 boxes, 200 steps.
    Small0,
    /// `Sokoban-small-v1`: 7×7, 3 boxes, 200 steps.
    Small1,
    /// `Sokoban-v0`: 10×10, 3 boxes, 200 steps.
    V0,
    /// `Sokoban-v1`: 10×10, 4 boxes, 120 steps.
    V1,
    /// `Sokoban-v2`: 10×10, 5 boxes, 200 steps, 40 generation steps.
    V2,
    /// `Sokoban-large-v0`: 13×11, 3 boxes, 300 steps, 43 generation steps.
    Large0,
    /// `Sokoban-large-v1`: 13×11, 5 boxes (gym defines the class twice; the 5-box one wins),
    /// 300 steps, 43 generation steps. (`Sokoban-large-v2` names a class gym lacks.)
    Large1,
    /// `Sokoban-huge-v0`: 13×13, 5 boxes, 300 steps, 50 generation steps.
    Huge0,
}

impl Variant {
    /// Every variant.
    pub const ALL: [Variant; 8] = [
        Variant::Small0,
        Variant::Small1,
        Variant::V0,
        Variant::V1,
        Variant::V2,
        Variant::Large0,
        Variant::Large1,
        Variant::Huge0,
    ];

    /// The gym id, e.g. `"Sokoban-small-v0"`.
    pub fn gym_id(self) -> &'static str {
        match self {
            Variant::Small0 => "Sokoban-small-v0",
            Variant::Small1 => "Sokoban-small-v1",
            Variant::V0 => "Sokoban-v0",
            Variant::V1 => "Sokoban-v1",
            Variant::V2 => "Sokoban-v2",
            Variant::Large0 => "Sokoban-large-v0",
            Variant::Large1 => "Sokoban-large-v1",
            Variant::Huge0 => "Sokoban-huge-v0",
        }
    }

    /// The variant's default episode length.
    pub fn max_steps(self) -> usize {
        match self {
            Variant::V1 => 120,
            Variant::Small0 | Variant::Small1 | Variant::V0 | Variant::V2 => 200,
            Variant::Large0 | Variant::Large1 | Variant::Huge0 => 300,
        }
    }

    /// The generator settings gym uses for this variant.
    pub fn config(self) -> GenConfig {
        let (rows, cols, boxes, steps) = match self {
            Variant::Small0 => (7, 7, 2, None),
            Variant::Small1 => (7, 7, 3, None),
            Variant::V0 => (10, 10, 3, None),
            Variant::V1 => (10, 10, 4, None),
            Variant::V2 => (10, 10, 5, Some(40)),
            Variant::Large0 => (13, 11, 3, Some(43)),
            Variant::Large1 => (13, 11, 5, Some(43)),
            Variant::Huge0 => (13, 13, 5, Some(50)),
        };
        let mut config = GenConfig::new(rows, cols, boxes);
        if let Some(steps) = steps {
            config.num_gen_steps = steps;
        }
        config
    }
}

/// Generator settings; [`GenConfig::new`] gives gym's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Rows, border included.
    pub rows: usize,
    /// Columns, border included.
    pub cols: usize,
    /// Boxes (and targets).
    pub num_boxes: usize,
    /// Random-walk steps of the topology; gym's default is `⌊1.7·(rows + cols)⌋`.
    pub num_gen_steps: usize,
    /// Probability of a new random direction at each walk step (0.35).
    pub p_change_direction: f64,
    /// Rooms tried per generation round (4).
    pub tries: usize,
    /// Depth budget of the reverse search (300); capped at [`MAX_TTL`].
    pub ttl: usize,
    /// Distinct states the reverse search may visit (300,000).
    pub max_states: usize,
    /// Rooms tried in all before [`GenerateError::GaveUp`] (gym retries forever).
    pub max_rooms: usize,
}

impl GenConfig {
    /// gym-sokoban's defaults for a `rows × cols` room with `num_boxes` boxes.
    pub fn new(rows: usize, cols: usize, num_boxes: usize) -> GenConfig {
        GenConfig {
            rows,
            cols,
            num_boxes,
            num_gen_steps: (1.7 * (rows + cols) as f64) as usize,
            p_change_direction: 0.35,
            tries: 4,
            ttl: 300,
            max_states: 300_000,
            max_rooms: 1_000,
        }
    }
}

/// Largest reverse-search depth: the search recurses once per level, so this bounds its stack.
pub const MAX_TTL: usize = 2_000;

/// Why no level was generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// Fewer than 3 or more than [`MAX_SIDE`] rows or columns, or no boxes or more than 16.
    #[error(
        "unsupported room: {rows}x{cols} with {boxes} boxes (need 3 to {MAX_SIDE} rows and columns, 1 to 16 boxes)"
    )]
    Unsupported {
        /// Rows asked for.
        rows: usize,
        /// Columns asked for.
        cols: usize,
        /// Boxes asked for.
        boxes: usize,
    },
    /// `max_rooms` rooms were tried and none could hold the boxes or scored above 0.
    #[error("no playable level after {rooms} rooms")]
    GaveUp {
        /// Rooms tried.
        rooms: usize,
    },
}

/// Generates one level from `seed`.
///
/// ```
/// use lmmr1_rewards::sokoban::{generate, Variant};
///
/// let level = generate(&Variant::Small0.config(), 7)?;
/// assert_eq!((level.rows(), level.cols(), level.num_boxes()), (7, 7, 2));
/// assert!(!level.is_solved());
/// assert_eq!(generate(&Variant::Small0.config(), 7)?, level);
/// # Ok::<(), lmmr1_rewards::sokoban::GenerateError>(())
/// ```
pub fn generate(config: &GenConfig, seed: u64) -> Result<Level, GenerateError> {
    Generator::new(config.clone(), seed)?.next_level()
}

/// Step 3 alone: reverse-plays a solved level (every box on a target) into a puzzle, with
/// `config`'s `ttl` and `max_states`. Returns the best-scoring state and its score, or `None` if
/// no state scores above 0 (then gym tries another room).
///
/// ```
/// use lmmr1_rewards::sokoban::{reverse_play, GenConfig, Level};
///
/// let solved = Level::from_xsb("#######\n#@ *  #\n#     #\n#######")?;
/// let (puzzle, score) = reverse_play(&GenConfig::new(4, 7, 1), &solved).expect("a pull exists");
/// assert!(score > 0 && !puzzle.is_solved());
/// # Ok::<(), lmmr1_rewards::sokoban::LevelError>(())
/// ```
pub fn reverse_play(config: &GenConfig, solved: &Level) -> Option<(Level, u64)> {
    if !solved.is_solved() || solved.num_boxes() > 16 {
        return None;
    }
    // A wall border keeps the search on the board (gym's rooms have one already; the distances
    // the score uses do not change).
    let (rows, cols) = (solved.rows() + 2, solved.cols() + 2);
    let mut tiles = vec![Tile::Wall; rows * cols];
    for r in 0..solved.rows() {
        for c in 0..solved.cols() {
            tiles[(r + 1) * cols + c + 1] = solved.tile(r, c);
        }
    }
    let (pr, pc) = solved.player();
    let mut config = config.clone();
    (config.rows, config.cols) = (rows, cols);
    let mut search = ReverseSearch::new(rows * cols, solved.num_boxes());
    let padded = search.run(&config, &tiles, (pr + 1) * cols + pc + 1)?;
    let inner = |i: usize| padded.boxes()[(i / solved.cols() + 1) * cols + i % solved.cols() + 1];
    let boxes = (0..solved.rows() * solved.cols()).map(inner).collect();
    let (r, c) = padded.player();
    Some((
        solved.with_pieces(boxes, (r - 1, c - 1)),
        search.best_score as u64,
    ))
}

/// A stream of generated levels from one seed, reusing its buffers between levels.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GenConfig,
    rng: SplitMix64,
    search: ReverseSearch,
}

impl Generator {
    /// A generator for `config`, seeded with `seed`.
    pub fn new(config: GenConfig, seed: u64) -> Result<Generator, GenerateError> {
        let (rows, cols, boxes) = (config.rows, config.cols, config.num_boxes);
        let side = 3..=MAX_SIDE;
        if !side.contains(&rows) || !side.contains(&cols) || !(1..=16).contains(&boxes) {
            return Err(GenerateError::Unsupported { rows, cols, boxes });
        }
        let search = ReverseSearch::new(rows * cols, boxes);
        Ok(Generator {
            rng: SplitMix64::new(seed),
            search,
            config,
        })
    }

    /// The next level of the stream.
    pub fn next_level(&mut self) -> Result<Level, GenerateError> {
        let mut rooms = 0;
        while rooms < self.config.max_rooms {
            for _ in 0..self.config.tries.max(1) {
                rooms += 1;
                let mut tiles = self.topology();
                let Some(player) = self.place(&mut tiles) else {
                    // gym raises RuntimeError here, and `reset` starts over.
                    break;
                };
                if let Some(level) = self.search.run(&self.config, &tiles, player) {
                    return Ok(level);
                }
            }
        }
        Err(GenerateError::GaveUp { rooms })
    }

    /// Step 1: the floor plan (row-major, `Tile::Wall`/`Tile::Floor`).
    fn topology(&mut self) -> Vec<Tile> {
        const MASKS: [[[bool; 3]; 3]; 5] = {
            const O: bool = false;
            const X: bool = true;
            [
                [[O, O, O], [X, X, X], [O, O, O]],
                [[O, X, O], [O, X, O], [O, X, O]],
                [[O, O, O], [X, X, O], [O, X, O]],
                [[O, O, O], [X, X, O], [X, X, O]],
                [[O, O, O], [O, X, X], [O, X, O]],
            ]
        };
        const DIRECTIONS: [(isize, isize); 4] = [(1, 0), (0, 1), (-1, 0), (0, -1)];
        let (rows, cols) = (self.config.rows, self.config.cols);
        let mut floor = vec![false; rows * cols];
        let mut direction = DIRECTIONS[self.rng.below(4) as usize];
        let mut r = 1 + self.rng.below((rows - 1) as u64) as isize;
        let mut c = 1 + self.rng.below((cols - 1) as u64) as isize;
        for _ in 0..self.config.num_gen_steps {
            if self.rng.unit_f64() < self.config.p_change_direction {
                direction = DIRECTIONS[self.rng.below(4) as usize];
            }
            r = (r + direction.0).clamp(1, rows as isize - 2);
            c = (c + direction.1).clamp(1, cols as isize - 2);
            let mask = &MASKS[self.rng.below(5) as usize];
            for (dr, row) in mask.iter().enumerate() {
                for (dc, &on) in row.iter().enumerate() {
                    if on {
                        floor[(r as usize + dr - 1) * cols + c as usize + dc - 1] = true;
                    }
                }
            }
        }
        (0..rows * cols)
            .map(|i| {
                let (r, c) = (i / cols, i % cols);
                let border = r == 0 || c == 0 || r == rows - 1 || c == cols - 1;
                if floor[i] && !border {
                    Tile::Floor
                } else {
                    Tile::Wall
                }
            })
            .collect()
    }

    /// Step 2: the player's cell and the targets; `None` if the room is too small.
    fn place(&mut self, tiles: &mut [Tile]) -> Option<usize> {
        let mut free: Vec<usize> = (0..tiles.len())
            .filter(|&i| tiles[i] == Tile::Floor)
            .collect();
        if free.len() <= self.config.num_boxes + 1 {
            return None;
        }
        let player = free.remove(self.rng.below(free.len() as u64) as usize);
        for _ in 0..self.config.num_boxes {
            let target = free.remove(self.rng.below(free.len() as u64) as usize);
            tiles[target] = Tile::Target;
        }
        Some(player)
    }
}

const NO_BOX: u8 = u8::MAX;

/// Step 3: gym's depth-first reverse play, with undo instead of copies.
#[derive(Debug, Clone)]
struct ReverseSearch {
    /// Zobrist keys: player per cell, box per cell, "never pulled" per box.
    z_player: Vec<u128>,
    z_box: Vec<u128>,
    z_unpulled: Vec<u128>,
    explored: FxHashSet<u128>,
    // The state being explored.
    tiles: Vec<Tile>,
    cols: usize,
    box_at: Vec<u8>,
    boxes: Vec<usize>,
    targets: Vec<usize>,
    unpulled: Vec<bool>,
    player: usize,
    pulls: usize,
    key: u128,
    max_states: usize,
    // The best state so far.
    best_score: i64,
    best_boxes: Vec<usize>,
    best_player: usize,
}

impl ReverseSearch {
    fn new(cells: usize, boxes: usize) -> ReverseSearch {
        let mut rng = SplitMix64::new(0x5EED_2B0C_0BA1_1D0E);
        let mut draw = |n: usize| -> Vec<u128> {
            (0..n)
                .map(|_| u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()))
                .collect()
        };
        ReverseSearch {
            z_player: draw(cells),
            z_box: draw(cells),
            z_unpulled: draw(boxes),
            explored: FxHashSet::default(),
            tiles: Vec::new(),
            cols: 0,
            box_at: Vec::new(),
            boxes: Vec::new(),
            targets: Vec::new(),
            unpulled: Vec::new(),
            player: 0,
            pulls: 0,
            key: 0,
            max_states: 0,
            best_score: -1,
            best_boxes: Vec::new(),
            best_player: 0,
        }
    }

    /// Runs the search on a placed room; the level if the best state scores above 0.
    fn run(&mut self, config: &GenConfig, tiles: &[Tile], player: usize) -> Option<Level> {
        self.tiles.clear();
        self.tiles.extend_from_slice(tiles);
        self.cols = config.cols;
        self.targets = (0..tiles.len())
            .filter(|&i| tiles[i] == Tile::Target)
            .collect();
        self.boxes = self.targets.clone();
        self.box_at = vec![NO_BOX; tiles.len()];
        for (id, &t) in self.targets.iter().enumerate() {
            self.box_at[t] = id as u8;
        }
        self.unpulled = vec![true; self.targets.len()];
        self.player = player;
        self.pulls = 0;
        self.key = self.z_player[player];
        for (id, &t) in self.targets.iter().enumerate() {
            self.key ^= self.z_box[t] ^ self.z_unpulled[id];
        }
        self.explored.clear();
        self.max_states = config.max_states;
        self.best_score = -1;
        self.dfs(config.ttl.min(MAX_TTL) as i64);
        if self.best_score <= 0 {
            return None;
        }
        let mut boxes = vec![false; tiles.len()];
        for &b in &self.best_boxes {
            boxes[b] = true;
        }
        let (r, c) = (self.best_player / self.cols, self.best_player % self.cols);
        Level::new(config.rows, config.cols, tiles.to_vec(), boxes, (r, c)).ok()
    }

    fn score(&self) -> i64 {
        let covered = self
            .targets
            .iter()
            .any(|&t| self.box_at[t] != NO_BOX || self.player == t);
        if covered {
            return 0;
        }
        let cols = self.cols;
        let displacement: usize = self
            .boxes
            .iter()
            .zip(&self.targets)
            .map(|(&b, &t)| (b / cols).abs_diff(t / cols) + (b % cols).abs_diff(t % cols))
            .sum();
        (self.pulls * displacement) as i64
    }

    fn dfs(&mut self, ttl: i64) {
        let ttl = ttl - 1;
        if ttl <= 0 || self.explored.len() >= self.max_states || !self.explored.insert(self.key) {
            return;
        }
        let score = self.score();
        if score > self.best_score {
            self.best_score = score;
            self.best_boxes.clone_from(&self.boxes);
            self.best_player = self.player;
        }
        let cols = self.cols as isize;
        // gym's order: pull up, down, left, right, then move up, down, left, right.
        for action in 0..8 {
            let step = [-cols, cols, -1, 1][action % 4];
            let from = self.player;
            let to = from.wrapping_add_signed(step);
            if self.tiles[to] == Tile::Wall || self.box_at[to] != NO_BOX {
                // gym recurses into an unchanged, already explored state: no effect.
                continue;
            }
            self.key ^= self.z_player[from] ^ self.z_player[to];
            self.player = to;
            let behind = from.wrapping_add_signed(-step);
            let pulled = if action < 4 && self.box_at[behind] != NO_BOX {
                let id = self.box_at[behind];
                let was_unpulled = self.unpulled[id as usize];
                self.move_box(id, behind, from);
                if was_unpulled {
                    self.unpulled[id as usize] = false;
                    self.key ^= self.z_unpulled[id as usize];
                }
                self.pulls += 1;
                Some((id, was_unpulled))
            } else {
                None
            };
            self.dfs(ttl);
            if let Some((id, was_unpulled)) = pulled {
                self.pulls -= 1;
                if was_unpulled {
                    self.unpulled[id as usize] = true;
                    self.key ^= self.z_unpulled[id as usize];
                }
                self.move_box(id, from, behind);
            }
            self.key ^= self.z_player[from] ^ self.z_player[to];
            self.player = from;
        }
    }

    fn move_box(&mut self, id: u8, from: usize, to: usize) {
        self.box_at[from] = NO_BOX;
        self.box_at[to] = id;
        self.boxes[id as usize] = to;
        self.key ^= self.z_box[from] ^ self.z_box[to];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sokoban::level::Tile;

    #[test]
    fn generated_levels_are_enclosed_unsolved_and_seeded() {
        for variant in [Variant::Small0, Variant::Small1] {
            let config = variant.config();
            let mut gen = Generator::new(config.clone(), 3).unwrap();
            let levels: Vec<Level> = (0..10).map(|_| gen.next_level().unwrap()).collect();
            for level in &levels {
                assert_eq!(level.num_boxes(), config.num_boxes);
                let (r, c) = level.player();
                assert_eq!(level.tile(r, c), Tile::Floor, "never starts on a target");
                assert!((0..7)
                    .all(|i| level.tile(0, i) == Tile::Wall && level.tile(6, i) == Tile::Wall));
                assert!((0..7)
                    .all(|i| level.tile(i, 0) == Tile::Wall && level.tile(i, 6) == Tile::Wall));
                assert!((0..49).all(
                    |i| !level.has_box(i / 7, i % 7) || level.tile(i / 7, i % 7) == Tile::Floor
                ));
            }
            let mut again = Generator::new(config, 3).unwrap();
            assert_eq!(again.next_level().unwrap(), levels[0]);
            assert_ne!(levels[0], levels[1]);
        }
    }

    #[test]
    fn unsupported_configs_are_errors() {
        assert!(matches!(
            generate(&GenConfig::new(2, 7, 1), 0),
            Err(GenerateError::Unsupported { .. })
        ));
        assert!(matches!(
            generate(&GenConfig::new(7, MAX_SIDE + 1, 3), 0),
            Err(GenerateError::Unsupported { .. })
        ));
        assert!(matches!(
            generate(&GenConfig::new(7, 7, 0), 0),
            Err(GenerateError::Unsupported { .. })
        ));
        // A 3x3 room has one interior cell: never room for a box.
        assert_eq!(
            generate(&GenConfig::new(3, 3, 1), 0),
            Err(GenerateError::GaveUp { rooms: 1000 })
        );
    }

    #[test]
    fn reverse_play_stays_on_open_boards() {
        // No wall border: the search must not step off the board.
        let solved = Level::from_xsb("@ *  \n     ").unwrap();
        let (puzzle, score) = reverse_play(&GenConfig::new(2, 5, 1), &solved).unwrap();
        assert!(score > 0 && !puzzle.is_solved());
        assert_eq!((puzzle.rows(), puzzle.cols()), (2, 5));
        assert_eq!(
            reverse_play(&GenConfig::new(2, 5, 1), &Level::from_xsb("@$.").unwrap()),
            None
        );
    }

    #[test]
    fn variants_match_gym() {
        let c = Variant::V2.config();
        assert_eq!(
            (c.rows, c.cols, c.num_boxes, c.num_gen_steps),
            (10, 10, 5, 40)
        );
        assert_eq!(Variant::Small1.config().num_gen_steps, 23);
        assert_eq!(Variant::V1.max_steps(), 120);
        assert_eq!(Variant::Large1.config().num_boxes, 5);
        assert_eq!(Variant::Huge0.gym_id(), "Sokoban-huge-v0");
    }
}
