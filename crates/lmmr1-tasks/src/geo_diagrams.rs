//! Geometry diagrams with labelled values and exact answers, Geometry3K / GeoQA style, sized for
//! a tiny policy: a 224×224 picture (64 LM tokens) at scale 1, labels in the 5×7 font snapped
//! to the 14-px grid, a short question ("Find x.").
//!
//! | level | kinds |
//! |---|---|
//! | 1 | third angle of a triangle, supplementary angle, equal angles at parallel lines, rectangle perimeter / area (sides ≤ 9), circle diameter |
//! | 2 | the same with any multiples of 5, co-interior angles, isosceles base angle (integer), rectangle area (sides ≤ 12), hypotenuse of a Pythagorean triple |
//! | 3 | hypotenuse `\sqrt{13}` / `2\sqrt{5}`, circumference `6\pi`, circle area `9\pi`, isosceles base angle `\frac{133}{2}` |
//!
//! Angles are stored as the bare number (Geometry3K's convention). About a quarter of the
//! items are multiple choice: the options follow the question (`A. 30 B. 40 C. 50 D. 60`),
//! [`Sample::choices`] holds them and the gold is the letter (answered `$B$`, which LMM-R1's
//! reward accepts). The slipped teacher writes the answer's leading number +10 (or, for
//! multiple choice, the letter of that option, which is always one of the four).

use crate::draw::{Canvas, BLACK, BLUE};
use crate::rng::SplitMix64;
use crate::sample::Picture;
use crate::task::Generated;

/// The highest level.
pub const MAX_LEVEL: u8 = 3;

/// The side of the default picture in text cells (16 × 14 px = 224 px at scale 1).
pub const GRID_CELLS: u32 = 16;

/// The kind of a diagram; `params` of [`Figure`] are listed per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeoKind {
    /// Third angle of a triangle; params `[a, b]`, the two labelled angles.
    TriangleAngle,
    /// An angle on a straight line next to a labelled one; params `[a]`.
    Supplementary,
    /// Two parallel lines cut by a transversal; params `[t, r1, r2]`: the transversal's angle
    /// `t` to the lines (degrees, counter-clockwise), the region `r1` of the labelled angle at
    /// the upper crossing and `r2` of `x` at the lower one (0 upper right, 1 upper left, 2 lower
    /// left, 3 lower right).
    Parallel,
    /// Rectangle area; params `[w, h]`.
    RectangleArea,
    /// Rectangle perimeter; params `[w, h]`.
    RectanglePerimeter,
    /// Circle diameter from the radius; params `[r]`.
    CircleDiameter,
    /// Circle circumference from the radius (a multiple of π); params `[r]`.
    CircleCircumference,
    /// Circle area from the radius (a multiple of π); params `[r]`.
    CircleArea,
    /// Hypotenuse of a right triangle; params `[a, b]`, the legs.
    Hypotenuse,
    /// Base angle of an isosceles triangle; params `[apex]`.
    IsoscelesBase,
}

/// One generated diagram's parameters, question and exact answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// What is drawn.
    pub kind: GeoKind,
    /// The numbers that define it (see [`GeoKind`]).
    pub params: Vec<i64>,
    /// The question text (without choices).
    pub question: String,
    /// The exact answer: integer, `\frac{p}{q}`, `k\pi` or `c\sqrt{n}`.
    pub answer: String,
    /// Short worked steps.
    pub solution: String,
    /// The level it was drawn for.
    pub level: u8,
}

/// One geometry item at scale 1 (224×224 px).
///
/// ```
/// use lmmr1_tasks::{geo_diagrams, rng::SplitMix64};
/// let g = geo_diagrams::generate(1, &mut SplitMix64::new(3));
/// assert_eq!(g.sample.datasource.as_deref(), Some("geo/level1"));
/// ```
pub fn generate(level: u8, rng: &mut SplitMix64) -> Generated {
    generate_figure(level, 1, rng).1
}

