//! [`Level`]: a Sokoban board, read from and written to XSB text and gym-sokoban's integer room.

use std::fmt;

/// Largest number of rows or columns a [`Level`] may have.
///
/// Real collections stay under 60; the bound keeps every cell index in a `u16` (the solver and
/// the generator rely on it) and makes the memory of any accepted level small.
pub const MAX_SIDE: usize = 250;

/// What lies under a cell, independent of boxes and the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tile {
    /// A wall: nothing ever enters it.
    Wall,
    /// Plain floor.
    Floor,
    /// Floor marked as a box target.
    Target,
}

/// Why a level could not be read.
///
/// Line and column numbers are 1-based and count characters (not bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LevelError {
    /// The text or array holds no cell at all.
    #[error("the level is empty")]
    Empty,
    /// A character that is not part of the XSB alphabet.
    #[error("line {line}, column {column}: unexpected character {ch:?} (XSB uses # @ + $ * . and space)")]
    UnknownChar {
        /// Line of the character.
        line: usize,
        /// Column of the character.
        column: usize,
        /// The character.
        ch: char,
    },
    /// No `@` or `+` (or gym code 5).
    #[error("the level has no player")]
    NoPlayer,
    /// A second player; `line`/`column` locate it (rows/columns for gym rooms).
    #[error("line {line}, column {column}: a second player (a level has exactly one)")]
    MultiplePlayers {
        /// Line (or row + 1) of the second player.
        line: usize,
        /// Column (1-based) of the second player.
        column: usize,
    },
    /// The number of boxes differs from the number of targets.
    #[error("the level has {boxes} boxes but {targets} targets")]
    BoxTargetMismatch {
        /// Number of boxes.
        boxes: usize,
        /// Number of targets.
        targets: usize,
    },
    /// More than [`MAX_SIDE`] rows or columns.
    #[error("the level is {rows}x{cols}; at most {MAX_SIDE}x{MAX_SIDE} is supported")]
    TooLarge {
        /// Rows found.
        rows: usize,
        /// Columns found.
        cols: usize,
    },
    /// A gym room array whose length is not `rows * cols`.
    #[error("a {rows}x{cols} room needs {} cells, got {len}", rows * cols)]
    ShapeMismatch {
        /// Rows asked for.
        rows: usize,
        /// Columns asked for.
        cols: usize,
        /// Cells given.
        len: usize,
    },
    /// A gym room cell outside 0..=5 (`room_state`) or 0..=2 (`room_fixed`), or a box or player
    /// on a wall of `room_fixed`.
    #[error("row {row}, column {column}: invalid gym cell code {code}")]
    BadGymCode {
        /// 0-based row.
        row: usize,
        /// 0-based column.
        column: usize,
        /// The code found.
        code: u8,
    },
}

/// A Sokoban board: tiles, boxes and the player, row 0 at the top.
///
/// ```
/// use lmmr1_rewards::sokoban::Level;
///
/// let level = Level::from_xsb("#####\n#@$.#\n#####")?;
/// assert_eq!((level.rows(), level.cols(), level.player()), (3, 5, (1, 1)));
/// assert_eq!(level.to_gym_state(), [0, 0, 0, 0, 0, 0, 5, 4, 2, 0, 0, 0, 0, 0, 0]);
/// assert_eq!(level.to_xsb(), "#####\n#@$.#\n#####");
/// # Ok::<(), lmmr1_rewards::sokoban::LevelError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Level {
    rows: usize,
    cols: usize,
    tiles: Vec<Tile>,
    boxes: Vec<bool>,
    player: (usize, usize),
}

