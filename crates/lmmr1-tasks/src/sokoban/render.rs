//! Boards drawn as gym-sokoban draws them (`render_utils.room_to_rgb`): seven 16-px surfaces
//! scaled to `tile_px`.

use super::*;

/// What one cell shows: gym-sokoban's seven surfaces (`render_utils.room_to_rgb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sprite {
    /// A wall: red-brown bricks with grey mortar.
    Wall,
    /// Empty floor: black.
    Floor,
    /// An empty target: a thin red square with a red dot in the centre.
    Target,
    /// A box off target: yellow with an orange frame and cross.
    Box,
    /// A box on a target: the box, smaller, on red.
    BoxOnTarget,
    /// The player: a green figure on black.
    Player,
    /// The player on a target: the figure over the target's red square (gym draws a separate
    /// sprite for this, surface id 6; its dot is hidden under the figure).
    PlayerOnTarget,
}

impl Sprite {
    /// All seven, in gym's surface order (wall, floor, target, box on target, box, player,
    /// player on target).
    pub const ALL: [Sprite; 7] = [
        Sprite::Wall,
        Sprite::Floor,
        Sprite::Target,
        Sprite::BoxOnTarget,
        Sprite::Box,
        Sprite::Player,
        Sprite::PlayerOnTarget,
    ];

    /// The sprite of cell `(row, column)` of `level`.
    pub fn at(level: &Level, row: usize, column: usize) -> Sprite {
        let target = level.tile(row, column) == Tile::Target;
        match level.tile(row, column) {
            Tile::Wall => Sprite::Wall,
            _ if level.has_box(row, column) => {
                if target {
                    Sprite::BoxOnTarget
                } else {
                    Sprite::Box
                }
            }
            _ if level.player() == (row, column) => {
                if target {
                    Sprite::PlayerOnTarget
                } else {
                    Sprite::Player
                }
            }
            _ if target => Sprite::Target,
            _ => Sprite::Floor,
        }
    }

    /// The 16×16 RGB sprite, row-major.
    pub fn pixels(self) -> [[u8; 3]; 256] {
        let mut px = [FLOOR; 256];
        let mut fill = |pred: &dyn Fn(i32, i32) -> bool, colour: [u8; 3]| {
            for (i, p) in px.iter_mut().enumerate() {
                if pred((i / 16) as i32, (i % 16) as i32) {
                    *p = colour;
                }
            }
        };
        match self {
            Sprite::Wall => {
                fill(&|_, _| true, BRICK);
                // Courses of 4-px bricks under 2-px mortar rows, joints every 8 px, staggered.
                fill(
                    &|y, x| y % 6 >= 4 || x % 8 == if (y / 6) % 2 == 0 { 5 } else { 1 },
                    MORTAR,
                );
            }
            Sprite::Floor => {}
            Sprite::Target => {
                fill(&|y, x| ring(y, x, 1), TARGET_LINE);
                fill(&|y, x| (y - 7).abs() + (x - 7).abs() <= 2, TARGET_RED);
            }
            Sprite::Box | Sprite::BoxOnTarget => {
                let k = if self == Sprite::Box { 0 } else { 2 };
                if k > 0 {
                    fill(&|_, _| true, TARGET_RED);
                }
                fill(&|y, x| inside(y, x, k), BOX_YELLOW);
                if k == 0 {
                    fill(&|y, x| ring(y, x, 0), BOX_ORANGE);
                }
                fill(
                    &|y, x| inside(y, x, k + 1) && ((x - y).abs() <= 1 || (x + y - 15).abs() <= 1),
                    BOX_ORANGE,
                );
                fill(
                    &|y, x| (7..=8).contains(&y) && (6..=9).contains(&x),
                    BOX_DARK,
                );
            }
            Sprite::Player | Sprite::PlayerOnTarget => {
                if self == Sprite::PlayerOnTarget {
                    fill(&|y, x| ring(y, x, 1), TARGET_RED);
                }
                fill(&player_shape, PLAYER_GREEN);
            }
        }
        px
    }
}

/// gym-sokoban's colours (read from its `surface/*.png` sprites).
const FLOOR: [u8; 3] = [0, 0, 0];
const BRICK: [u8; 3] = [176, 61, 0];
const MORTAR: [u8; 3] = [176, 154, 142];
const TARGET_LINE: [u8; 3] = [239, 22, 22];
const TARGET_RED: [u8; 3] = [238, 0, 0];
const BOX_YELLOW: [u8; 3] = [215, 196, 0];
const BOX_ORANGE: [u8; 3] = [215, 114, 0];
const BOX_DARK: [u8; 3] = [215, 103, 0];
const PLAYER_GREEN: [u8; 3] = [41, 202, 26];

/// Whether `(y, x)` lies inside the square inset by `k` from a 16-px sprite's edges.
fn inside(y: i32, x: i32, k: i32) -> bool {
    (k..=15 - k).contains(&y) && (k..=15 - k).contains(&x)
}

/// Whether `(y, x)` lies on the 1-px outline of the square inset by `k`.
fn ring(y: i32, x: i32, k: i32) -> bool {
    inside(y, x, k) && (y == k || y == 15 - k || x == k || x == 15 - k)
}

/// The player figure: ears, a head with two eyes, a wide body, two legs.
fn player_shape(y: i32, x: i32) -> bool {
    let ears = y <= 1 && ((3..=4).contains(&x) || (11..=12).contains(&x));
    let eyes = (4..=5).contains(&y) && ((5..=6).contains(&x) || (9..=10).contains(&x));
    let head = (2..=5).contains(&y) && (4..=11).contains(&x) && !eyes;
    let body = (y == 6 && (1..=14).contains(&x))
        || (7..=11).contains(&y)
        || (y == 12 && (2..=13).contains(&x));
    let legs = y >= 13 && (x == 4 || x == 11);
    ears || head || body || legs
}

/// Draws the current state of `level` as gym-sokoban does (`render(mode='rgb_array')`, one
/// 16-px sprite per cell), scaled to `tile_px` pixels per cell by nearest neighbour: a
/// `cols·tile_px × rows·tile_px` picture. `tile_px` 0 is taken as 1.
///
/// ```
/// use lmmr1_rewards::sokoban::Level;
/// let level = Level::from_xsb("#####\n#@$.#\n#####").unwrap();
/// let pic = lmmr1_tasks::sokoban::render(&level, 28);
/// assert_eq!((pic.width, pic.height), (140, 84));
/// ```
pub fn render(level: &Level, tile_px: u32) -> Picture {
    let t = tile_px.max(1) as usize;
    let (rows, cols) = (level.rows(), level.cols());
    let (width, height) = (cols * t, rows * t);
    let src: Vec<usize> = (0..t).map(|d| d * 16 / t).collect();
    let sprites: Vec<[[u8; 3]; 256]> = Sprite::ALL.iter().map(|s| s.pixels()).collect();
    let mut rgb = vec![0u8; width * height * 3];
    for r in 0..rows {
        for c in 0..cols {
            let kind = Sprite::at(level, r, c);
            let sprite = &sprites[Sprite::ALL.iter().position(|&s| s == kind).unwrap_or(1)];
            for (dy, &sy) in src.iter().enumerate() {
                let row_start = ((r * t + dy) * width + c * t) * 3;
                for (dx, &sx) in src.iter().enumerate() {
                    let p = sprite[sy * 16 + sx];
                    rgb[row_start + dx * 3..row_start + dx * 3 + 3].copy_from_slice(&p);
                }
            }
        }
    }
    Picture {
        width: width as u32,
        height: height as u32,
        rgb: std::sync::Arc::new(rgb),
    }
}
