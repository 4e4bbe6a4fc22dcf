//! The visual task generators (geo, visual_math, perce) and the drawing module: the font is
//! unambiguous, items are deterministic and have the promised sizes, demonstrations get the full
//! LMM-R1 reward and slips lose accuracy over thousands of seeds, and answers are re-derived
//! independently — from the figure parameters by different formulas, and from the pixels (text
//! read back cell by cell, bars, segments and shapes measured).

use std::collections::HashSet;

use image::{Rgb, RgbImage};
use lmmr1_rewards::lmm_r1::math_reward;
use lmmr1_tasks::choices::{letter, shift_leading};
use lmmr1_tasks::draw::{self, BLACK, BLUE, CELL, GLYPHS, GREEN, RED};
use lmmr1_tasks::geo_diagrams::{self as geo, GeoKind};
use lmmr1_tasks::perce::{self, Scene};
use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::{slip_answer, visual_math, Content, Generated};

const SEEDS: u64 = 3000;

fn picture(g: &Generated) -> RgbImage {
    g.sample
        .messages
        .iter()
        .flat_map(|t| &t.content)
        .find_map(|c| match c {
            Content::Pixels(p) => Some(p.to_rgb_image()),
            _ => None,
        })
        .expect("a picture")
}

/// The 14×14 black mask of each glyph, rendered on its own.
fn glyph_masks() -> Vec<(char, Vec<bool>)> {
    GLYPHS
        .iter()
        .map(|&(c, _)| {
            let mut img = RgbImage::from_pixel(CELL, CELL, draw::WHITE);
            draw::char_in_cell(&mut img, 0, 0, i64::from(CELL), c, BLACK);
            (c, img.pixels().map(|p| *p == BLACK).collect())
        })
        .collect()
}

/// Reads every cell row of a scale-1 picture: a character where the cell's black pixels are
/// exactly one glyph, `#` where they are something else.
fn read_rows(img: &RgbImage, masks: &[(char, Vec<bool>)]) -> Vec<String> {
    let (cols, rows) = (img.width() / CELL, img.height() / CELL);
    (0..rows)
        .map(|r| {
            (0..cols)
                .map(|c| {
                    let mask: Vec<bool> = (0..CELL * CELL)
                        .map(|i| *img.get_pixel(c * CELL + i % CELL, r * CELL + i / CELL) == BLACK)
                        .collect();
                    masks
                        .iter()
                        .find(|(_, m)| *m == mask)
                        .map_or('#', |(ch, _)| *ch)
                })
                .collect()
        })
        .collect()
}

/// The value of an exact answer: integer, `\frac{p}{q}`, `k\pi`, `c\sqrt{n}`.
fn value(answer: &str) -> f64 {
    if let Ok(n) = answer.parse::<f64>() {
        return n;
    }
    let coef = |s: &str| {
        if s.is_empty() {
            1.0
        } else {
            s.parse::<f64>().unwrap()
        }
    };
    if let Some(k) = answer.strip_suffix("\\pi") {
        return coef(k) * std::f64::consts::PI;
    }
    if let Some(i) = answer.find("\\sqrt{") {
        let n: f64 = answer[i + 6..answer.len() - 1].parse().unwrap();
        return coef(&answer[..i]) * n.sqrt();
    }
    let inner = answer
        .strip_prefix("\\frac{")
        .unwrap()
        .strip_suffix('}')
        .unwrap();
    let (p, q) = inner.split_once("}{").unwrap();
    p.parse::<f64>().unwrap() / q.parse::<f64>().unwrap()
}

/// Demonstration scores 1.5; the slip, where it changes the response, loses the accuracy; for
/// multiple choice the demonstration answers the gold letter and the slip the option whose
/// leading number is 10 more than the right one's.
fn check_responses(g: &Generated, value_answer: &str) -> bool {
    let gold = &g.sample.answer;
    let demo = math_reward(&g.demonstration, gold);
    assert_eq!(demo.total, 1.5, "{} for gold {gold}", g.demonstration);
    if !g.sample.choices.is_empty() {
        assert_eq!(g.sample.choices.len(), 4);
        let options: HashSet<_> = g.sample.choices.iter().collect();
        assert_eq!(options.len(), 4, "distinct options {:?}", g.sample.choices);
        let idx = |l: &str| (l.as_bytes()[0] - b'A') as usize;
        assert!(g
            .demonstration
            .ends_with(&format!("<answer>${gold}$</answer>")));
        assert_eq!(g.sample.choices[idx(gold)], value_answer);
        let slipped_letter = g
            .slipped
            .rsplit("<answer>$")
            .next()
            .unwrap()
            .trim_end_matches("$</answer>");
        assert_eq!(
            Some(g.sample.choices[idx(slipped_letter)].clone()),
            shift_leading(value_answer, 10)
        );
        for (i, _) in g.sample.choices.iter().enumerate() {
            assert!(g
                .sample
                .question_text()
                .contains(&format!("{}. ", letter(i))));
        }
    }
    if g.slipped == g.demonstration {
        return false;
    }
    let s = math_reward(&g.slipped, gold);
    assert_eq!(
        (s.format, s.accuracy),
        (0.5, 0.0),
        "{} for gold {gold}",
        g.slipped
    );
    // Same worked steps.
    assert_eq!(
        g.slipped.split("</think>").next(),
        g.demonstration.split("</think>").next()
    );
    true
}

