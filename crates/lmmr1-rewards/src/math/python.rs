//! A tiny parser for the plain arithmetic that Math-Verify hands to sympy's `parse_expr`
//! (numbers, `+ - * / ** ^ ( )`): the expressions matched in plain text such as `1/2` or
//! `(9+1)*3`. Anything else (juxtaposition, `×`, `÷`, letters) is not an expression.

use super::expr::Expr;
use super::latex::number;

/// Parses a plain arithmetic expression; `None` when it is not valid Python arithmetic.
pub fn parse(src: &str) -> Option<Expr> {
    let toks = lex(src)?;
    let mut p = P {
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.sum()?;
    (p.pos == p.toks.len()).then_some(e)
}

#[derive(Debug, Clone, PartialEq)]
enum T {
    Num(String),
    Op(char),
    Pow,
}

fn lex(s: &str) -> Option<Vec<T>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'0'..=b'9' | b'.' => {
                let st = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i < b.len() && b[i] == b'.' {
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                let text = &s[st..i];
                if text == "." || i - st > 400 {
                    return None;
                }
                // Python rejects leading zeros in integer literals such as `01`.
                if text.len() > 1
                    && text.starts_with('0')
                    && !text.contains('.')
                    && text.bytes().any(|d| d != b'0')
                {
                    return None;
                }
                out.push(T::Num(text.to_string()));
            }
            b'*' if b.get(i + 1) == Some(&b'*') => {
                out.push(T::Pow);
                i += 2;
            }
            b'^' => {
                out.push(T::Pow);
                i += 1;
            }
            b'+' | b'-' | b'*' | b'/' | b'(' | b')' => {
                out.push(T::Op(c as char));
                i += 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

struct P {
    toks: Vec<T>,
    pos: usize,
    depth: usize,
}

impl P {
    fn peek(&self) -> Option<&T> {
        self.toks.get(self.pos)
    }
    fn eat(&mut self, t: T) -> bool {
        if self.peek() == Some(&t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn sum(&mut self) -> Option<Expr> {
        self.depth += 1;
        if self.depth > 64 {
            return None;
        }
        let mut terms = vec![self.term()?];
        loop {
            if self.eat(T::Op('+')) {
                terms.push(self.term()?);
            } else if self.eat(T::Op('-')) {
                terms.push(Expr::negated(self.term()?));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Some(if terms.len() == 1 {
            terms.pop()?
        } else {
            Expr::Add(terms)
        })
    }
    fn term(&mut self) -> Option<Expr> {
        let mut f = vec![self.unary()?];
        loop {
            if self.eat(T::Op('*')) {
                f.push(self.unary()?);
            } else if self.eat(T::Op('/')) {
                f.push(Expr::recip(self.unary()?));
            } else {
                break;
            }
        }
        Some(if f.len() == 1 { f.pop()? } else { Expr::Mul(f) })
    }
    fn unary(&mut self) -> Option<Expr> {
        self.depth += 1;
        if self.depth > 64 {
            return None;
        }
        let e = if self.eat(T::Op('-')) {
            Expr::negated(self.unary()?)
        } else if self.eat(T::Op('+')) {
            self.unary()?
        } else {
            self.power()?
        };
        self.depth -= 1;
        Some(e)
    }
    fn power(&mut self) -> Option<Expr> {
        let base = self.atom()?;
        if self.eat(T::Pow) {
            // Right-associative, binds tighter than unary minus on its left.
            let exp = self.unary()?;
            return Some(Expr::Pow(Box::new(base), Box::new(exp)));
        }
        Some(base)
    }
    fn atom(&mut self) -> Option<Expr> {
        match self.toks.get(self.pos).cloned()? {
            T::Num(n) => {
                self.pos += 1;
                number(&n).ok()
            }
            T::Op('(') => {
                self.pos += 1;
                let e = self.sum()?;
                self.eat(T::Op(')')).then_some(e)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn arithmetic() {
        assert!(parse("1/2").is_some());
        assert!(parse("(9+1)*3").is_some());
        assert!(parse("2**3^2").is_some());
        assert!(parse("2(3)").is_none());
        assert!(parse("1 2").is_none());
        assert!(parse("3×4").is_none());
        assert!(parse("(1+2").is_none());
    }
}
