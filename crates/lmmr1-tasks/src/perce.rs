//! PerceReason: perception then reasoning. The picture holds the numbers (shapes to count, a
//! bar chart, a small table, two segments on a grid); the question asks for a small computation
//! on them. Everything is on the 14-px grid (224×224 px, 64 LM tokens at scale 1), colours are
//! saturated, text uses the 5×7 grid font. Answers are non-negative integers; about a quarter
//! of the items are multiple choice (the options after the question, the gold the letter).
//!
//! | kind | level 1 | level 2 | level 3 |
//! |---|---|---|---|
//! | shapes (28-px blocks) | count one colour+shape | sum or difference of two | `a+b-c` |
//! | bar chart A–D | sum of two, values ≤ 5, labelled | sum/difference, ≤ 10, labelled | `A+B-C`, heights read on the grid |
//! | table (name, number) | sum of two one-digit | sum/difference of two-digit | total of 3–4 rows |
//! | two segments | difference, lengths labelled | difference, lengths on the grid | sum, lengths on the grid |

use image::Rgb;

use crate::draw::{Canvas, BLACK, BLUE, CELL, GREEN, GRID, RED};
use crate::rng::SplitMix64;
use crate::sample::Picture;
use crate::task::Generated;

/// The highest level.
pub const MAX_LEVEL: u8 = 3;

/// The picture's side in cells at scale 1 (16 × 14 = 224 px).
pub const GRID_CELLS: u32 = 16;

/// The side of a shape block in logical pixels (one LM token).
pub const BLOCK: u32 = 28;

/// The kind of picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PerceKind {
    /// Coloured circles and squares, one per 28-px block.
    Shapes,
    /// A bar chart with bars A–D, one unit = 14 px.
    Bars,
    /// A table of names and numbers.
    Table,
    /// Two horizontal segments (red above blue) measured in 14-px units.
    Lengths,
}

/// The shape colours, by name.
pub const COLOURS: [(&str, Rgb<u8>); 3] = [("red", RED), ("blue", BLUE), ("green", GREEN)];

/// Names used in tables.
pub const NAMES: [&str; 6] = ["Ann", "Tom", "Mia", "Ben", "Eva", "Sam"];

/// What a picture shows, enough to redraw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scene {
    /// `(block column, block row, colour index, is_square)` per shape.
    Shapes(Vec<(u32, u32, usize, bool)>),
    /// Bar heights A, B, C, D and whether the values are written above the bars.
    Bars(Vec<i64>, bool),
    /// `(name, number)` rows.
    Table(Vec<(String, i64)>),
    /// Red and blue lengths in units and whether they are labelled.
    Lengths(i64, i64, bool),
}

/// One generated item's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Perce {
    /// The kind of picture.
    pub kind: PerceKind,
    /// What is drawn.
    pub scene: Scene,
    /// The question (without choices).
    pub question: String,
    /// The integer answer.
    pub answer: i64,
    /// Short worked steps.
    pub solution: String,
    /// The level.
    pub level: u8,
}

/// One item of `level` (clamped to 1..=3) at scale 1.
///
/// ```
/// use lmmr1_tasks::{perce, rng::SplitMix64};
/// let g = perce::generate(1, &mut SplitMix64::new(5));
/// assert_eq!(g.sample.datasource.as_deref(), Some("perce/level1"));
/// ```
pub fn generate(level: u8, rng: &mut SplitMix64) -> Generated {
    generate_scene(level, 1, rng).1
}

/// One item drawn at `scale` (224·scale px square), with its [`Perce`] content.
pub fn generate_scene(level: u8, scale: u32, rng: &mut SplitMix64) -> (Perce, Generated) {
    let id = format!("perce-l{level}-{:016x}", rng.state());
    let p = perce(level, rng);
    let answer = p.answer.to_string();
    let picture = Picture::from_rgb_image(render(&p.scene, scale));
    let generated = Generated::picture_question(
        id,
        picture,
        (&p.question, &p.solution, &answer),
        rng,
        format!("perce/level{}", p.level),
    );
    (p, generated)
}