#[test]
fn the_font_has_the_required_characters_and_no_two_glyphs_alike() {
    let required = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+-=×÷()?.,:/°√π ";
    for c in required.chars() {
        assert!(draw::glyph(c).is_some(), "missing {c:?}");
    }
    let chars: HashSet<char> = GLYPHS.iter().map(|g| g.0).collect();
    assert_eq!(chars.len(), GLYPHS.len(), "a character listed twice");
    let bitmaps: HashSet<[u8; 7]> = GLYPHS.iter().map(|g| g.1).collect();
    assert_eq!(bitmaps.len(), GLYPHS.len(), "two glyphs share a bitmap");
    assert!(
        GLYPHS.iter().all(|g| g.1.iter().all(|&r| r < 32)),
        "rows are 5 bits"
    );
    // Rendered into 14-px cells they stay distinct and inside the cell.
    let masks = glyph_masks();
    let rendered: HashSet<&Vec<bool>> = masks.iter().map(|m| &m.1).collect();
    assert_eq!(rendered.len(), masks.len());
    // A written string reads back.
    let mut c = draw::Canvas::new(8, 1, 1);
    c.text(1, 0, "x=√2π°?", BLACK);
    assert_eq!(read_rows(&c.img, &masks)[0], " x=√2π°?");
}

#[test]
fn primitives_draw_where_they_should() {
    let mut img = RgbImage::from_pixel(40, 40, draw::WHITE);
    draw::line(&mut img, (2, 3), (30, 3), 1, RED);
    assert!((2..=30).all(|x| *img.get_pixel(x, 3) == RED));
    assert_eq!(*img.get_pixel(31, 3), draw::WHITE);
    draw::disc(&mut img, 20, 20, 5, BLUE);
    let blue = img.pixels().filter(|p| **p == BLUE).count();
    assert!(
        (blue as f64 - std::f64::consts::PI * 25.0).abs() < 15.0,
        "{blue}"
    );
    draw::fill_rect(&mut img, 35, 35, 10, 10, GREEN); // clipped, no panic
    assert_eq!(img.pixels().filter(|p| **p == GREEN).count(), 25);
    let mut img = RgbImage::from_pixel(40, 40, draw::WHITE);
    draw::arc(&mut img, (20, 20), 10, (0.0, 90.0), 1, RED);
    // A quarter arc: only the upper-right quadrant.
    for (x, y, p) in img.enumerate_pixels() {
        if *p == RED {
            assert!(
                x >= 20 && y <= 20 && ((x as f64 - 20.0).hypot(y as f64 - 20.0) - 10.0).abs() < 1.0
            );
        }
    }
}

#[test]
fn items_are_deterministic_and_have_the_promised_sizes() {
    for seed in 0..20 {
        for level in 1..=3 {
            let a = geo::generate(level, &mut SplitMix64::new(seed));
            assert_eq!(a, geo::generate(level, &mut SplitMix64::new(seed)));
            assert_eq!(picture(&a).dimensions(), (224, 224));
            let a = perce::generate(level, &mut SplitMix64::new(seed));
            assert_eq!(a, perce::generate(level, &mut SplitMix64::new(seed)));
            assert_eq!(picture(&a).dimensions(), (224, 224));
            let a = visual_math::generate(level, &mut SplitMix64::new(seed));
            assert_eq!(a, visual_math::generate(level, &mut SplitMix64::new(seed)));
            assert_eq!(picture(&a).dimensions(), (168, 56));
        }
        let g = geo::generate_figure(3, 2, &mut SplitMix64::new(seed)).1;
        assert_eq!(picture(&g).dimensions(), (448, 448));
        let g = perce::generate_scene(3, 3, &mut SplitMix64::new(seed)).1;
        assert_eq!(picture(&g).dimensions(), (672, 672));
        let g = visual_math::generate_scaled(2, 2, &mut SplitMix64::new(seed)).1;
        assert_eq!(picture(&g).dimensions(), (336, 112));
    }
    let ids: HashSet<String> = (0..500)
        .map(|s| geo::generate(1, &mut SplitMix64::new(s)).sample.id)
        .collect();
    assert_eq!(ids.len(), 500);
}