impl Level {
    /// Builds a level from its parts, checking one player in bounds and as many boxes as
    /// targets. `tiles` and `boxes` are row-major, `rows * cols` long.
    pub fn new(
        rows: usize,
        cols: usize,
        tiles: Vec<Tile>,
        boxes: Vec<bool>,
        player: (usize, usize),
    ) -> Result<Level, LevelError> {
        check_shape(rows, cols, [tiles.len(), boxes.len()])?;
        if player.0 >= rows || player.1 >= cols {
            return Err(LevelError::NoPlayer);
        }
        let level = Level {
            rows,
            cols,
            tiles,
            boxes,
            player,
        };
        level.check_counts()?;
        Ok(level)
    }

    /// The same tiles with other boxes and player; the caller keeps one box per target and
    /// the player in bounds (the env and the generator move pieces by legal steps only).
    pub(crate) fn with_pieces(&self, boxes: Vec<bool>, player: (usize, usize)) -> Level {
        let level = Level {
            boxes,
            player,
            ..self.clone()
        };
        debug_assert!(level.check_counts().is_ok() && player.0 < self.rows && player.1 < self.cols);
        level
    }

    fn check_counts(&self) -> Result<(), LevelError> {
        let boxes = self.boxes.iter().filter(|&&b| b).count();
        let targets = self.tiles.iter().filter(|&&t| t == Tile::Target).count();
        if boxes != targets {
            return Err(LevelError::BoxTargetMismatch { boxes, targets });
        }
        Ok(())
    }

    /// Reads one level in XSB notation: `#` wall, space (or `-`, `_`) floor, `.` target, `$` box,
    /// `*` box on target, `@` player, `+` player on target; rows separated by `\n` (a `\r`
    /// before it is ignored). Short rows are padded with floor, as XSB files trim trailing spaces.
    pub fn from_xsb(text: &str) -> Result<Level, LevelError> {
        let lines: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        // Leading and trailing empty lines are not rows.
        let first = lines.iter().position(|l| !l.is_empty());
        let last = lines.iter().rposition(|l| !l.is_empty());
        let (Some(first), Some(last)) = (first, last) else {
            return Err(LevelError::Empty);
        };
        let lines = &lines[first..=last];
        let rows = lines.len();
        let cols = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        if rows > MAX_SIDE || cols > MAX_SIDE {
            return Err(LevelError::TooLarge { rows, cols });
        }
        let mut tiles = vec![Tile::Floor; rows * cols];
        let mut boxes = vec![false; rows * cols];
        let mut player = None;
        for (r, line) in lines.iter().enumerate() {
            for (c, ch) in line.chars().enumerate() {
                let i = r * cols + c;
                let (tile, has_box, has_player) = match ch {
                    '#' => (Tile::Wall, false, false),
                    ' ' | '-' | '_' => (Tile::Floor, false, false),
                    '.' => (Tile::Target, false, false),
                    '$' => (Tile::Floor, true, false),
                    '*' => (Tile::Target, true, false),
                    '@' => (Tile::Floor, false, true),
                    '+' => (Tile::Target, false, true),
                    _ => {
                        return Err(LevelError::UnknownChar {
                            line: first + r + 1,
                            column: c + 1,
                            ch,
                        })
                    }
                };
                tiles[i] = tile;
                boxes[i] = has_box;
                if has_player {
                    if player.is_some() {
                        return Err(LevelError::MultiplePlayers {
                            line: first + r + 1,
                            column: c + 1,
                        });
                    }
                    player = Some((r, c));
                }
            }
        }
        let player = player.ok_or(LevelError::NoPlayer)?;
        Level::new(rows, cols, tiles, boxes, player)
    }

    /// Writes the level as XSB rows joined by `\n`, without a final newline.
    ///
    /// Trailing spaces are trimmed, as XSB files do, unless that would lose cells: when a row
    /// would become empty or no row would keep the full width (floor-only edges, which only
    /// open boards have), every row is written at full width. Either way [`Level::from_xsb`]
    /// reads the text back to an equal level.
    pub fn to_xsb(&self) -> String {
        let rows: Vec<String> = (0..self.rows)
            .map(|r| (0..self.cols).map(|c| self.xsb_char(r, c)).collect())
            .collect();
        let trimmed: Vec<&str> = rows.iter().map(|r| r.trim_end_matches(' ')).collect();
        let lossless =
            trimmed.iter().all(|r| !r.is_empty()) && trimmed.iter().any(|r| r.len() == self.cols);
        if lossless {
            trimmed.join("\n")
        } else {
            rows.join("\n")
        }
    }