fn plural(shape_is_square: bool) -> &'static str {
    if shape_is_square {
        "squares"
    } else {
        "circles"
    }
}

/// The content of one item of `level` (clamped to 1..=3).
pub fn perce(level: u8, rng: &mut SplitMix64) -> Perce {
    let level = level.clamp(1, MAX_LEVEL);
    let kind = [
        PerceKind::Shapes,
        PerceKind::Bars,
        PerceKind::Table,
        PerceKind::Lengths,
    ][rng.below(4) as usize];
    let (scene, question, answer, solution) = match kind {
        PerceKind::Shapes => shapes(level, rng),
        PerceKind::Bars => bars(level, rng),
        PerceKind::Table => table(level, rng),
        PerceKind::Lengths => lengths(level, rng),
    };
    Perce {
        kind,
        scene,
        question,
        answer,
        solution,
        level,
    }
}

type Parts = (Scene, String, i64, String);

fn shapes(level: u8, rng: &mut SplitMix64) -> Parts {
    let per_side = GRID_CELLS * CELL / BLOCK;
    let mut blocks: Vec<(u32, u32)> = (0..per_side * per_side)
        .map(|i| (i % per_side, i / per_side))
        .collect();
    rng.shuffle(&mut blocks);
    let n = if level == 1 {
        rng.range(3, 8)
    } else {
        rng.range(6, 14)
    } as usize;
    let items: Vec<(u32, u32, usize, bool)> = blocks[..n]
        .iter()
        .map(|&(x, y)| (x, y, rng.below(3) as usize, rng.coin()))
        .collect();
    let count = |c: usize, sq: bool| items.iter().filter(|s| s.2 == c && s.3 == sq).count() as i64;
    // Distinct categories (colour, square).
    let mut cats: Vec<(usize, bool)> = (0..3).flat_map(|c| [(c, false), (c, true)]).collect();
    rng.shuffle(&mut cats);
    let name = |(c, sq): (usize, bool)| format!("{} {}", COLOURS[c].0, plural(sq));
    let (q, a, s) = match level {
        1 => {
            let k = count(cats[0].0, cats[0].1);
            (format!("How many {}?", name(cats[0])), k, k.to_string())
        }
        2 => {
            let (mut x, mut y) = (cats[0], cats[1]);
            if rng.coin() {
                let (a, b) = (count(x.0, x.1), count(y.0, y.1));
                (
                    format!("How many {} and {} in all?", name(x), name(y)),
                    a + b,
                    format!("{a}+{b}={}", a + b),
                )
            } else {
                if count(x.0, x.1) < count(y.0, y.1) {
                    std::mem::swap(&mut x, &mut y);
                }
                let (a, b) = (count(x.0, x.1), count(y.0, y.1));
                (
                    format!("{} minus {}?", capital(&name(x)), name(y)),
                    a - b,
                    format!("{a}-{b}={}", a - b),
                )
            }
        }
        _ => {
            // The subtracted category is the rarest of the three, so the result is >= 0.
            let mut trio = [cats[0], cats[1], cats[2]];
            trio.sort_by_key(|k| std::cmp::Reverse(count(k.0, k.1)));
            let (x, y, z) = (trio[0], trio[1], trio[2]);
            let (a, b, c) = (count(x.0, x.1), count(y.0, y.1), count(z.0, z.1));
            (
                format!("{} plus {} minus {}?", capital(&name(x)), name(y), name(z)),
                a + b - c,
                format!("{a}+{b}={},{}-{c}={}", a + b, a + b, a + b - c),
            )
        }
    };
    (Scene::Shapes(items), q, a, s)
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

const BAR_NAMES: [char; 4] = ['A', 'B', 'C', 'D'];

fn two_distinct(rng: &mut SplitMix64, n: u64) -> (usize, usize) {
    let i = rng.below(n) as usize;
    let j = (i + 1 + rng.below(n - 1) as usize) % n as usize;
    (i, j)
}

fn bars(level: u8, rng: &mut SplitMix64) -> Parts {
    let hi = if level == 1 { 5 } else { 10 };
    let values: Vec<i64> = (0..4).map(|_| rng.range(1, hi)).collect();
    let (mut i, mut j) = two_distinct(rng, 4);
    let (q, a, s) = match level {
        1 => {
            let (x, y) = (values[i], values[j]);
            (
                format!("What is {}+{}?", BAR_NAMES[i], BAR_NAMES[j]),
                x + y,
                format!("{x}+{y}={}", x + y),
            )
        }
        2 if rng.coin() => {
            let (x, y) = (values[i], values[j]);
            (
                format!("What is {}+{}?", BAR_NAMES[i], BAR_NAMES[j]),
                x + y,
                format!("{x}+{y}={}", x + y),
            )
        }
        2 => {
            if values[i] < values[j] {
                std::mem::swap(&mut i, &mut j);
            }
            let (x, y) = (values[i], values[j]);
            (
                format!("What is {}-{}?", BAR_NAMES[i], BAR_NAMES[j]),
                x - y,
                format!("{x}-{y}={}", x - y),
            )
        }
        _ => {
            let third = (0..4).find(|&k| k != i && k != j).unwrap_or(0);
            // The subtracted bar is the smallest of the three, so the result is >= 0.
            let mut trio = [i, j, third];
            trio.sort_by_key(|&t| std::cmp::Reverse(values[t]));
            let k;
            (i, j, k) = (trio[0], trio[1], trio[2]);
            if rng.coin() {
                std::mem::swap(&mut i, &mut j);
            }
            let (x, y, z) = (values[i], values[j], values[k]);
            (
                format!(
                    "What is {}+{}-{}?",
                    BAR_NAMES[i], BAR_NAMES[j], BAR_NAMES[k]
                ),
                x + y - z,
                format!("{x}+{y}={},{}-{z}={}", x + y, x + y, x + y - z),
            )
        }
    };
    (Scene::Bars(values, level < 3), q, a, s)
}

fn table(level: u8, rng: &mut SplitMix64) -> Parts {
    let mut names = NAMES;
    rng.shuffle(&mut names);
    let n_rows = if level == 3 { rng.range(3, 4) } else { 3 } as usize;
    let (lo, hi) = match level {
        1 => (1, 9),
        2 => (10, 50),
        _ => (1, 30),
    };
    let rows: Vec<(String, i64)> = names[..n_rows]
        .iter()
        .map(|n| (n.to_string(), rng.range(lo, hi)))
        .collect();
    let (mut i, mut j) = two_distinct(rng, n_rows as u64);
    let (q, a, s) = if level == 3 {
        let total: i64 = rows.iter().map(|r| r.1).sum();
        let terms: Vec<String> = rows.iter().map(|r| r.1.to_string()).collect();
        (
            "What is the total?".to_string(),
            total,
            format!("{}={total}", terms.join("+")),
        )
    } else if level == 1 || rng.coin() {
        let (x, y) = (rows[i].1, rows[j].1);
        (
            format!("What is {}+{}?", rows[i].0, rows[j].0),
            x + y,
            format!("{x}+{y}={}", x + y),
        )
    } else {
        if rows[i].1 < rows[j].1 {
            std::mem::swap(&mut i, &mut j);
        }
        let (x, y) = (rows[i].1, rows[j].1);
        (
            format!("What is {}-{}?", rows[i].0, rows[j].0),
            x - y,
            format!("{x}-{y}={}", x - y),
        )
    };
    (Scene::Table(rows), q, a, s)
}

fn lengths(level: u8, rng: &mut SplitMix64) -> Parts {
    let hi = if level == 1 { 9 } else { 12 };
    let (red, blue) = (rng.range(1, hi), rng.range(1, hi));
    let labelled = level == 1;
    let (q, a, s) = if level == 3 {
        (
            "Total length of the red and blue lines?".to_string(),
            red + blue,
            format!("{red}+{blue}={}", red + blue),
        )
    } else {
        let (long, short, l, sh) = if red >= blue {
            ("red", "blue", red, blue)
        } else {
            ("blue", "red", blue, red)
        };
        (
            format!("How much longer is the {long} line than the {short} line?"),
            l - sh,
            format!("{l}-{sh}={}", l - sh),
        )
    };
    (Scene::Lengths(red, blue, labelled), q, a, s)
}

/// Row (in cells) of the red segment; the blue one is [`LENGTH_ROWS`]`.1`.
pub const LENGTH_ROWS: (u32, u32) = (5, 10);

/// First cell column of the segments (and of the bars' x axis: bar `i` starts at column
/// `3 + 3i`, two cells wide; the x axis is at row 14's top edge).
pub const SEGMENT_COL: u32 = 2;

/// Cell row of the first table row (rows every other cell row); names at columns 3–5, numbers
/// at columns 8–9.
pub const TABLE_ROW: u32 = 2;

/// Draws `scene` at `scale` (224·scale px square).
pub fn render(scene: &Scene, scale: u32) -> image::RgbImage {
    let mut c = Canvas::new(GRID_CELLS, GRID_CELLS, scale);
    let cell = f64::from(CELL);
    let side = f64::from(GRID_CELLS) * cell;
    match scene {
        Scene::Shapes(items) => {
            let b = f64::from(BLOCK);
            for &(x, y, colour, square) in items {
                let (x0, y0) = (f64::from(x) * b, f64::from(y) * b);
                let col = COLOURS[colour % 3].1;
                if square {
                    c.rect(x0 + 4.0, y0 + 4.0, 20.0, 20.0, col);
                } else {
                    c.disc((x0 + 14.0, y0 + 14.0), 10.0, col);
                }
            }
        }
        Scene::Bars(values, labelled) => {
            let axis_y = 14.0 * cell;
            for v in 1..=10 {
                let y = axis_y - v as f64 * cell;
                c.line((35.0, y), (side - 7.0, y), 1.0, GRID);
                if v % 2 == 0 {
                    let t = v.to_string();
                    c.text(2 - t.len() as i64, 13 - v, &t, BLACK);
                }
            }
            c.line((35.0, axis_y), (side - 7.0, axis_y), 2.0, BLACK);
            c.line((35.0, 2.0 * cell), (35.0, axis_y), 2.0, BLACK);
            for (i, &v) in values.iter().enumerate() {
                let col = 3 + 3 * i as i64;
                let h = v as f64 * cell;
                c.rect(col as f64 * cell, axis_y - h, 2.0 * cell, h, BLUE);
                c.text(col, 14, &BAR_NAMES[i % 4].to_string(), BLACK);
                if *labelled {
                    c.text(col, 13 - v, &v.to_string(), BLACK);
                }
            }
        }
        Scene::Table(rows) => {
            let top = f64::from(TABLE_ROW) * cell - 7.0;
            let bottom = top + 2.0 * cell * rows.len() as f64;
            for x in [2.0, 7.0, 11.0] {
                c.line((x * cell, top), (x * cell, bottom), 1.0, BLACK);
            }
            for k in 0..=rows.len() {
                let y = top + 2.0 * cell * k as f64;
                c.line((2.0 * cell, y), (11.0 * cell, y), 1.0, BLACK);
            }
            for (k, (name, v)) in rows.iter().enumerate() {
                let row = i64::from(TABLE_ROW) + 2 * k as i64;
                c.text(3, row, name, BLACK);
                c.text(8, row, &v.to_string(), BLACK);
            }
        }
        Scene::Lengths(red, blue, labelled) => {
            for k in 0..=GRID_CELLS {
                let x = f64::from(k) * cell;
                c.line((x, 3.0 * cell), (x, 13.0 * cell), 1.0, GRID);
            }
            let x0 = f64::from(SEGMENT_COL) * cell;
            for (len, row, col) in [(*red, LENGTH_ROWS.0, RED), (*blue, LENGTH_ROWS.1, BLUE)] {
                let y = f64::from(row) * cell + 4.0;
                c.rect(x0, y, len as f64 * cell, 6.0, col);
                if *labelled {
                    let t = len.to_string();
                    c.text(
                        i64::from(SEGMENT_COL) - t.len() as i64,
                        i64::from(row) - 1,
                        &t,
                        BLACK,
                    );
                }
            }
        }
    }
    c.into_image()
}
