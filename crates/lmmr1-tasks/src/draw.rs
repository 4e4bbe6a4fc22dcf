//! Minimal, deterministic raster drawing on [`image::RgbImage`] for the generated visual tasks:
//! an embedded 5×7 bitmap font drawn one character per grid cell (the 14-px patch grid of
//! Qwen2.5-VL's vision tower), filled rectangles, thick lines, circles, arcs and dots. No
//! anti-aliasing: every pixel is either the background or one of a few saturated colours.
//!
//! [`Canvas`] works in *logical* pixels (those of the default, scale-1 picture) and multiplies
//! by its `scale`, so the same figure renders at 224 px for the tiny policy and at 448 or
//! 672 px for real models.

use image::{Rgb, RgbImage};

/// The side of one text cell (one vision patch) in logical pixels.
pub const CELL: u32 = 14;

/// White.
pub const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
/// Black.
pub const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
/// Saturated red.
pub const RED: Rgb<u8> = Rgb([220, 0, 0]);
/// Saturated blue.
pub const BLUE: Rgb<u8> = Rgb([0, 0, 230]);
/// Saturated green.
pub const GREEN: Rgb<u8> = Rgb([0, 160, 0]);
/// Light grey (grid lines).
pub const GRID: Rgb<u8> = Rgb([200, 200, 200]);