/// One geometry item drawn at `scale` (224·scale px square), with its [`Figure`].
pub fn generate_figure(level: u8, scale: u32, rng: &mut SplitMix64) -> (Figure, Generated) {
    let id = format!("geo-l{level}-{:016x}", rng.state());
    let fig = figure(level, rng);
    let picture = Picture::from_rgb_image(render(&fig, scale));
    let generated = Generated::picture_question(
        id,
        picture,
        (&fig.question, &fig.solution, &fig.answer),
        rng,
        format!("geo/level{}", fig.level),
    );
    (fig, generated)
}

/// The parameters, question and answer of one diagram of `level` (clamped to 1..=3).
pub fn figure(level: u8, rng: &mut SplitMix64) -> Figure {
    let level = level.clamp(1, MAX_LEVEL);
    let kinds: &[GeoKind] = match level {
        1 => &[
            GeoKind::TriangleAngle,
            GeoKind::Supplementary,
            GeoKind::Parallel,
            GeoKind::RectangleArea,
            GeoKind::RectanglePerimeter,
            GeoKind::CircleDiameter,
        ],
        2 => &[
            GeoKind::TriangleAngle,
            GeoKind::Supplementary,
            GeoKind::Parallel,
            GeoKind::IsoscelesBase,
            GeoKind::RectangleArea,
            GeoKind::Hypotenuse,
        ],
        _ => &[
            GeoKind::Hypotenuse,
            GeoKind::CircleCircumference,
            GeoKind::CircleArea,
            GeoKind::IsoscelesBase,
        ],
    };
    let kind = kinds[rng.below(kinds.len() as u64) as usize];
    let step = if level == 1 { 10 } else { 5 };
    let multiple = |rng: &mut SplitMix64, lo: i64, hi: i64| rng.range(lo / step, hi / step) * step;
    let find_x = "Find x.".to_string();
    let (params, question, answer, solution) = match kind {
        GeoKind::TriangleAngle => {
            let a = multiple(rng, 30, 80);
            let b = multiple(rng, 30, 150 - a);
            let c = 180 - a - b;
            (
                vec![a, b],
                find_x,
                c.to_string(),
                format!("180-{a}-{b}={c}"),
            )
        }
        GeoKind::Supplementary => {
            let a = multiple(rng, 30, 150);
            (
                vec![a],
                find_x,
                (180 - a).to_string(),
                format!("180-{a}={}", 180 - a),
            )
        }
        GeoKind::Parallel => {
            // 40..=75 or 105..=140: clearly slanted, the crossings stay on the canvas.
            let mut t = multiple(rng, 40, 110);
            if t > 75 {
                t += 30;
            }
            let r1 = rng.below(4) as i64;
            // Equal partners of the upper region: same region (corresponding), the opposite
            // region (alternate / vertical across the lines); level 2 adds the supplements.
            let equal = [r1, (r1 + 2) % 4];
            let r2 = if level == 1 || rng.coin() {
                equal[rng.below(2) as usize]
            } else {
                (r1 + 1 + 2 * rng.below(2) as i64) % 4
            };
            let v1 = region_angle(t, r1);
            let v2 = region_angle(t, r2);
            let solution = if v1 == v2 {
                format!("x={v2}")
            } else {
                format!("x=180-{v1}={v2}")
            };
            (vec![t, r1, r2], find_x, v2.to_string(), solution)
        }
        GeoKind::RectangleArea => {
            let hi = if level == 1 { 9 } else { 12 };
            let (w, h) = (rng.range(2, hi), rng.range(2, hi));
            (
                vec![w, h],
                "Find the area.".into(),
                (w * h).to_string(),
                format!("{w}*{h}={}", w * h),
            )
        }
        GeoKind::RectanglePerimeter => {
            let (w, h) = (rng.range(2, 9), rng.range(2, 9));
            (
                vec![w, h],
                "Find the perimeter.".into(),
                (2 * (w + h)).to_string(),
                format!("2*({w}+{h})=2*{}={}", w + h, 2 * (w + h)),
            )
        }
        GeoKind::CircleDiameter => {
            let r = rng.range(2, 9);
            (
                vec![r],
                "Find the diameter.".into(),
                (2 * r).to_string(),
                format!("2*{r}={}", 2 * r),
            )
        }
        GeoKind::CircleCircumference => {
            let r = rng.range(2, 9);
            (
                vec![r],
                "Find the circumference.".into(),
                format!("{}\\pi", 2 * r),
                format!("2*{r}\\pi={}\\pi", 2 * r),
            )
        }
        GeoKind::CircleArea => {
            let r = rng.range(2, 9);
            (
                vec![r],
                "Find the area.".into(),
                format!("{}\\pi", r * r),
                format!("{r}*{r}\\pi={}\\pi", r * r),
            )
        }
        GeoKind::Hypotenuse => {
            let (a, b) = if level == 2 {
                const TRIPLES: [(i64, i64); 6] = [(3, 4), (6, 8), (5, 12), (8, 6), (4, 3), (9, 12)];
                TRIPLES[rng.below(TRIPLES.len() as u64) as usize]
            } else {
                loop {
                    let (a, b) = (rng.range(1, 7), rng.range(1, 7));
                    if integer_sqrt(a * a + b * b).is_none() {
                        break (a, b);
                    }
                }
            };
            let s = a * a + b * b;
            let head = format!("x^2={a}^2+{b}^2={}+{}={s}", a * a, b * b);
            let (answer, tail) = match integer_sqrt(s) {
                Some(c) => (c.to_string(), format!("x={c}")),
                None => {
                    let (c, m) = split_square(s);
                    if c == 1 {
                        (format!("\\sqrt{{{m}}}"), format!("x=\\sqrt{{{s}}}"))
                    } else {
                        (
                            format!("{c}\\sqrt{{{m}}}"),
                            format!("x=\\sqrt{{{s}}}={c}\\sqrt{{{m}}}"),
                        )
                    }
                }
            };
            (vec![a, b], find_x, answer, format!("{head},{tail}"))
        }
        GeoKind::IsoscelesBase => {
            // Level 2: an even apex (integer base angle); level 3: an odd one (a half).
            let apex = if level == 2 {
                2 * rng.range(15, 60)
            } else {
                2 * rng.range(15, 60) + 1
            };
            let d = 180 - apex;
            let answer = crate::generator::latex_fraction(d, 2);
            let solution = if d % 2 == 0 {
                format!("(180-{apex})/2={d}/2={}", d / 2)
            } else {
                format!("(180-{apex})/2={d}/2")
            };
            (vec![apex], find_x, answer, solution)
        }
    };
    Figure {
        kind,
        params,
        question,
        answer,
        solution,
        level,
    }
}