#[test]
fn slip_answer_matches_the_warm_start_rule() {
    let d = "<think>60+8=68</think><answer>$68$</answer>";
    assert_eq!(
        slip_answer(d, "68"),
        "<think>60+8=68</think><answer>$78$</answer>"
    );
    let f = "<think>1/2</think><answer>$\\frac{1}{2}$</answer>";
    assert_eq!(slip_answer(f, "\\frac{1}{2}"), f);
    // Only the final answer changes, not a 68 in the steps.
    assert_eq!(
        slip_answer("<think>68=68</think><answer>$68$</answer>", "68"),
        "<think>68=68</think><answer>$78$</answer>"
    );
}

#[test]
fn geo_answers_follow_from_the_parameters_and_the_labels_are_readable() {
    let masks = glyph_masks();
    let (mut slipped, mut mc, mut unreadable) = (0, 0, 0);
    for seed in 0..SEEDS {
        let level = (seed % 3) as u8 + 1;
        let (fig, g) = geo::generate_figure(level, 1, &mut SplitMix64::new(seed));
        let x = value(&fig.answer);
        let p = |i: usize| fig.params[i] as f64;
        let expected_labels: Vec<String> = match fig.kind {
            GeoKind::TriangleAngle => {
                assert_eq!(p(0) + p(1) + x, 180.0);
                assert!(x > 0.0);
                vec![format!("{}°", p(0)), format!("{}°", p(1)), "x°".into()]
            }
            GeoKind::Supplementary => {
                assert_eq!(p(0) + x, 180.0);
                vec![format!("{}°", p(0)), "x°".into()]
            }
            GeoKind::Parallel => {
                // The angle between consecutive rays (right, along the transversal, left,
                // back along it) at a crossing, measured from direction vectors.
                let t = p(0).to_radians();
                let rays = [
                    (1.0, 0.0),
                    (t.cos(), t.sin()),
                    (-1.0, 0.0),
                    (-t.cos(), -t.sin()),
                ];
                let between = |r: usize| {
                    let (a, b): ((f64, f64), (f64, f64)) = (rays[r], rays[(r + 1) % 4]);
                    (a.0 * b.0 + a.1 * b.1).acos().to_degrees().round()
                };
                assert_eq!(x, between(fig.params[2] as usize));
                let given = between(fig.params[1] as usize);
                vec![format!("{given}°"), "x°".into()]
            }
            GeoKind::RectangleArea => {
                assert_eq!(x, p(0) * p(1));
                vec![fig.params[0].to_string(), fig.params[1].to_string()]
            }
            GeoKind::RectanglePerimeter => {
                assert_eq!(x, p(0) + p(1) + p(0) + p(1));
                vec![fig.params[0].to_string(), fig.params[1].to_string()]
            }
            GeoKind::CircleDiameter => {
                assert_eq!(x, p(0) + p(0));
                vec![fig.params[0].to_string()]
            }
            GeoKind::CircleCircumference => {
                assert!((x - std::f64::consts::TAU * p(0)).abs() < 1e-9);
                vec![fig.params[0].to_string()]
            }
            GeoKind::CircleArea => {
                assert!((x - std::f64::consts::PI * p(0).powi(2)).abs() < 1e-9);
                vec![fig.params[0].to_string()]
            }
            GeoKind::Hypotenuse => {
                assert!((x * x - (p(0).powi(2) + p(1).powi(2))).abs() < 1e-9);
                vec![
                    fig.params[0].to_string(),
                    fig.params[1].to_string(),
                    "x".into(),
                ]
            }
            GeoKind::IsoscelesBase => {
                assert_eq!(2.0 * x + p(0), 180.0);
                if level == 2 {
                    assert_eq!(x.fract(), 0.0);
                }
                vec![format!("{}°", p(0)), "x°".into()]
            }
        };
        // Labels read back from the pixels (the °-less numbers must not be part of a longer
        // number either).
        let rows = read_rows(&picture(&g), &masks);
        // (A line along a cell's edge can read as `|`, `_` or `-`: those separate words too.)
        let words: Vec<&str> = rows
            .iter()
            .flat_map(|r| r.split(|c: char| !c.is_alphanumeric() && c != '°'))
            .filter(|w| !w.is_empty())
            .collect();
        if !expected_labels.iter().all(|l| words.contains(&l.as_str())) {
            unreadable += 1;
        }
        if level == 1 {
            assert!(x == x.round() && x.abs() < 200.0);
        }
        assert_eq!(
            g.sample.datasource.as_deref(),
            Some(format!("geo/level{level}").as_str())
        );
        mc += usize::from(!g.sample.choices.is_empty());
        slipped += usize::from(check_responses(&g, &fig.answer));
    }
    let n = SEEDS as usize;
    assert!(
        unreadable * 200 <= n,
        "{unreadable} of {n} figures have a label crossed by a line"
    );
    assert!(
        (n / 5..n * 3 / 10).contains(&mc),
        "multiple choice {mc} of {n}"
    );
    assert_eq!(slipped, n, "every geo answer form has a slip");
}