/// The font: every drawable character with its 5×7 bitmap, one `u8` per row (top first), bit 4
/// the leftmost column.
pub const GLYPHS: &[(char, [u8; 7])] = &[
    (' ', [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
    ('0', [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E]),
    ('1', [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    ('2', [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F]),
    ('3', [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E]),
    ('4', [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02]),
    ('5', [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E]),
    ('6', [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E]),
    ('7', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08]),
    ('8', [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E]),
    ('9', [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C]),
    ('A', [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11]),
    ('B', [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E]),
    ('C', [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E]),
    ('D', [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C]),
    ('E', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F]),
    ('F', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10]),
    ('G', [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F]),
    ('H', [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]),
    ('I', [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    ('J', [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C]),
    ('K', [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11]),
    ('L', [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F]),
    ('M', [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11]),
    ('N', [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11]),
    ('O', [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]),
    ('P', [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10]),
    ('Q', [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D]),
    ('R', [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11]),
    ('S', [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E]),
    ('T', [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04]),
    ('U', [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]),
    ('V', [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04]),
    ('W', [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A]),
    ('X', [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11]),
    ('Y', [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04]),
    ('Z', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F]),
    ('a', [0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F]),
    ('b', [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E]),
    ('c', [0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E]),
    ('d', [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F]),
    ('e', [0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E]),
    ('f', [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08]),
    ('g', [0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E]),
    ('h', [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11]),
    ('i', [0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E]),
    ('j', [0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C]),
    ('k', [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12]),
    ('l', [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    ('m', [0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11]),
    ('n', [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11]),
    ('o', [0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E]),
    ('p', [0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10]),
    ('q', [0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01]),
    ('r', [0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10]),
    ('s', [0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E]),
    ('t', [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06]),
    ('u', [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D]),
    ('v', [0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04]),
    ('w', [0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A]),
    ('x', [0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11]),
    ('y', [0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E]),
    ('z', [0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F]),
    ('+', [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00]),
    ('-', [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00]),
    ('=', [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00]),
    ('×', [0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x00]),
    ('*', [0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00]),
    ('÷', [0x00, 0x04, 0x00, 0x1F, 0x00, 0x04, 0x00]),
    ('(', [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02]),
    (')', [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08]),
    ('?', [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04]),
    ('.', [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C]),
    (',', [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08]),
    (':', [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00]),
    ('/', [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00]),
    ('°', [0x0C, 0x12, 0x12, 0x0C, 0x00, 0x00, 0x00]),
    ('√', [0x07, 0x04, 0x04, 0x04, 0x14, 0x0C, 0x04]),
    ('π', [0x00, 0x00, 0x1F, 0x0A, 0x0A, 0x0A, 0x0A]),
    ('<', [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02]),
    ('>', [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08]),
    ('%', [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03]),
    ('!', [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04]),
    ('^', [0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00]),
    ('_', [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F]),
    ('[', [0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E]),
    (']', [0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E]),
    ('|', [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04]),
    ('∠', [0x00, 0x01, 0x02, 0x04, 0x08, 0x1F, 0x00]),
];

/// The 5×7 bitmap of `c`, `None` when the font lacks it.
pub fn glyph(c: char) -> Option<[u8; 7]> {
    GLYPHS.iter().find(|(g, _)| *g == c).map(|(_, b)| *b)
}

/// Sets one pixel when it lies inside the image.
pub fn put(img: &mut RgbImage, x: i64, y: i64, color: Rgb<u8>) {
    if x >= 0
        && y >= 0
        && (x as u64) < u64::from(img.width())
        && (y as u64) < u64::from(img.height())
    {
        img.put_pixel(x as u32, y as u32, color);
    }
}

/// Fills the rectangle `[x, x+w) × [y, y+h)` (clipped to the image).
pub fn fill_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, color: Rgb<u8>) {
    for yy in y..y + h {
        for xx in x..x + w {
            put(img, xx, yy, color);
        }
    }
}

/// A line from `(x0, y0)` to `(x1, y1)` (Bresenham), each point stamped as a `thickness`-px
/// square centred on it.
pub fn line(img: &mut RgbImage, p0: (i64, i64), p1: (i64, i64), thickness: i64, color: Rgb<u8>) {
    let (mut x, mut y) = p0;
    let (dx, dy) = ((p1.0 - x).abs(), -(p1.1 - y).abs());
    let (sx, sy) = (if x < p1.0 { 1 } else { -1 }, if y < p1.1 { 1 } else { -1 });
    let mut err = dx + dy;
    let t = thickness.max(1);
    let lo = -(t - 1) / 2;
    loop {
        fill_rect(img, x + lo, y + lo, t, t, color);
        if x == p1.0 && y == p1.1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

/// A disc of radius `r` centred on `(cx, cy)`: the pixels with `dx² + dy² <= r²`.
pub fn disc(img: &mut RgbImage, cx: i64, cy: i64, r: i64, color: Rgb<u8>) {
    for dy in -r..=r {
        for dx in -r..=r {
            if dx * dx + dy * dy <= r * r {
                put(img, cx + dx, cy + dy, color);
            }
        }
    }
}

/// A circle outline: the pixels with `(r - thickness)² < dx² + dy² <= r²`.
pub fn circle(img: &mut RgbImage, cx: i64, cy: i64, r: i64, thickness: i64, color: Rgb<u8>) {
    let inner = (r - thickness.max(1)).max(0);
    for dy in -r..=r {
        for dx in -r..=r {
            let d = dx * dx + dy * dy;
            if d <= r * r && d > inner * inner {
                put(img, cx + dx, cy + dy, color);
            }
        }
    }
}

/// An arc of radius `r` from `start_deg` to `end_deg` (counter-clockwise, 0° pointing right,
/// y pointing up as in a diagram), stamped every pixel of arc length.
pub fn arc(
    img: &mut RgbImage,
    (cx, cy): (i64, i64),
    r: i64,
    (start_deg, end_deg): (f64, f64),
    thickness: i64,
    color: Rgb<u8>,
) {
    let (a0, a1) = (start_deg.to_radians(), end_deg.to_radians());
    let steps = (((a1 - a0).abs() * r as f64).ceil() as i64).max(1) * 2;
    let t = thickness.max(1);
    let lo = -(t - 1) / 2;
    for i in 0..=steps {
        let a = a0 + (a1 - a0) * i as f64 / steps as f64;
        let x = cx + (r as f64 * a.cos()).round() as i64;
        let y = cy - (r as f64 * a.sin()).round() as i64;
        fill_rect(img, x + lo, y + lo, t, t, color);
    }
}

/// Draws `c` into the `size`-px square cell whose top-left pixel is `(x, y)`: the 5×7 bitmap
/// scaled by `size / 7` (14 px → 10×14), centred horizontally. Characters the font lacks draw
/// nothing.
pub fn char_in_cell(img: &mut RgbImage, x: i64, y: i64, size: i64, c: char, color: Rgb<u8>) {
    let Some(rows) = glyph(c) else { return };
    let s = (size / 7).max(1);
    let x0 = x + (size - 5 * s) / 2;
    let y0 = y + (size - 7 * s) / 2;
    for (r, bits) in rows.iter().enumerate() {
        for col in 0..5 {
            if bits >> (4 - col) & 1 == 1 {
                fill_rect(img, x0 + col * s, y0 + r as i64 * s, s, s, color);
            }
        }
    }
}

/// A white canvas measured in logical pixels (those of scale 1) and text cells of
/// [`CELL`] logical pixels; drawing calls take logical coordinates and are multiplied by
/// `scale`.
#[derive(Debug, Clone)]
pub struct Canvas {
    /// The picture drawn so far.
    pub img: RgbImage,
    /// Pixels per logical pixel.
    pub scale: u32,
    /// Cell runs `(col, row, len)` holding labels written by [`Canvas::label`].
    labels: Vec<(i64, i64, i64)>,
}

impl Canvas {
    /// A white canvas of `cols × rows` text cells (`14·cols·scale` px wide); `scale` ≥ 1.
    pub fn new(cols: u32, rows: u32, scale: u32) -> Self {
        let scale = scale.max(1);
        let img = RgbImage::from_pixel(cols * CELL * scale, rows * CELL * scale, WHITE);
        Self {
            img,
            scale,
            labels: Vec::new(),
        }
    }

    /// Width in cells.
    pub fn cols(&self) -> u32 {
        self.img.width() / (CELL * self.scale)
    }

    /// Height in cells.
    pub fn rows(&self) -> u32 {
        self.img.height() / (CELL * self.scale)
    }

    fn px(&self, v: f64) -> i64 {
        (v * f64::from(self.scale)).round() as i64
    }

    /// Writes `text` one character per cell, starting at cell `(col, row)`.
    pub fn text(&mut self, col: i64, row: i64, text: &str, color: Rgb<u8>) {
        let size = i64::from(CELL * self.scale);
        for (i, c) in text.chars().enumerate() {
            char_in_cell(
                &mut self.img,
                (col + i as i64) * size,
                row * size,
                size,
                c,
                color,
            );
        }
    }

    /// Fills a rectangle given in logical pixels.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb<u8>) {
        let (x0, y0, x1, y1) = (self.px(x), self.px(y), self.px(x + w), self.px(y + h));
        fill_rect(&mut self.img, x0, y0, x1 - x0, y1 - y0, color);
    }

    /// A line of `thickness` logical pixels.
    pub fn line(&mut self, p0: (f64, f64), p1: (f64, f64), thickness: f64, color: Rgb<u8>) {
        let a = (self.px(p0.0), self.px(p0.1));
        let b = (self.px(p1.0), self.px(p1.1));
        let t = self.px(thickness).max(1);
        line(&mut self.img, a, b, t, color);
    }

    /// A circle outline.
    pub fn circle(&mut self, c: (f64, f64), r: f64, thickness: f64, color: Rgb<u8>) {
        let t = self.px(thickness).max(1);
        let (x, y, r) = (self.px(c.0), self.px(c.1), self.px(r));
        circle(&mut self.img, x, y, r, t, color);
    }

    /// A filled disc (also a dot).
    pub fn disc(&mut self, c: (f64, f64), r: f64, color: Rgb<u8>) {
        let (x, y, r) = (self.px(c.0), self.px(c.1), self.px(r));
        disc(&mut self.img, x, y, r, color);
    }

    /// An angle mark: an arc of radius `r` from `start_deg` to `end_deg` (counter-clockwise).
    pub fn arc(
        &mut self,
        c: (f64, f64),
        r: f64,
        degrees: (f64, f64),
        thickness: f64,
        color: Rgb<u8>,
    ) {
        let t = self.px(thickness).max(1);
        let centre = (self.px(c.0), self.px(c.1));
        let r = self.px(r);
        arc(&mut self.img, centre, r, degrees, t, color);
    }

    /// How many non-white pixels the cells `(col..col+len, row)` hold.
    pub fn ink_in_cells(&self, col: i64, row: i64, len: i64) -> usize {
        let size = i64::from(CELL * self.scale);
        let mut n = 0;
        for y in row * size..(row + 1) * size {
            for x in col * size..(col + len) * size {
                if x >= 0
                    && y >= 0
                    && x < i64::from(self.img.width())
                    && y < i64::from(self.img.height())
                    && *self.img.get_pixel(x as u32, y as u32) != WHITE
                {
                    n += 1;
                }
            }
        }
        n
    }

    /// Writes `text` in the run of cells nearest to the logical point `near` (the run's centre)
    /// that holds no ink, lies inside the canvas and keeps a free cell around earlier labels
    /// (the least-inked one when none is empty within reach); returns the run's `(col, row)`.
    pub fn label(&mut self, near: (f64, f64), text: &str, color: Rgb<u8>) -> (i64, i64) {
        let len = text.chars().count() as i64;
        let cell = f64::from(CELL);
        let (cols, rows) = (i64::from(self.cols()), i64::from(self.rows()));
        // Preference: an empty run first, then the least ink; the nearest among equals.
        let mut best: Option<((usize, i64), i64, i64)> = None;
        for row in 0..rows {
            for col in 0..=(cols - len).max(0) {
                let cx = (col as f64 + len as f64 / 2.0) * cell;
                let cy = (row as f64 + 0.5) * cell;
                let d = (cx - near.0).hypot(cy - near.1);
                if d > 3.5 * cell {
                    continue;
                }
                // Never touching another label (one free cell between, also diagonally).
                let touches = self
                    .labels
                    .iter()
                    .any(|&(c, r, l)| (row - r).abs() <= 1 && col <= c + l && c <= col + len);
                if touches {
                    continue;
                }
                let key = (self.ink_in_cells(col, row, len), (d * 1000.0) as i64);
                if best.is_none_or(|(k, _, _)| key < k) {
                    best = Some((key, col, row));
                }
            }
        }
        let (col, row) = match best {
            Some((_, c, r)) => (c, r),
            None => (
                ((near.0 / cell) as i64).clamp(0, (cols - len).max(0)),
                ((near.1 / cell) as i64).clamp(0, rows - 1),
            ),
        };
        self.text(col, row, text, color);
        self.labels.push((col, row, len));
        (col, row)
    }

    /// The finished picture.
    pub fn into_image(self) -> RgbImage {
        self.img
    }
}