/// The angle of region `r` (0 upper right … 3 lower right) at a crossing of a horizontal line
/// and a transversal at `t` degrees.
fn region_angle(t: i64, r: i64) -> i64 {
    if r % 2 == 0 {
        t
    } else {
        180 - t
    }
}

fn integer_sqrt(n: i64) -> Option<i64> {
    let r = (n as f64).sqrt().round() as i64;
    (r * r == n).then_some(r)
}

/// `n = c²·m` with `m` square-free.
fn split_square(n: i64) -> (i64, i64) {
    let mut c = 1;
    let mut m = n;
    let mut k = 2;
    while k * k <= m {
        while m % (k * k) == 0 {
            m /= k * k;
            c *= k;
        }
        k += 1;
    }
    (c, m)
}

type P = (f64, f64);

fn add(a: P, b: P) -> P {
    (a.0 + b.0, a.1 + b.1)
}

fn sub(a: P, b: P) -> P {
    (a.0 - b.0, a.1 - b.1)
}

fn mul(a: P, k: f64) -> P {
    (a.0 * k, a.1 * k)
}

fn unit(a: P) -> P {
    let n = a.0.hypot(a.1).max(1e-9);
    (a.0 / n, a.1 / n)
}

/// Direction of `v` in degrees, counter-clockwise with y pointing up (canvas y points down).
fn heading(v: P) -> f64 {
    (-v.1).atan2(v.0).to_degrees()
}