/// Evaluates `a+b`, `a-b`, `a*b`, `a+b-c` (integers, `*` before `+ -`).
fn eval_int(e: &str) -> i64 {
    let mut total = 0;
    let mut sign = 1;
    let mut term = String::new();
    let flush = |t: &str| -> i64 { t.split('*').map(|f| f.parse::<i64>().unwrap()).product() };
    for ch in e.chars() {
        if ch == '+' || ch == '-' {
            total += sign * flush(&term);
            term.clear();
            sign = if ch == '+' { 1 } else { -1 };
        } else {
            term.push(ch);
        }
    }
    total + sign * flush(&term)
}

#[test]
fn visual_math_reads_back_from_the_pixels_and_keeps_the_text_answers() {
    let masks = glyph_masks();
    let mut slipped = 0;
    for seed in 0..SEEDS {
        let level = (seed % 5) as u8 + 1;
        let (p, g) = visual_math::generate_scaled(level, 1, &mut SplitMix64::new(seed));
        let rows = read_rows(&picture(&g), &masks);
        let text: Vec<&str> = rows
            .iter()
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
            .collect();
        assert_eq!(text.len(), 1, "{rows:?}");
        let drawn = text[0];
        assert_eq!(
            Some(drawn.to_string()),
            visual_math::drawn_text(&p).map(|d| d.0)
        );
        if level <= 3 {
            let e = drawn.strip_suffix("=?").unwrap();
            assert_eq!(eval_int(e).to_string(), g.sample.answer, "{drawn}");
        } else if level == 4 {
            // ax±b=c solved from the pixels.
            let (lhs, c) = drawn.split_once('=').unwrap();
            let (a, rest) = lhs.split_once('x').unwrap();
            let b = eval_int(&format!("0{rest}"));
            let num = c.parse::<i64>().unwrap() - b;
            let a = a.parse::<i64>().unwrap();
            assert_eq!(num % a, 0);
            assert_eq!((num / a).to_string(), g.sample.answer);
        }
        assert_eq!(g.sample.answer, p.answer);
        assert!(g.sample.choices.is_empty());
        if check_responses(&g, &p.answer) {
            slipped += 1;
        }
    }
    // Levels 1–4 are all integers (4/5 of the items), level 5 has some integers too.
    assert!(slipped >= (SEEDS as usize) * 4 / 5, "{slipped}");
}

/// Decodes a perce picture into its scene.
fn decode(img: &RgbImage, kind_of: &Scene, masks: &[(char, Vec<bool>)]) -> Scene {
    let colour_index = |p: &Rgb<u8>| [RED, BLUE, GREEN].iter().position(|c| c == p);
    match kind_of {
        Scene::Shapes(_) => {
            let mut items = Vec::new();
            for by in 0..8 {
                for bx in 0..8 {
                    let centre = img.get_pixel(bx * 28 + 14, by * 28 + 14);
                    if let Some(c) = colour_index(centre) {
                        let corner = img.get_pixel(bx * 28 + 5, by * 28 + 5);
                        items.push((bx, by, c, corner == centre));
                    }
                }
            }
            Scene::Shapes(items)
        }
        Scene::Bars(..) => {
            let rows = read_rows(img, masks);
            let values = (0..4)
                .map(|i| {
                    let x = (3 + 3 * i) * 14 + 14;
                    (0..196)
                        .rev()
                        .take_while(|&y| *img.get_pixel(x, y) == BLUE)
                        .count() as i64
                        / 14
                })
                .collect::<Vec<_>>();
            let labelled = rows[..14]
                .iter()
                .any(|r| r.chars().skip(3).any(|c| c.is_ascii_digit()));
            Scene::Bars(values, labelled)
        }
        Scene::Table(_) => {
            let rows = read_rows(img, masks);
            Scene::Table(
                rows.iter()
                    .filter(|r| r[3..6].chars().all(|c| c.is_ascii_alphabetic()))
                    .map(|r| (r[3..6].to_string(), r[8..10].trim().parse().unwrap()))
                    .collect(),
            )
        }
        Scene::Lengths(..) => {
            let run = |row: u32, col: Rgb<u8>| {
                img.pixels()
                    .skip((row * 14 + 7) as usize * 224)
                    .take(224)
                    .filter(|p| **p == col)
                    .count() as i64
                    / 14
            };
            let rows = read_rows(img, masks);
            let labelled = rows[4].trim() != "" && !rows[4].contains('#');
            Scene::Lengths(run(5, RED), run(10, BLUE), labelled)
        }
    }
}