    fn xsb_char(&self, r: usize, c: usize) -> char {
        let i = r * self.cols + c;
        let target = self.tiles[i] == Tile::Target;
        match (self.tiles[i], self.boxes[i], self.player == (r, c)) {
            (Tile::Wall, _, _) => '#',
            (_, true, _) => {
                if target {
                    '*'
                } else {
                    '$'
                }
            }
            (_, _, true) => {
                if target {
                    '+'
                } else {
                    '@'
                }
            }
            _ => {
                if target {
                    '.'
                } else {
                    ' '
                }
            }
        }
    }

    /// Reads gym-sokoban's `room_state` alone (row-major, `rows * cols` cells): 0 wall, 1 floor,
    /// 2 target, 3 box on target, 4 box, 5 player.
    ///
    /// The player's cell is taken as floor: `room_state` cannot say whether a target lies under
    /// the player (LMM-R1's `.npy` levels have the same limitation). Use [`Level::from_gym`] with
    /// `room_fixed` to keep it.
    pub fn from_gym_state(rows: usize, cols: usize, state: &[u8]) -> Result<Level, LevelError> {
        let fixed: Vec<u8> = state
            .iter()
            .map(|&s| match s {
                3 => 2,
                4 | 5 => 1,
                other => other,
            })
            .collect();
        Level::from_gym(rows, cols, &fixed, state)
    }

    /// Reads gym-sokoban's two layers: `room_fixed` (0 wall, 1 floor, 2 target) and
    /// `room_state` (codes as in [`Level::from_gym_state`]), both row-major.
    pub fn from_gym(
        rows: usize,
        cols: usize,
        fixed: &[u8],
        state: &[u8],
    ) -> Result<Level, LevelError> {
        check_shape(rows, cols, [fixed.len(), state.len()])?;
        let mut tiles = Vec::with_capacity(rows * cols);
        let mut boxes = Vec::with_capacity(rows * cols);
        let mut player = None;
        for (i, (&f, &s)) in fixed.iter().zip(state).enumerate() {
            let (row, column) = (i / cols, i % cols);
            let tile = match f {
                0 => Tile::Wall,
                1 => Tile::Floor,
                2 => Tile::Target,
                code => return Err(LevelError::BadGymCode { row, column, code }),
            };
            let bad = |code| LevelError::BadGymCode { row, column, code };
            match s {
                0 if tile == Tile::Wall => {}
                0 => return Err(bad(s)),
                1..=5 if tile == Tile::Wall => return Err(bad(s)),
                1..=4 => {}
                5 if player.is_some() => {
                    return Err(LevelError::MultiplePlayers {
                        line: row + 1,
                        column: column + 1,
                    })
                }
                5 => player = Some((row, column)),
                _ => return Err(bad(s)),
            }
            tiles.push(tile);
            boxes.push(matches!(s, 3 | 4));
        }
        let player = player.ok_or(LevelError::NoPlayer)?;
        Level::new(rows, cols, tiles, boxes, player)
    }

    /// gym-sokoban's `room_state`, row-major: 0 wall, 1 floor, 2 target, 3 box on target,
    /// 4 box, 5 player (on floor or target).
    pub fn to_gym_state(&self) -> Vec<u8> {
        (0..self.rows * self.cols)
            .map(|i| {
                let target = self.tiles[i] == Tile::Target;
                if self.tiles[i] == Tile::Wall {
                    0
                } else if self.boxes[i] {
                    if target {
                        3
                    } else {
                        4
                    }
                } else if self.player == (i / self.cols, i % self.cols) {
                    5
                } else if target {
                    2
                } else {
                    1
                }
            })
            .collect()
    }