/// Points given with y up, fitted into the canvas (224 logical px) with a margin.
fn fit(points: &[P], margin: f64) -> Vec<P> {
    let side = f64::from(GRID_CELLS * crate::draw::CELL);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in points {
        x0 = x0.min(p.0);
        x1 = x1.max(p.0);
        y0 = y0.min(p.1);
        y1 = y1.max(p.1);
    }
    let avail = side - 2.0 * margin;
    let k = (avail / (x1 - x0).max(1e-9)).min(avail / (y1 - y0).max(1e-9));
    let (ox, oy) = ((side - k * (x1 - x0)) / 2.0, (side - k * (y1 - y0)) / 2.0);
    points
        .iter()
        .map(|p| (ox + k * (p.0 - x0), side - oy - k * (p.1 - y0)))
        .collect()
}

/// The interior angle at `v` between rays to `a` and `b`: an arc mark and a label on the
/// bisector.
fn mark_angle(c: &mut Canvas, v: P, a: P, b: P, label: &str) {
    let (h1, h2) = (heading(sub(a, v)), heading(sub(b, v)));
    let sweep = (h2 - h1).rem_euclid(360.0);
    let (start, sweep) = if sweep > 180.0 {
        (h2, 360.0 - sweep)
    } else {
        (h1, sweep)
    };
    c.arc(v, 12.0, (start, start + sweep), 1.0, BLUE);
    let bis = unit(add(unit(sub(a, v)), unit(sub(b, v))));
    let dist = if sweep < 50.0 { 40.0 } else { 28.0 };
    c.label(add(v, mul(bis, dist)), label, BLACK);
}

fn degrees(v: i64) -> String {
    format!("{v}°")
}

