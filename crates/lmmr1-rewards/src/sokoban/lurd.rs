//! LURD move strings: `l`/`u`/`r`/`d` per move (upper case marks a push), with run-length
//! counts (`3r` = `rrr`) and repeated groups (`2(dlu)` = `dludlu`).

use super::env::Direction;

/// Longest expansion [`parse_lurd`] accepts, so that a short string like `999999999r` cannot
/// exhaust memory.
pub const MAX_LURD_MOVES: usize = 1 << 20;

/// Groups may nest at most this deep.
const MAX_DEPTH: usize = 32;

/// Why a LURD string could not be read. Positions are 0-based character offsets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LurdError {
    /// A character other than `lurdLURD`, digits, parentheses and whitespace.
    #[error("position {pos}: unexpected character {ch:?} in a LURD string")]
    UnknownChar {
        /// Offset of the character.
        pos: usize,
        /// The character.
        ch: char,
    },
    /// A `(` without its `)`, a `)` without its `(`, or groups nested too deep.
    #[error("position {pos}: unbalanced or too deeply nested parenthesis")]
    Parenthesis {
        /// Offset of the offending parenthesis or of the end of the text.
        pos: usize,
    },
    /// A count not followed by a move or a group.
    #[error("position {pos}: a count must be followed by a move or a group")]
    DanglingCount {
        /// Offset just after the count.
        pos: usize,
    },
    /// The expansion would exceed [`MAX_LURD_MOVES`].
    #[error("the moves expand to more than {MAX_LURD_MOVES}")]
    TooLong,
}

/// Expands a (run-length) LURD string into moves; case and whitespace are ignored.
///
/// ```
/// use lmmr1_rewards::sokoban::{parse_lurd, to_lurd};
///
/// assert_eq!(to_lurd(&parse_lurd("3r2(dlU)")?), "rrrdludlu");
/// assert!(parse_lurd("2(lr").is_err());
/// # Ok::<(), lmmr1_rewards::sokoban::LurdError>(())
/// ```
pub fn parse_lurd(text: &str) -> Result<Vec<Direction>, LurdError> {
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Parser { chars, pos: 0 };
    let moves = parser.sequence(0)?;
    match parser.peek() {
        None => Ok(moves),
        Some(_) => Err(LurdError::Parenthesis { pos: parser.pos }),
    }
}

/// Writes moves as a lower-case LURD string without run-length compression.
pub fn to_lurd(moves: &[Direction]) -> String {
    moves
        .iter()
        .map(|d| match d {
            Direction::Left => 'l',
            Direction::Up => 'u',
            Direction::Right => 'r',
            Direction::Down => 'd',
        })
        .collect()
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    /// The next non-whitespace character, without consuming it.
    fn peek(&mut self) -> Option<char> {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
        self.chars.get(self.pos).copied()
    }

    /// Items up to the end of the text or an unconsumed `)`.
    fn sequence(&mut self, depth: usize) -> Result<Vec<Direction>, LurdError> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            if c == ')' {
                break;
            }
            let mut count = 1usize;
            if c.is_ascii_digit() {
                count = 0;
                while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
                    count = count.saturating_mul(10).saturating_add(d as usize);
                    self.pos += 1;
                }
            }
            let item = match self.peek() {
                Some('(') => {
                    let open = self.pos;
                    if depth >= MAX_DEPTH {
                        return Err(LurdError::Parenthesis { pos: open });
                    }
                    self.pos += 1;
                    let inner = self.sequence(depth + 1)?;
                    if self.peek() != Some(')') {
                        return Err(LurdError::Parenthesis { pos: self.pos });
                    }
                    self.pos += 1;
                    inner
                }
                Some(c) => {
                    let d = match c.to_ascii_lowercase() {
                        'l' => Direction::Left,
                        'u' => Direction::Up,
                        'r' => Direction::Right,
                        'd' => Direction::Down,
                        _ if c.is_ascii_digit() || c == ')' => {
                            return Err(LurdError::DanglingCount { pos: self.pos })
                        }
                        _ => {
                            return Err(LurdError::UnknownChar {
                                pos: self.pos,
                                ch: c,
                            })
                        }
                    };
                    self.pos += 1;
                    vec![d]
                }
                None => return Err(LurdError::DanglingCount { pos: self.pos }),
            };
            let total = item
                .len()
                .checked_mul(count)
                .and_then(|n| n.checked_add(out.len()))
                .filter(|&n| n <= MAX_LURD_MOVES)
                .ok_or(LurdError::TooLong)?;
            out.reserve(total - out.len());
            for _ in 0..count {
                out.extend_from_slice(&item);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lurd(s: &str) -> Result<String, LurdError> {
        parse_lurd(s).map(|m| to_lurd(&m))
    }

    #[test]
    fn expands_counts_groups_and_nesting() {
        assert_eq!(lurd("dlu3rd").unwrap(), "dlurrrd");
        assert_eq!(lurd("2(dlu)").unwrap(), "dludlu");
        assert_eq!(lurd("2(l2(ur))D").unwrap(), "lururlururd");
        assert_eq!(
            lurd("LuRd\n 12l").unwrap(),
            "lurd".to_owned() + &"l".repeat(12)
        );
        assert_eq!(lurd("").unwrap(), "");
        assert_eq!(lurd("0r").unwrap(), "");
    }

    #[test]
    fn errors_are_positioned_and_bounded() {
        assert_eq!(lurd("lx"), Err(LurdError::UnknownChar { pos: 1, ch: 'x' }));
        assert_eq!(lurd("2(lr"), Err(LurdError::Parenthesis { pos: 4 }));
        assert_eq!(lurd("lr)"), Err(LurdError::Parenthesis { pos: 2 }));
        assert_eq!(lurd("3"), Err(LurdError::DanglingCount { pos: 1 }));
        assert_eq!(lurd("(3)"), Err(LurdError::DanglingCount { pos: 2 }));
        assert_eq!(lurd("99999999999999999999999r"), Err(LurdError::TooLong));
        assert_eq!(lurd("1000(1000(2l))"), Err(LurdError::TooLong));
        let deep = "(".repeat(100) + "l" + &")".repeat(100);
        assert!(matches!(lurd(&deep), Err(LurdError::Parenthesis { .. })));
    }
}