/// The answer computed from the question text and the decoded scene.
fn answer_from(question: &str, scene: &Scene) -> i64 {
    let q = question.split(" A. ").next().unwrap();
    let signed_terms = |expr: &str, look: &dyn Fn(&str) -> i64| -> i64 {
        let mut total = 0;
        let mut sign = 1;
        let mut term = String::new();
        for ch in expr.chars().chain(std::iter::once('+')) {
            if ch == '+' || ch == '-' {
                total += sign * look(&term);
                term.clear();
                sign = if ch == '+' { 1 } else { -1 };
            } else {
                term.push(ch);
            }
        }
        total
    };
    match scene {
        Scene::Shapes(items) => {
            let count = |words: &str| -> i64 {
                let mut w = words.split_whitespace();
                let colour = w.next().unwrap().to_lowercase();
                let square = w.next().unwrap() == "squares";
                let c = ["red", "blue", "green"]
                    .iter()
                    .position(|n| *n == colour)
                    .unwrap();
                items.iter().filter(|s| s.2 == c && s.3 == square).count() as i64
            };
            let q = q.trim_end_matches('?').trim_end_matches(" in all");
            if let Some(one) = q.strip_prefix("How many ") {
                match one.split_once(" and ") {
                    Some((a, b)) => count(a) + count(b),
                    None => count(one),
                }
            } else {
                let (plus, minus) = q.rsplit_once(" minus ").unwrap();
                plus.split(" plus ").map(count).sum::<i64>() - count(minus)
            }
        }
        Scene::Bars(values, _) => {
            let e = q.strip_prefix("What is ").unwrap().trim_end_matches('?');
            signed_terms(e, &|t: &str| values[(t.as_bytes()[0] - b'A') as usize])
        }
        Scene::Table(rows) => {
            if q == "What is the total?" {
                return rows.iter().map(|r| r.1).sum();
            }
            let e = q.strip_prefix("What is ").unwrap().trim_end_matches('?');
            signed_terms(e, &|t: &str| rows.iter().find(|r| r.0 == t).unwrap().1)
        }
        Scene::Lengths(red, blue, _) => {
            if q.starts_with("Total") {
                red + blue
            } else if q.contains("the red line than") {
                red - blue
            } else {
                blue - red
            }
        }
    }
}

#[test]
fn perce_scenes_decode_from_the_pixels_and_answers_follow_from_them() {
    let masks = glyph_masks();
    let (mut slipped, mut kinds) = (0, HashSet::new());
    for seed in 0..SEEDS {
        let level = (seed % 3) as u8 + 1;
        let (p, g) = perce::generate_scene(level, 1, &mut SplitMix64::new(seed));
        kinds.insert(p.kind);
        let scene = decode(&picture(&g), &p.scene, &masks);
        let expected = match &p.scene {
            Scene::Shapes(items) => {
                let mut v = items.clone();
                v.sort_by_key(|s| (s.1, s.0));
                Scene::Shapes(v)
            }
            other => other.clone(),
        };
        assert_eq!(scene, expected, "seed {seed}");
        let q = g.sample.question_text();
        let a = answer_from(&q, &scene);
        assert_eq!(a, p.answer, "{q}");
        assert!(a >= 0);
        assert_eq!(
            g.sample.datasource.as_deref(),
            Some(format!("perce/level{level}").as_str())
        );
        if check_responses(&g, &p.answer.to_string()) {
            slipped += 1;
        }
    }
    assert_eq!(kinds.len(), 4);
    assert_eq!(slipped, SEEDS as usize);
}