    /// gym-sokoban's `room_fixed`, row-major: 0 wall, 1 floor, 2 target.
    pub fn to_gym_fixed(&self) -> Vec<u8> {
        self.tiles
            .iter()
            .map(|t| match t {
                Tile::Wall => 0,
                Tile::Floor => 1,
                Tile::Target => 2,
            })
            .collect()
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The player's `(row, column)`.
    pub fn player(&self) -> (usize, usize) {
        self.player
    }

    /// The tile at `(row, column)`; cells outside the board are walls.
    pub fn tile(&self, row: usize, column: usize) -> Tile {
        if row < self.rows && column < self.cols {
            self.tiles[row * self.cols + column]
        } else {
            Tile::Wall
        }
    }

    /// Whether a box stands at `(row, column)`.
    pub fn has_box(&self, row: usize, column: usize) -> bool {
        row < self.rows && column < self.cols && self.boxes[row * self.cols + column]
    }

    /// Number of boxes (equal to the number of targets).
    pub fn num_boxes(&self) -> usize {
        self.boxes.iter().filter(|&&b| b).count()
    }

    /// Whether every box stands on a target.
    pub fn is_solved(&self) -> bool {
        self.tiles
            .iter()
            .zip(&self.boxes)
            .all(|(&t, &b)| !b || t == Tile::Target)
    }

    /// The tiles, row-major.
    pub fn tiles(&self) -> &[Tile] {
        &self.tiles
    }

    /// Box occupancy, row-major.
    pub fn boxes(&self) -> &[bool] {
        &self.boxes
    }
}

/// Checks `rows × cols` against the size bounds and the lengths of the row-major layers.
fn check_shape(rows: usize, cols: usize, lens: [usize; 2]) -> Result<(), LevelError> {
    if rows == 0 || cols == 0 {
        return Err(LevelError::Empty);
    }
    if rows > MAX_SIDE || cols > MAX_SIDE {
        return Err(LevelError::TooLarge { rows, cols });
    }
    match lens.into_iter().find(|&len| len != rows * cols) {
        Some(len) => Err(LevelError::ShapeMismatch { rows, cols, len }),
        None => Ok(()),
    }
}

impl fmt::Display for Level {
    /// The XSB text of [`Level::to_xsb`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_xsb())
    }
}

impl std::str::FromStr for Level {
    type Err = LevelError;