/// Draws `fig` at `scale` (224·scale px square).
pub fn render(fig: &Figure, scale: u32) -> image::RgbImage {
    let mut c = Canvas::new(GRID_CELLS, GRID_CELLS, scale);
    let p = |i: usize| fig.params.get(i).copied().unwrap_or(0);
    let w = 2.0;
    match fig.kind {
        GeoKind::TriangleAngle | GeoKind::IsoscelesBase => {
            let (a, b, labels) = if fig.kind == GeoKind::TriangleAngle {
                (p(0), p(1), [degrees(p(0)), degrees(p(1))])
            } else {
                let base = (180 - p(0)) as f64 / 2.0;
                (
                    base.round() as i64,
                    base.round() as i64,
                    ["x°".into(), String::new()],
                )
            };
            let (ar, br) = ((a as f64).to_radians(), (b as f64).to_radians());
            let t = br.sin() / (ar + br).sin();
            let pts = fit(
                &[(0.0, 0.0), (1.0, 0.0), (t * ar.cos(), t * ar.sin())],
                36.0,
            );
            let (pp, q, r) = (pts[0], pts[1], pts[2]);
            for (u, v) in [(pp, q), (q, r), (r, pp)] {
                c.line(u, v, w, BLACK);
            }
            if fig.kind == GeoKind::TriangleAngle {
                mark_angle(&mut c, pp, q, r, &labels[0]);
                mark_angle(&mut c, q, r, pp, &labels[1]);
                mark_angle(&mut c, r, pp, q, "x°");
            } else {
                // Tick marks on the two equal sides.
                for (u, v) in [(pp, r), (q, r)] {
                    let m = mul(add(u, v), 0.5);
                    let n = unit((-(v.1 - u.1), v.0 - u.0));
                    c.line(sub(m, mul(n, 5.0)), add(m, mul(n, 5.0)), w, BLACK);
                }
                mark_angle(&mut c, r, pp, q, &degrees(p(0)));
                mark_angle(&mut c, pp, q, r, &labels[0]);
            }
        }
        GeoKind::Supplementary => {
            let a = p(0);
            let o = (112.0, 140.0);
            c.line((14.0, 140.0), (210.0, 140.0), w, BLACK);
            let t = (a as f64).to_radians();
            let end = add(o, (90.0 * t.cos(), -90.0 * t.sin()));
            c.line(o, end, w, BLACK);
            c.disc(o, 2.5, BLACK);
            mark_angle(&mut c, o, (210.0, 140.0), end, &degrees(a));
            mark_angle(&mut c, o, end, (14.0, 140.0), "x°");
        }
        GeoKind::Parallel => {
            let (t, r1, r2) = (p(0), p(1), p(2));
            let tr = (t as f64).to_radians();
            let d = (tr.cos(), -tr.sin());
            let half = 42.0 / tr.tan();
            let i1 = (112.0 + half, 70.0);
            let i2 = (112.0 - half, 154.0);
            for y in [70.0, 154.0] {
                c.line((10.0, y), (214.0, y), w, BLACK);
            }
            c.line(sub(i2, mul(d, 40.0)), add(i1, mul(d, 40.0)), w, BLACK);
            let rays = |i: P| {
                [
                    add(i, (30.0, 0.0)),
                    add(i, mul(d, 30.0)),
                    add(i, (-30.0, 0.0)),
                    sub(i, mul(d, 30.0)),
                ]
            };
            for (i, r, label) in [
                (i1, r1, degrees(region_angle(t, r1))),
                (i2, r2, "x°".into()),
            ] {
                let ray = rays(i);
                let k = r.rem_euclid(4) as usize;
                mark_angle(&mut c, i, ray[k], ray[(k + 1) % 4], &label);
            }
        }
        GeoKind::RectangleArea | GeoKind::RectanglePerimeter => {
            let (rw, rh) = (p(0) as f64, p(1) as f64);
            let k = (140.0 / rw).min(112.0 / rh);
            let (x0, y0) = (112.0 - k * rw / 2.0, 105.0 - k * rh / 2.0);
            let (x1, y1) = (x0 + k * rw, y0 + k * rh);
            for (u, v) in [
                ((x0, y0), (x1, y0)),
                ((x1, y0), (x1, y1)),
                ((x1, y1), (x0, y1)),
                ((x0, y1), (x0, y0)),
            ] {
                c.line(u, v, w, BLACK);
            }
            c.label(((x0 + x1) / 2.0, y1 + 14.0), &p(0).to_string(), BLACK);
            c.label(
                (
                    x1 + 14.0 + 7.0 * (p(1) >= 10) as i64 as f64,
                    (y0 + y1) / 2.0,
                ),
                &p(1).to_string(),
                BLACK,
            );
        }
        GeoKind::CircleDiameter | GeoKind::CircleCircumference | GeoKind::CircleArea => {
            let o = (112.0, 112.0);
            c.circle(o, 70.0, w, BLACK);
            c.disc(o, 2.5, BLACK);
            c.line(o, (182.0, 112.0), w, BLACK);
            c.label((147.0, 98.0), &p(0).to_string(), BLACK);
        }
        GeoKind::Hypotenuse => {
            let (a, b) = (p(0) as f64, p(1) as f64);
            let pts = fit(&[(0.0, 0.0), (a, 0.0), (0.0, b)], 42.0);
            let (o, pa, pb) = (pts[0], pts[1], pts[2]);
            for (u, v) in [(o, pa), (pa, pb), (pb, o)] {
                c.line(u, v, w, BLACK);
            }
            // The right-angle square.
            c.line((o.0 + 10.0, o.1), (o.0 + 10.0, o.1 - 10.0), 1.0, BLACK);
            c.line((o.0, o.1 - 10.0), (o.0 + 10.0, o.1 - 10.0), 1.0, BLACK);
            c.label(((o.0 + pa.0) / 2.0, o.1 + 14.0), &p(0).to_string(), BLACK);
            c.label((o.0 - 14.0, (o.1 + pb.1) / 2.0), &p(1).to_string(), BLACK);
            let m = mul(add(pa, pb), 0.5);
            let n = unit((pb.1 - pa.1, -(pb.0 - pa.0)));
            let out = if n.0 - n.1 > 0.0 { n } else { mul(n, -1.0) };
            c.label(add(m, mul(out, 16.0)), "x", BLACK);
        }
    }
    c.into_image()
}
