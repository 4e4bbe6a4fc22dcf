//! A minimal 2D vector in pitch units, `f32` like gfootball's observations.

use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};

/// A point or a displacement on the pitch (`x` along the length, `y` across; `y < 0` is the
/// "top" of the screen, as in gfootball).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vec2 {
    /// Along the pitch, −1 (left goal) to 1 (right goal).
    pub x: f32,
    /// Across the pitch, −0.42 (top touchline) to 0.42 (bottom touchline).
    pub y: f32,
}

impl Vec2 {
    /// The zero vector.
    pub const ZERO: Vec2 = Vec2 { x: 0.0, y: 0.0 };

    /// A vector from its coordinates.
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    /// Dot product.
    pub fn dot(self, o: Vec2) -> f32 {
        self.x * o.x + self.y * o.y
    }

    /// Squared Euclidean length.
    pub fn length_sq(self) -> f32 {
        self.dot(self)
    }

    /// Euclidean length.
    pub fn length(self) -> f32 {
        self.length_sq().sqrt()
    }

    /// Distance to another point.
    pub fn distance(self, o: Vec2) -> f32 {
        (self - o).length()
    }

    /// This vector scaled to length 1, or zero when it is (almost) zero.
    pub fn normalized(self) -> Vec2 {
        let l = self.length();
        if l > 1e-9 {
            self * (1.0 / l)
        } else {
            Vec2::ZERO
        }
    }

    /// This vector shortened to at most `max` long.
    pub fn clamp_length(self, max: f32) -> Vec2 {
        let l = self.length();
        if l > max && l > 0.0 {
            self * (max / l)
        } else {
            self
        }
    }

    /// As `[x, y]`, the layout of gfootball's raw observation.
    pub fn to_array(self) -> [f32; 2] {
        [self.x, self.y]
    }
}

/// Distance from point `p` to the segment `a`–`b` (to `a` when the segment is a point).
pub fn segment_distance(p: Vec2, a: Vec2, b: Vec2) -> f32 {
    let ab = b - a;
    let len_sq = ab.length_sq();
    if len_sq <= 1e-12 {
        return p.distance(a);
    }
    let t = ((p - a).dot(ab) / len_sq).clamp(0.0, 1.0);
    p.distance(a + ab * t)
}

impl Add for Vec2 {
    type Output = Vec2;
    fn add(self, o: Vec2) -> Vec2 {
        Vec2::new(self.x + o.x, self.y + o.y)
    }
}

impl Sub for Vec2 {
    type Output = Vec2;
    fn sub(self, o: Vec2) -> Vec2 {
        Vec2::new(self.x - o.x, self.y - o.y)
    }
}

impl Mul<f32> for Vec2 {
    type Output = Vec2;
    fn mul(self, k: f32) -> Vec2 {
        Vec2::new(self.x * k, self.y * k)
    }
}

impl Neg for Vec2 {
    type Output = Vec2;
    fn neg(self) -> Vec2 {
        Vec2::new(-self.x, -self.y)
    }
}

impl AddAssign for Vec2 {
    fn add_assign(&mut self, o: Vec2) {
        *self = *self + o;
    }
}

impl SubAssign for Vec2 {
    fn sub_assign(&mut self, o: Vec2) {
        *self = *self - o;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_distance_projects_inside_and_clamps_outside() {
        let a = Vec2::new(0.0, 0.0);
        let b = Vec2::new(1.0, 0.0);
        assert!((segment_distance(Vec2::new(0.5, 0.3), a, b) - 0.3).abs() < 1e-6);
        assert!((segment_distance(Vec2::new(-0.4, 0.3), a, b) - 0.5).abs() < 1e-6);
        assert!((segment_distance(Vec2::new(2.0, 0.0), a, a) - 2.0).abs() < 1e-6);
    }

    #[test]
    fn normalized_and_clamped_lengths() {
        assert_eq!(Vec2::ZERO.normalized(), Vec2::ZERO);
        assert!((Vec2::new(3.0, 4.0).normalized().length() - 1.0).abs() < 1e-6);
        assert!((Vec2::new(3.0, 4.0).clamp_length(1.0).length() - 1.0).abs() < 1e-6);
        assert_eq!(Vec2::new(0.1, 0.0).clamp_length(1.0), Vec2::new(0.1, 0.0));
    }
}