    fn from_str(s: &str) -> Result<Level, LevelError> {
        Level::from_xsb(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MICROBAN_1: &str = "####\n# .#\n#  ###\n#*@  #\n#  $ #\n#  ###\n####";

    #[test]
    fn xsb_round_trips_and_pads_short_rows() {
        let level = Level::from_xsb(MICROBAN_1).unwrap();
        assert_eq!((level.rows(), level.cols()), (7, 6));
        assert_eq!(level.player(), (3, 2));
        assert_eq!(
            level.tile(0, 5),
            Tile::Floor,
            "short rows are padded with floor"
        );
        assert_eq!(level.num_boxes(), 2);
        assert!(!level.is_solved());
        assert_eq!(level.to_xsb(), MICROBAN_1);
        assert_eq!(Level::from_xsb(&level.to_xsb()).unwrap(), level);
    }

    #[test]
    fn xsb_accepts_crlf_blank_edges_and_floor_aliases() {
        let a = Level::from_xsb("\n\n#####\r\n#@$.#\r\n#####\n\n").unwrap();
        let b = Level::from_xsb("#####\n#@$.#\n#####").unwrap();
        let c = Level::from_xsb("#####\n#@$.#\n#####\n--_--").unwrap();
        assert_eq!(a, b);
        assert_eq!(c.rows(), 4);
        assert_eq!(c.tile(3, 2), Tile::Floor);
    }

    #[test]
    fn xsb_keeps_floor_only_edges() {
        // Trimming would drop the empty first row and the floor-only last column.
        let level = Level::from_xsb("   \n@$. \n  ").unwrap();
        assert_eq!((level.rows(), level.cols()), (3, 4));
        assert_eq!(level.to_xsb(), "    \n@$. \n    ");
        assert_eq!(Level::from_xsb(&level.to_xsb()).unwrap(), level);
    }

    #[test]
    fn xsb_player_on_target_and_box_on_target() {
        let level = Level::from_xsb("######\n#+*$ #\n######").unwrap();
        assert_eq!(level.tile(1, 1), Tile::Target);
        assert!(level.has_box(1, 2) && level.tile(1, 2) == Tile::Target);
        assert_eq!(level.to_xsb(), "######\n#+*$ #\n######");
    }

    #[test]
    fn xsb_errors_name_the_place() {
        assert_eq!(Level::from_xsb(""), Err(LevelError::Empty));
        assert_eq!(Level::from_xsb("\n \n"), Err(LevelError::NoPlayer));
        assert_eq!(
            Level::from_xsb("####\n#@x#\n####"),
            Err(LevelError::UnknownChar {
                line: 2,
                column: 3,
                ch: 'x'
            })
        );
        assert_eq!(
            Level::from_xsb("\n####\n#@@#"),
            Err(LevelError::MultiplePlayers { line: 3, column: 3 })
        );
        assert_eq!(Level::from_xsb("#$#"), Err(LevelError::NoPlayer));
        assert_eq!(
            Level::from_xsb("#@$$.#"),
            Err(LevelError::BoxTargetMismatch {
                boxes: 2,
                targets: 1
            })
        );
        let wide = format!("@{}", " ".repeat(MAX_SIDE));
        assert!(matches!(
            Level::from_xsb(&wide),
            Err(LevelError::TooLarge { rows: 1, .. })
        ));
        let err = Level::from_xsb("#\n# é").unwrap_err().to_string();
        assert!(err.contains("line 2, column 3"), "{err}");
    }

    #[test]
    fn gym_encoding_round_trips() {
        let level = Level::from_xsb("######\n#+*$ #\n######").unwrap();
        let state = level.to_gym_state();
        let fixed = level.to_gym_fixed();
        assert_eq!(&state[6..12], &[0, 5, 3, 4, 1, 0]);
        assert_eq!(&fixed[6..12], &[0, 2, 2, 1, 1, 0]);
        assert_eq!(Level::from_gym(3, 6, &fixed, &state).unwrap(), level);
        // The state layer alone loses the target under the player.
        let lossy = Level::from_gym_state(3, 6, &state);
        assert_eq!(
            lossy,
            Err(LevelError::BoxTargetMismatch {
                boxes: 2,
                targets: 1
            })
        );
    }

    #[test]
    fn gym_errors() {
        assert_eq!(
            Level::from_gym_state(2, 2, &[0, 5, 0]),
            Err(LevelError::ShapeMismatch {
                rows: 2,
                cols: 2,
                len: 3
            })
        );
        assert_eq!(
            Level::from_gym_state(1, 3, &[5, 7, 0]),
            Err(LevelError::BadGymCode {
                row: 0,
                column: 1,
                code: 7
            })
        );
        assert_eq!(
            Level::from_gym(1, 2, &[0, 1], &[5, 1]),
            Err(LevelError::BadGymCode {
                row: 0,
                column: 0,
                code: 5
            })
        );
        assert_eq!(
            Level::from_gym_state(1, 2, &[5, 5]),
            Err(LevelError::MultiplePlayers { line: 1, column: 2 })
        );
        assert_eq!(Level::from_gym_state(0, 0, &[]), Err(LevelError::Empty));
    }
}
