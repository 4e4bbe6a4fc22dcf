//! FRE-Multi: the arithmetic generator's problems drawn into the picture. The picture shows the
//! expression (`37+25=?`) or equation (`3x+2=11`) in the 5×7 grid font, one character per
//! 14-px cell at a random cell position; the text only says what to do ("Compute the
//! expression in the image."). Answers, demonstrations and slips are the text generator's, so
//! reasoning learnt on text transfers.
//!
//! | level | generator level | image |
//! |---|---|---|
//! | 1 | 1 | `7+5=?` |
//! | 2 | 2 | `47+38=?` |
//! | 3 | 3 | `8*7=?`, `8+5-6=?` |
//! | 4 | 4 | `3x+2=11` |
//! | 5 | 6 | `1/2+1/3=?`, `3x+2=9` |
//!
//! The default picture is 12 × 4 cells = 168×56 px (12 LM tokens at scale 1).

use crate::draw::{Canvas, BLACK};
use crate::generator::{self, Problem};
use crate::rng::SplitMix64;
use crate::sample::{Content, Picture, Sample, Turn};
use crate::task::Generated;
use crate::teacher::slip_answer;

/// The highest level.
pub const MAX_LEVEL: u8 = 5;

/// Picture width in cells at the default size.
pub const COLS: u32 = 12;

/// Picture height in cells at the default size.
pub const ROWS: u32 = 4;

/// The text of an expression problem.
pub const COMPUTE: &str = "Compute the expression in the image.";

/// The text of an equation problem.
pub const SOLVE: &str = "Solve the equation in the image.";

/// What is drawn for a generator problem: `(text in the picture, instruction)`; `None` for word
/// problems (level 5 of the text generator), which are not drawn.
pub fn drawn_text(p: &Problem) -> Option<(String, &'static str)> {
    if let Some(e) = p
        .question
        .strip_prefix("What is ")
        .and_then(|q| q.strip_suffix('?'))
    {
        return Some((format!("{e}=?"), COMPUTE));
    }
    let eq = p
        .question
        .strip_prefix("Solve ")
        .and_then(|q| q.strip_suffix('.'))?;
    Some((eq.to_string(), SOLVE))
}

/// One item of `level` (clamped to 1..=[`MAX_LEVEL`]) at scale 1.
///
/// ```
/// use lmmr1_tasks::{visual_math, rng::SplitMix64};
/// let g = visual_math::generate(2, &mut SplitMix64::new(1));
/// assert_eq!(g.sample.question_text(), visual_math::COMPUTE);
/// ```
pub fn generate(level: u8, rng: &mut SplitMix64) -> Generated {
    generate_scaled(level, 1, rng).1
}

/// One item drawn at `scale` (`168·scale × 56·scale` px), with the generator problem.
pub fn generate_scaled(level: u8, scale: u32, rng: &mut SplitMix64) -> (Problem, Generated) {
    let level = level.clamp(1, MAX_LEVEL);
    let id = format!("visual_math-l{level}-{:016x}", rng.state());
    let text_level = if level == MAX_LEVEL { 6 } else { level };
    let (p, (drawn, instruction)) = loop {
        let p = generator::generate(text_level, rng);
        if let Some(d) = drawn_text(&p) {
            break (p, d);
        }
    };
    let mut canvas = Canvas::new(COLS, ROWS, scale);
    let len = drawn.chars().count() as i64;
    let col = rng.range(0, (i64::from(COLS) - len).max(0));
    let row = rng.range(0, i64::from(ROWS) - 1);
    canvas.text(col, row, &drawn, BLACK);
    let picture = Picture::from_rgb_image(canvas.into_image());
    let demonstration = generator::demonstration(&p);
    let slipped = slip_answer(&demonstration, &p.answer);
    let sample = Sample {
        id,
        messages: vec![Turn {
            role: "user".into(),
            content: vec![
                Content::Pixels(picture),
                Content::Text(instruction.to_string()),
            ],
        }],
        answer: p.answer.clone(),
        datasource: Some(format!("visual_math/level{level}")),
        choices: Vec::new(),
    };
    (
        p,
        Generated {
            sample,
            demonstration,
            slipped,
        },
    )
}
